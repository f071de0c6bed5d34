"""Every rule a scan runs, in order. A rule module adds itself here when it is ready."""

from __future__ import annotations

from chainproof.deps.advisories.match import advisory_rule
from chainproof.deps.rules.base import Rule
from chainproof.deps.rules.code import binary_rules, code_rules
from chainproof.deps.rules.hooks import hook_rules
from chainproof.deps.rules.integrity import INTEGRITY_RULES
from chainproof.deps.rules.names import name_rule

RULES: list[Rule] = []
RULES.append(advisory_rule)
RULES.append(name_rule)
RULES.extend(INTEGRITY_RULES)
RULES.append(hook_rules)
RULES.append(code_rules)
RULES.append(binary_rules)

BESIDE: frozenset[Rule] = frozenset(r for r in RULES if r is not code_rules)
"""Rules that run in a child process while the code rules (most of a scan, spread over worker
processes of their own) analyse a large environment: its files are hashed meanwhile."""
