"""impact: from something compromised, the blast radius, each item proved by a log index.

Two kinds of harm, kept apart:

- **exposed**: the contents may have been taken. What an affected run or actor could read: the
  datasets it read, the data its grants reached.
- **tainted**: the integrity is in doubt. What an affected run or actor produced, and everything
  derived from it downstream (derived datasets, models, their evaluations and releases).

Only taint flows downstream: a model trained in a clean environment on a merely exposed dataset
is not affected. Pure: the seeds (which runs, which actors, which artifacts) come from `Seeds`,
which the library builds from a package, an advisory, an actor, a key, a dataset or a location.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from packaging.utils import canonicalize_name

from chainproof.custody.hops import Hop
from chainproof.custody.predicates import parse_time
from chainproof.custody.records import Digest
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry, LineageSource
from chainproof.lineage.verify import actor_for


class Harm(enum.StrEnum):
    EXPOSED = "exposed"
    TAINTED = "tainted"


@dataclass(frozen=True, kw_only=True)
class Window:
    """Only hops whose stated time lies in [since, until]; a hop that states no time is kept (it
    cannot be ruled out)."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, hop: HopEntry) -> bool:
        if hop.record.time is None or (self.since is None and self.until is None):
            return True
        t = parse_time(hop.record.time, "time")
        return (self.since is None or t >= self.since) and (self.until is None or t <= self.until)


