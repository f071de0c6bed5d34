"""Custody policies: a TOML file that says who may record which hop, which organisations may touch
which data, which hops an artifact needs, and which environments are denied.

    from chainproof.policy import load
    policy = load(Path("policy.toml"))      # raises PolicyError, pointing at the line
"""

from chainproof.policy.load import PolicyError, load, parse, template
from chainproof.policy.model import ANY, FindingRule, Policy, Requirement, RoleRule

__all__ = [
    "ANY",
    "FindingRule",
    "Policy",
    "PolicyError",
    "Requirement",
    "RoleRule",
    "load",
    "parse",
    "template",
]
