"""Every rule a scan runs, in order. A rule module adds itself here when it is ready."""

from __future__ import annotations

from chainproof.deps.rules.base import Rule

RULES: list[Rule] = []