@dataclass(frozen=True, kw_only=True)
class Seeds:
    """Where the harm starts."""

    runs: tuple[HopEntry, ...] = ()
    """Hops that ran compromised (a bad environment, a stolen key): they expose what they read
    and taint what they made."""
    environments: tuple[tuple[HopEntry, str], ...] = ()
    """The compromised environments, as (the hop that recorded it, why: e.g. `litellm 1.82.8`)."""
    actors: tuple[ActorEntry, ...] = ()
    """Actors whose access is compromised: their grants' data is exposed."""
    tainted: tuple[tuple[Digest, int], ...] = ()
    """Artifacts compromised themselves, with the index of the record that names them."""
    exposed: tuple[tuple[Digest, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Item:
    """One artifact in the blast radius."""

    digest: Digest
    harm: tuple[Harm, ...]
    index: int
    """The entry that proves it is affected: the hop that read it, made it, or named it."""
    via: str
    releases: tuple[int, ...] = ()
    """For a model: the indexes of its release records."""


@dataclass(frozen=True, kw_only=True)
class Run:
    index: int
    hop: Hop
    actor: str | None
    harm: Harm
    via: str


@dataclass(frozen=True, kw_only=True)
class ImpactReport:
    environments: tuple[tuple[HopEntry, str], ...]
    runs: tuple[Run, ...]
    datasets: tuple[Item, ...]
    models: tuple[Item, ...]
    grants: tuple[GrantEntry, ...]
    actors: tuple[ActorEntry, ...]
    credentials: tuple[tuple[str, tuple[int, ...]], ...]
    """Credential names present in affected environments, with those environments' indexes."""

    @property
    def empty(self) -> bool:
        return not (self.runs or self.datasets or self.models or self.grants or self.environments)


@dataclass
class _State:
    source: LineageSource
    runs: dict[int, Run] = field(default_factory=dict)
    items: dict[Digest, dict[str, object]] = field(default_factory=dict)
    models: set[Digest] = field(default_factory=set)
    _consumers: dict[Digest, Sequence[HopEntry]] = field(default_factory=dict)

    def consumers(self, d: Digest) -> Sequence[HopEntry]:
        """The source's consumers of `d`, asked once: the walk and the report both need them."""
        found = self._consumers.get(d)
        if found is None:
            found = self._consumers[d] = self.source.consumers(d)
        return found

    def mark(self, d: Digest, harm: Harm, index: int, via: str) -> bool:
        """Record harm to `d`; True when it is new."""
        item = self.items.setdefault(d, {"harm": set(), "index": index, "via": via})
        harms = item["harm"]
        assert isinstance(harms, set)
        if harm in harms:
            return False
        if harm is Harm.TAINTED:  # the proof of taint says more than that of exposure
            item["index"], item["via"] = index, via
        harms.add(harm)
        return True

    def run(self, hop: HopEntry, harm: Harm, via: str) -> None:
        if hop.index not in self.runs:
            actor = actor_for(self.source, hop)
            self.runs[hop.index] = Run(
                index=hop.index,
                hop=hop.record.hop,
                actor=actor.record.name if actor else None,
                harm=harm,
                via=via,
            )
        if hop.record.hop is Hop.TRAIN:
            self.models.update(hop.record.outputs)


def impact(source: LineageSource, seeds: Seeds) -> ImpactReport:
    """The blast radius of `seeds`."""
    state = _State(source)
    tainted: list[Digest] = []
    for d, index in seeds.tainted:
        if state.mark(d, Harm.TAINTED, index, "named as compromised"):
            tainted.append(d)
        if any(h.record.hop is Hop.TRAIN for h in source.producers(d)):
            state.models.add(d)  # a model named itself; those made downstream are known as made
    for d, index in seeds.exposed:
        state.mark(d, Harm.EXPOSED, index, "named as compromised")
    for hop in seeds.runs:
        state.run(hop, Harm.TAINTED, "ran compromised")
        for d in hop.record.inputs:
            state.mark(d, Harm.EXPOSED, hop.index, f"read by entry {hop.index}")
        for d in hop.record.outputs:
            if state.mark(d, Harm.TAINTED, hop.index, f"made by entry {hop.index}"):
                tainted.append(d)
    _downstream(state, tainted)
    actors = _actors(source, seeds)
    grants = _grants(source, actors, [d for d, _ in seeds.tainted])
    for g in grants:
        state.mark(
            g.record.artifact, Harm.EXPOSED, g.index, f"granted to {g.record.grantee} at entry {g.index}"
        )
    return _report(state, seeds, actors, grants)


def _downstream(state: _State, tainted: list[Digest]) -> None:
    """Taint everything derived from a tainted artifact, breadth first."""
    while tainted:
        d = tainted.pop(0)
        for hop in state.consumers(d):
            state.run(hop, Harm.TAINTED, f"used {d}" if hop.record.outputs else f"concerns {d}")
            for out in hop.record.outputs:
                if state.mark(out, Harm.TAINTED, hop.index, f"derived from {d} at entry {hop.index}"):
                    tainted.append(out)


def _actors(source: LineageSource, seeds: Seeds) -> list[ActorEntry]:
    """The seeds' actors, and the actors who ran the compromised runs (their credentials were in
    reach of what ran)."""
    found = {a.index: a for a in seeds.actors}
    for hop in seeds.runs:
        actor = actor_for(source, hop)
        if actor is not None:
            found.setdefault(actor.index, actor)
    return [found[i] for i in sorted(found)]


def _grants(
    source: LineageSource, actors: Iterable[ActorEntry], artifacts: Iterable[Digest]
) -> list[GrantEntry]:
    """The grants the affected actors held (the data they could reach), and those on compromised
    artifacts (who could reach them)."""
    names = dict.fromkeys(a.record.name for a in actors)
    out = {g.index: g for name in names for g in source.grants(grantee=name)}
    out.update((g.index, g) for d in artifacts for g in source.grants(artifact=d))
    return [out[i] for i in sorted(out)]


def _report(
    state: _State, seeds: Seeds, actors: Sequence[ActorEntry], grants: Sequence[GrantEntry]
) -> ImpactReport:
    def item(d: Digest) -> Item:
        raw = state.items[d]
        harms = raw["harm"]
        assert isinstance(harms, set)
        releases = (
            tuple(h.index for h in state.consumers(d) if h.record.hop is Hop.RELEASE)
            if d in state.models
            else ()
        )
        return Item(
            digest=d,
            harm=tuple(h for h in Harm if h in harms),
            index=int(str(raw["index"])),
            via=str(raw["via"]),
            releases=releases,
        )

    ordered = sorted(state.items, key=lambda d: (int(str(state.items[d]["index"])), d))
    credentials: dict[str, list[int]] = {}
    for hop, _ in seeds.environments:
        env = hop.record.environment
        for name in env.credentials if env else ():
            credentials.setdefault(name, []).append(hop.index)
    return ImpactReport(
        environments=seeds.environments,
        runs=tuple(state.runs[i] for i in sorted(state.runs)),
        datasets=tuple(item(d) for d in ordered if d not in state.models),
        models=tuple(item(d) for d in ordered if d in state.models),
        grants=tuple(grants),
        actors=tuple(actors),
        credentials=tuple((name, tuple(sorted(set(idx)))) for name, idx in sorted(credentials.items())),
    )


@lru_cache(maxsize=8192)
def canonical(name: str) -> str:
    """`packaging`'s canonical project name, remembered: every environment names the same few
    hundred distributions, and canonicalising each of them was a fifth of an impact's time."""
    return canonicalize_name(name)


PackageMatch = Callable[[str, str], str | None]
"""(name, version) -> why that installed version is compromised (an advisory id, say), or None."""


def environment_seeds(
    source: LineageSource, names: Iterable[str], match: PackageMatch, window: Window = Window()
) -> Seeds:
    """Seeds for a compromised package: every recorded environment holding a matching version of
    one of `names`, and the runs in them."""
    envs: dict[int, tuple[HopEntry, str]] = {}
    wanted = {canonical(n) for n in names}
    for name in wanted:
        for hop in source.environments_with(name):
            if hop.index in envs or not window.holds(hop):
                continue
            env = hop.record.environment
            for p in env.packages if env else ():
                why = match(p.name, p.version) if canonical(p.name) in wanted else None
                if why is not None:
                    envs[hop.index] = (hop, why)
                    break
    ordered = [envs[i] for i in sorted(envs)]
    return Seeds(runs=tuple(h for h, _ in ordered), environments=tuple(ordered))


def actor_seeds(
    source: LineageSource, actors: Sequence[ActorEntry], keyids: Sequence[str], window: Window = Window()
) -> Seeds:
    """Seeds for a compromised actor or key: everything signed with its keys."""
    runs = [h for h in source.hops_signed_by(keyids) if window.holds(h)]
    return Seeds(runs=tuple(runs), actors=tuple(actors))


def artifact_seeds(source: LineageSource, artifacts: Sequence[Digest], *, exposed: bool) -> Seeds:
    """Seeds for compromised artifacts: tainted (and, for a storage breach, also exposed)."""
    named: list[tuple[Digest, int]] = []
    for d in artifacts:
        hops = [*source.producers(d), *source.consumers(d)]
        if hops:
            named.append((d, min(h.index for h in hops)))
    return Seeds(tainted=tuple(named), exposed=tuple(named) if exposed else ())
