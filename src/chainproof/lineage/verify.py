"""verify: walk an artifact back to its roots and check every hop of its custody against a policy.

Pure: the lineage comes from a `LineageSource`, the policy from `chainproof.policy`, and what an
environment's packages are known for *today* from the caller's `judge` (the advisories as they
stand now, so that an advisory published after training still taints the model). Every failing
hop is reported with every reason and its log index, never only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chainproof.custody.hops import Hop
from chainproof.custody.predicates import parse_time
from chainproof.custody.records import Digest, Environment
from chainproof.deps.model import Severity
from chainproof.errors import UsageError
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry, LineageSource
from chainproof.policy.model import Policy

Judge = Callable[[Environment], Sequence[tuple[str, Severity, str | None]]]
"""An environment's findings as they stand now: (rule, severity, package)."""

UNCLASSIFIED = "unclassified"
"""The classification of data whose ingest stated none: only an organisation allowed `*` takes it."""


@dataclass(frozen=True, kw_only=True)
class HopCheck:
    index: int
    hop: Hop
    actor: str | None
    role: str | None
    organisation: str | None
    inputs: tuple[Digest, ...]
    outputs: tuple[Digest, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    artifact: Digest
    hops: tuple[HopCheck, ...]
    """Every hop of the artifact's custody, in log order."""
    roots: tuple[Digest, ...]
    """The ingested datasets the walk reached."""
    problems: tuple[tuple[int | None, str], ...] = field(default=())
    """Problems of the lineage itself (an input nobody produced), with the index that shows them."""

    @property
    def ok(self) -> bool:
        return not self.problems and all(h.ok for h in self.hops)

    def failures(self) -> list[tuple[int | None, str]]:
        """Every problem with its log index, hop problems first, in log order."""
        out: list[tuple[int | None, str]] = [
            (h.index, f"{h.hop.value}: {p}") for h in self.hops for p in h.problems
        ]
        return [*out, *self.problems]


def actor_for(source: LineageSource, hop: HopEntry) -> ActorEntry | None:
    """The actor whose key signed `hop`, as registered before it."""
    for keyid in hop.keyids:
        actor = source.actor_of(keyid, hop.index)
        if actor is not None:
            return actor
    return None


class _Walk:
    def __init__(self, source: LineageSource, policy: Policy, judge: Judge) -> None:
        self.source, self.policy, self.judge = source, policy, judge
        self.checks: dict[int, HopCheck] = {}
        self.problems: list[tuple[int | None, str]] = []
        self.roots: list[Digest] = []
        self._classes: dict[Digest, frozenset[str]] = {}

    def run(self, artifact: Digest) -> VerifyReport:
        if not self.source.producers(artifact) and not self.source.consumers(artifact):
            raise UsageError(f"no custody record names {artifact}")
        seen = {artifact}
        todo = [artifact]
        while todo:
            d = todo.pop()
            for hop in self._hops_about(d):
                self._check(hop)
                for i in hop.record.inputs:
                    if i not in seen:
                        seen.add(i)
                        todo.append(i)
        hops = tuple(self.checks[i] for i in sorted(self.checks))
        return VerifyReport(
            artifact=artifact, hops=hops, roots=tuple(sorted(set(self.roots))), problems=tuple(self.problems)
        )

    def _hops_about(self, d: Digest) -> list[HopEntry]:
        """The hops that made `d`, and those that made nothing but concern it (evaluate, release,
        access): together, its custody."""
        producers = list(self.source.producers(d))
        if not producers:
            self.problems.append((None, f"{d} was never ingested nor produced by a recorded hop"))
        elif any(p.record.hop is Hop.INGEST for p in producers):
            self.roots.append(d)
        about = [c for c in self.source.consumers(d) if not c.record.outputs]
        return [*producers, *about]

    def _check(self, hop: HopEntry) -> None:
        if hop.index in self.checks:
            return
        actor = actor_for(self.source, hop)
        role = actor.record.role if actor else None
        org = actor.record.organisation if actor else None
        r = hop.record
        problems = [
            *self._signature_problems(hop),
            *self.policy.hop_problems(role=role, hop=r.hop),
            *self.policy.data_problems(organisation=org, classifications=self._hop_classes(hop)),
            *self._order_problems(hop),
            *self._requirement_problems(hop),
            *(self._grant_problems(hop, actor) if role and self.policy.needs_grant(role, r.hop) else ()),
            *(self._environment_problems(r.environment) if r.environment else ()),
            *(() if r.succeeded else ["the run failed (it raised an exception)"]),
        ]
        self.checks[hop.index] = HopCheck(
            index=hop.index,
            hop=r.hop,
            actor=actor.record.name if actor else None,
            role=role,
            organisation=org,
            inputs=r.inputs,
            outputs=r.outputs,
            problems=tuple(dict.fromkeys(problems)),
        )

    def _signature_problems(self, hop: HopEntry) -> Iterable[str]:
        for keyid in hop.keyids:
            key = self.source.key(keyid)
            if key is None:
                yield f"signed by key {keyid}, which the log never registered"
            elif not key.valid_at(hop.index):
                yield f"signed by key {key.name} ({keyid[:16]}), revoked from entry {key.revoked_from}"

    def _order_problems(self, hop: HopEntry) -> Iterable[str]:
        for d in hop.record.inputs:
            producers = self.source.producers(d)
            if producers and all(p.index >= hop.index for p in producers):
                yield f"input {d} was only produced later (entry {producers[0].index})"

    def _requirement_problems(self, hop: HopEntry) -> Iterable[str]:
        for after in self.policy.required_before(hop.record.hop):
            for d in hop.record.concerns:
                earlier = [
                    h
                    for h in (*self.source.producers(d), *self.source.consumers(d))
                    if h.record.hop is after and h.index < hop.index
                ]
                if not earlier:
                    yield f"{d} has no {after.value} before this {hop.record.hop.value}"

    def _grant_problems(self, hop: HopEntry, actor: ActorEntry | None) -> Iterable[str]:
        if actor is None:
            return
        when = _time_of(hop)
        for d in hop.record.inputs:
            grants = self.source.grants(grantee=actor.record.name, artifact=d)
            reasons = [self._grant_gap(g, hop, when) for g in grants]
            if not grants:
                yield f"{actor.record.name} holds no grant on {d}"
            elif all(reasons):
                yield f"no grant covers {actor.record.name} on {d}: " + "; ".join(r for r in reasons if r)

    def _grant_gap(self, grant: GrantEntry, hop: HopEntry, when: datetime | None) -> str | None:
        """Why `grant` does not cover `hop`, or None when it does."""
        name = f"grant at entry {grant.index}"
        if grant.index > hop.index:
            return f"{name} came later"
        if grant.revoked_at is not None and grant.revoked_at < hop.index:
            return f"{name} was revoked at entry {grant.revoked_at}"
        if when is None:
            return f"the hop states no time, so {name}'s expiry cannot be checked"
        if when > parse_time(grant.record.expires, "expires"):
            return f"{name} expired at {grant.record.expires}"
        issuer = next((self.source.actor_of(k, grant.index) for k in grant.keyids), None)
        if issuer is None or not self.policy.may_grant(issuer.record.role):
            who = f"role {issuer.record.role!r}" if issuer else "a key of no actor"
            return f"{name} was issued by {who}, which may not grant"
        return None

    def _environment_problems(self, env: Environment) -> Iterable[str]:
        denied = {(rule, sev) for rule, sev in self.policy.denied((r, s) for r, s, _ in self.judge(env))}
        for rule, severity, package in self.judge(env):
            if (rule, severity) in denied:
                where = f" in {package}" if package else ""
                yield f"the environment is denied: {rule} ({severity}){where}"

    def _hop_classes(self, hop: HopEntry) -> frozenset[str]:
        if hop.record.hop is Hop.INGEST:
            return self._ingest_classes(hop)
        out: set[str] = set()
        for d in hop.record.inputs:
            out |= self._classes_of(d)
        return frozenset(out)

    def _classes_of(self, d: Digest) -> frozenset[str]:
        """The classifications of the data `d` derives from: its ingests', through every hop."""
        known = self._classes.get(d)
        if known is not None:
            return known
        self._classes[d] = frozenset()  # a cycle contributes nothing
        out: set[str] = set()
        for p in self.source.producers(d):
            out |= self._ingest_classes(p) if p.record.hop is Hop.INGEST else self._hop_classes(p)
        self._classes[d] = frozenset(out)
        return self._classes[d]

    @staticmethod
    def _ingest_classes(hop: HopEntry) -> frozenset[str]:
        return frozenset([str(hop.record.details.get("classification") or UNCLASSIFIED)])


def _time_of(hop: HopEntry) -> datetime | None:
    return parse_time(hop.record.time, "time") if hop.record.time else None


def check_hop(source: LineageSource, policy: Policy, judge: Judge, hop: HopEntry) -> HopCheck:
    """One hop against `policy`, as `verify` checks each hop of a walk (used to warn as it is recorded)."""
    walk = _Walk(source, policy, judge)
    walk._check(hop)
    return walk.checks[hop.index]


def verify(artifact: Digest, source: LineageSource, policy: Policy, judge: Judge) -> VerifyReport:
    """Check every hop of `artifact`'s custody against `policy`; raises `UsageError` when no
    record names the artifact."""
    return _Walk(source, policy, judge).run(artifact)
