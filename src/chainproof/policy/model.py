"""A custody policy as values: who may record which hop, who may touch which data, which hops an
artifact needs, and which environments are denied.

Pure: `chainproof.policy.load` builds a `Policy` from a TOML file; `verify` asks it questions. Every
question answers with the reasons a hop breaks the policy (an empty list when it does not), so that
a report can give every reason, never only the first.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chainproof.custody.hops import Hop
from chainproof.deps.model import Severity

ANY = "*"
"""In `organisations`, any organisation not listed by name; in a list of classifications, any."""


@dataclass(frozen=True, kw_only=True)
class RoleRule:
    name: str
    hops: frozenset[Hop]
    """The hops an actor of this role may record."""
    under_grant: frozenset[Hop]
    """Those of `hops` it may record only under a grant on every dataset the hop reads."""


@dataclass(frozen=True, kw_only=True)
class Requirement:
    """An artifact's `hop` needs an earlier `after` hop on the same artifact."""

    hop: Hop
    after: Hop


@dataclass(frozen=True, kw_only=True)
class FindingRule:
    """Deny an environment with a finding of one of `rules` (glob patterns) at `at_or_above` or worse."""

    rules: tuple[str, ...]
    at_or_above: Severity

    def matches(self, rule: str, severity: Severity) -> bool:
        return severity >= self.at_or_above and any(fnmatch.fnmatchcase(rule, p) for p in self.rules)


@dataclass(frozen=True, kw_only=True)
class Policy:
    classifications: tuple[str, ...]
    roles: Mapping[str, RoleRule]
    organisations: Mapping[str, frozenset[str]]
    """Organisation (or `ANY`) -> the classifications its actors may touch (`ANY`: all)."""
    grant_issuers: frozenset[str]
    """The roles that may add and revoke grants."""
    requires: tuple[Requirement, ...]
    deny_findings: tuple[FindingRule, ...]

    def to_json(self) -> dict[str, object]:
        """The policy as read, in a stable order: what `policy check --json` prints."""
        return {
            "roles": {
                name: {"hops": sorted(r.hops), "under_grant": sorted(r.under_grant)}
                for name, r in self.roles.items()
            },
            "grant_issuers": sorted(self.grant_issuers),
            "classifications": list(self.classifications),
            "organisations": {name: sorted(c) for name, c in self.organisations.items()},
            "requires": [{"hop": r.hop.value, "after": r.after.value} for r in self.requires],
            "deny": [{"rules": list(d.rules), "at_or_above": str(d.at_or_above)} for d in self.deny_findings],
        }

    def hop_problems(self, *, role: str | None, hop: Hop) -> list[str]:
        """Why an actor of `role` may not record `hop` (empty when it may)."""
        if role is None:
            return ["the signing key belongs to no registered actor"]
        rule = self.roles.get(role)
        if rule is None:
            return [f"role {role!r} is not in the policy"]
        if hop not in rule.hops:
            return [f"role {role!r} may not record {hop.value}"]
        return []

    def needs_grant(self, role: str, hop: Hop) -> bool:
        rule = self.roles.get(role)
        return rule is not None and hop in rule.under_grant

    def may_grant(self, role: str | None) -> bool:
        return role is not None and role in self.grant_issuers

    def data_problems(self, *, organisation: str | None, classifications: Iterable[str]) -> list[str]:
        """Why an actor of `organisation` may not touch data of these classifications."""
        allowed = self.organisations.get(organisation or "", self.organisations.get(ANY, frozenset()))
        if ANY in allowed:
            return []
        who = f"organisation {organisation!r}" if organisation else "an actor with no organisation"
        return [f"{who} may not touch {c} data" for c in sorted(set(classifications)) if c not in allowed]

    def required_before(self, hop: Hop) -> tuple[Hop, ...]:
        """The hops an artifact needs before `hop`."""
        return tuple(r.after for r in self.requires if r.hop is hop)

    def denied(self, findings: Iterable[tuple[str, Severity]]) -> list[tuple[str, Severity]]:
        """The (rule, severity) findings of an environment that the dependency rules deny."""
        return [
            (rule, severity)
            for rule, severity in findings
            if any(r.matches(rule, severity) for r in self.deny_findings)
        ]
