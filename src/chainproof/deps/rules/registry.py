"""Every rule a scan runs, in order. A rule module adds itself here when it is ready."""

from __future__ import annotations

from chainproof.deps.advisories.match import advisory_rule
from chainproof.deps.rules.base import Rule
from chainproof.deps.rules.code import binary_rules, code_rules
from chainproof.deps.rules.hooks import hook_rules
from chainproof.deps.rules.integrity import INTEGRITY_RULES, check_installed_record
from chainproof.deps.rules.names import name_rule

RULES: list[Rule] = []
RULES.append(advisory_rule)
RULES.append(name_rule)
RULES.extend(INTEGRITY_RULES)
RULES.append(hook_rules)
RULES.append(code_rules)
RULES.append(binary_rules)

BESIDE: frozenset[Rule] = frozenset({check_installed_record})
"""Rules that only read and hash: run in a child process beside the others, so an environment's
files are hashed while its code is analysed."""
