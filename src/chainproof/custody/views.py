"""What the lineage index reads of a custody statement: the keys it files the entry under.

The log admits a custody statement only once its schema checks pass (`predicates.from_statement`),
so an index built from the log reads the few fields it files by straight from the JSON, without
building the records or checking them again: about a fifth of the cost, which is most of a
rebuild's. A statement that is not of a custody type gives None. The tests hold every view to the
record `from_statement` reads from the same statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainproof.custody import predicates as pr
from chainproof.custody.hops import Hop
from chainproof.custody.records import ActorRecord, GrantRecord, HopRecord, Record, hex_of

HOP, ACTOR, GRANT, REVOCATION = "hop", "actor", "grant", "grant-revocation"
_MADE_NOTHING = frozenset(pr.hop_type(h) for h in (Hop.EVALUATE, Hop.RELEASE, Hop.ACCESS))
_PLAIN_HOPS = frozenset(pr.hop_type(h) for h in Hop if h not in (Hop.TRANSFORM, Hop.TRAIN))
_SLSA_TYPES = frozenset((pr.hop_type(Hop.TRANSFORM), pr.hop_type(Hop.TRAIN)))


@dataclass(frozen=True, slots=True)
class View:
    kind: str
    inputs: tuple[str, ...] = ()
    """sha256 hex digests."""
    outputs: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    """Distribution names as recorded (not yet canonical)."""
    location: str | None = None
    name: str = ""
    """An actor's name, or a grant's grantee."""
    keyid: str = ""
    """An actor's key id."""
    target: str = ""
    """A grant's artifact, or a revocation's grant id (hex)."""


def _hex(descriptor: Mapping[str, Any]) -> str:
    return str(descriptor["digest"]["sha256"]).lower()


def _subjects(st: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_hex(s) for s in st["subject"])


def view(st: Mapping[str, Any]) -> View | None:
    """The index's view of an admitted statement (its JSON object), None when not custody."""
    kind = st.get("predicateType")
    p = st.get("predicate") or {}
    if kind in _PLAIN_HOPS:
        location = p.get("location")
        return View(
            kind=HOP,
            inputs=tuple(_hex(i) for i in p.get("inputs", ())),
            outputs=() if kind in _MADE_NOTHING else _subjects(st),
            location=location if isinstance(location, str) else None,
        )
    if kind == pr.SLSA_PROVENANCE:
        build = p.get("buildDefinition") or {}
        if build.get("buildType") not in _SLSA_TYPES:
            return None
        ins: list[str] = []
        packages: list[str] = []
        for dep in build.get("resolvedDependencies", ()):
            role = (dep.get("annotations") or {}).get("role")
            if role == "input":
                ins.append(_hex(dep))
            elif role == "package":
                packages.append(str(dep["name"]))
        internal = build.get("internalParameters") or {}
        outputs = () if internal.get("no_outputs") is True else _subjects(st)
        return View(kind=HOP, inputs=tuple(ins), outputs=outputs, packages=tuple(packages))
    if kind == pr.ACTOR:
        return View(kind=ACTOR, name=str(p["name"]), keyid=str(p["keyid"]))
    if kind == pr.GRANT:
        return View(kind=GRANT, name=str(p["grantee"]), target=_subjects(st)[0])
    if kind == pr.GRANT_REVOCATION:
        return View(kind=REVOCATION, target=_subjects(st)[0])
    return None


def of_record(record: Record) -> View:
    """The view `view` reads from the statement of `record` (`predicates.to_statement`), taken
    from the record itself: a recorder files what it has just appended without reading it back
    (the tests hold the two to each other)."""
    if isinstance(record, HopRecord):
        location = record.details.get("location")
        packages = record.environment.packages if record.environment is not None else ()
        return View(
            kind=HOP,
            inputs=tuple(hex_of(d) for d in record.inputs),
            outputs=tuple(hex_of(d) for d in record.outputs),
            packages=tuple(p.name for p in packages),
            location=location if isinstance(location, str) else None,
        )
    if isinstance(record, ActorRecord):
        return View(kind=ACTOR, name=record.name, keyid=record.keyid)
    if isinstance(record, GrantRecord):
        return View(kind=GRANT, name=record.grantee, target=hex_of(record.artifact))
    return View(kind=REVOCATION, target=hex_of(record.grant_id))
