"""The lineage of artifacts as the log states it: indexed custody records, and the questions that
`verify` and `impact` ask of them.

`LineageSource` is the one interface: the in-memory lineage (`memory.MemoryLineage`, the reference
the tests check the store against) and the store's lineage index both answer it. Every answer
carries the log index of the entry that proves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chainproof.custody.records import ActorRecord, Digest, GrantRecord, HopRecord
from chainproof.log.store import KeyRecord


@dataclass(frozen=True, kw_only=True)
class HopEntry:
    """A hop record at its place in the log, with the key ids that signed it."""

    index: int
    record: HopRecord
    keyids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ActorEntry:
    index: int
    record: ActorRecord


@dataclass(frozen=True, kw_only=True)
class GrantEntry:
    """A grant, with its id (the digest of its statement) and, once revoked, where."""

    index: int
    grant_id: Digest
    record: GrantRecord
    keyids: tuple[str, ...]
    """Who signed the grant."""
    revoked_at: int | None = None
    """The index of the first revocation of this grant, if any."""


class LineageSource(Protocol):
    """What verify and impact read; every list is in log order."""

    def hop(self, index: int) -> HopEntry | None:
        """The hop recorded at `index`, if the entry there is one."""

    def producers(self, artifact: Digest) -> Sequence[HopEntry]:
        """The hops that name `artifact` among their outputs."""

    def consumers(self, artifact: Digest) -> Sequence[HopEntry]:
        """The hops that name `artifact` among their inputs."""

    def hops_signed_by(self, keyids: Sequence[str]) -> Sequence[HopEntry]: ...

    def environments_with(self, package: str) -> Sequence[HopEntry]:
        """The transform and train hops whose environment holds a distribution of this name
        (canonical: `packaging.utils.canonicalize_name`), any version."""

    def hops_at_location(self, location: str) -> Sequence[HopEntry]:
        """The ingest hops whose `location` is `location` or below it (a URI prefix ending at `/`)."""

    def actor_of(self, keyid: str, before: int) -> ActorEntry | None:
        """The latest actor record for `keyid` at an index below `before`."""

    def actors_named(self, name: str) -> Sequence[ActorEntry]: ...

    def grants(self, *, grantee: str | None = None, artifact: Digest | None = None) -> Sequence[GrantEntry]:
        """Grants, optionally only those to `grantee`, or on `artifact`."""

    def grant(self, grant_id: Digest) -> GrantEntry | None: ...

    def key(self, keyid: str) -> KeyRecord | None:
        """The key registry's record, as the whole log made it (revocations included)."""


@dataclass(frozen=True, kw_only=True)
class GrantUse:
    """One `access` record of a dataset: who signed it, when it says it was, and the grant that
    covered it (None when none did)."""

    index: int
    actor: str | None
    keyid: str
    time: str | None
    grant_id: Digest | None
