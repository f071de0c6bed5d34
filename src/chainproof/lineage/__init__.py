"""Lineage: what the custody records say about artifacts, and the questions asked of it.

`verify` walks an artifact back to its roots against a policy; `impact` gives the blast radius of
something compromised. Both read a `LineageSource`: `MemoryLineage`, or the store's index.
"""

from chainproof.lineage.impact import Harm, ImpactReport, Seeds, Window, impact
from chainproof.lineage.memory import MemoryLineage
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry, LineageSource
from chainproof.lineage.verify import HopCheck, VerifyReport, verify

__all__ = [
    "ActorEntry",
    "GrantEntry",
    "Harm",
    "HopCheck",
    "HopEntry",
    "ImpactReport",
    "LineageSource",
    "MemoryLineage",
    "Seeds",
    "VerifyReport",
    "Window",
    "impact",
    "verify",
]
