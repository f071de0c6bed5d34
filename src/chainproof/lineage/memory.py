"""The lineage held in memory: built by feeding it the log's custody records in order.

Simple on purpose: it is what the store's lineage index is tested against, and what the SDK and
tests use when there is no store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from chainproof.custody.records import (
    ActorRecord,
    Digest,
    GrantRecord,
    GrantRevocation,
    HopRecord,
    Record,
)
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry
from chainproof.log.store import KeyRecord


def under(location: str, prefix: str) -> bool:
    """Whether storage `location` is `prefix` or lies below it."""
    return location == prefix or location.startswith(prefix if prefix.endswith("/") else prefix + "/")


class MemoryLineage:
    def __init__(self) -> None:
        self.hops: list[HopEntry] = []
        self.actors: list[ActorEntry] = []
        self._grants: dict[Digest, GrantEntry] = {}
        self.keys: dict[str, KeyRecord] = {}
        self._by_output: defaultdict[Digest, list[HopEntry]] = defaultdict(list)
        self._by_input: defaultdict[Digest, list[HopEntry]] = defaultdict(list)

    def add(self, index: int, record: Record, keyids: Sequence[str], statement_digest: Digest) -> None:
        """Take in the custody record at `index`; `statement_digest` names a grant."""
        if isinstance(record, HopRecord):
            entry = HopEntry(index=index, record=record, keyids=tuple(keyids))
            self.hops.append(entry)
            for d in dict.fromkeys(record.outputs):
                self._by_output[d].append(entry)
            for d in dict.fromkeys(record.inputs):
                self._by_input[d].append(entry)
        elif isinstance(record, ActorRecord):
            self.actors.append(ActorEntry(index=index, record=record))
        elif isinstance(record, GrantRecord):
            self._grants[statement_digest] = GrantEntry(
                index=index, grant_id=statement_digest, record=record, keyids=tuple(keyids)
            )
        elif isinstance(record, GrantRevocation):
            granted = self._grants.get(record.grant_id)
            if granted is not None and granted.revoked_at is None:
                self._grants[record.grant_id] = GrantEntry(
                    index=granted.index,
                    grant_id=granted.grant_id,
                    record=granted.record,
                    keyids=granted.keyids,
                    revoked_at=index,
                )

    def set_key(self, record: KeyRecord) -> None:
        self.keys[record.keyid] = record

    # -- LineageSource ------------------------------------------------------------------------

    def hop(self, index: int) -> HopEntry | None:
        return next((h for h in self.hops if h.index == index), None)

    def producers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._by_output.get(artifact, [])

    def consumers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._by_input.get(artifact, [])

    def hops_signed_by(self, keyids: Sequence[str]) -> Sequence[HopEntry]:
        wanted = set(keyids)
        return [h for h in self.hops if wanted.intersection(h.keyids)]

    def environments_with(self, package: str) -> Sequence[HopEntry]:
        name = canonicalize_name(package)
        return [
            h
            for h in self.hops
            if h.record.environment is not None
            and any(canonicalize_name(p.name) == name for p in h.record.environment.packages)
        ]

    def hops_at_location(self, location: str) -> Sequence[HopEntry]:
        return [h for h in self.hops if under(str(h.record.details.get("location", "")), location)]

    def actor_of(self, keyid: str, before: int) -> ActorEntry | None:
        found = None
        for a in self.actors:
            if a.index >= before:
                break
            if a.record.keyid == keyid:
                found = a
        return found

    def actors_named(self, name: str) -> Sequence[ActorEntry]:
        return [a for a in self.actors if a.record.name == name]

    def grants(self, *, grantee: str | None = None, artifact: Digest | None = None) -> Sequence[GrantEntry]:
        return sorted(
            (
                g
                for g in self._grants.values()
                if (grantee is None or g.record.grantee == grantee)
                and (artifact is None or g.record.artifact == artifact)
            ),
            key=lambda g: g.index,
        )

    def grant(self, grant_id: Digest) -> GrantEntry | None:
        return self._grants.get(grant_id)

    def key(self, keyid: str) -> KeyRecord | None:
        return self.keys.get(keyid)
