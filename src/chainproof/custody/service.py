"""The chain of custody of one store: record hops, actors and grants in its log, and answer lineage,
verify and impact from its lineage index.

    custody = Custody.open(Path(".chainproof"))
    try:
        done = custody.record(Hop.INGEST, key, outputs=[artifact_digest(Path("raw/"))],
                              details={"location": "s3://vendor/raw/", "classification": "confidential"})
        report = custody.verify(model_digest, policy)
    finally:
        custody.close()

Every record is signed with the caller's key and appended like any entry, so the log admits it
only when the key is registered and unrevoked. A hop that the policy would refuse (a contractor
without a grant) is still recorded when its signature is valid, because the record is evidence:
`Recorded.warnings` says what the policy thinks of it, and `verify` fails it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from chainproof._internal import crypto_worker, gcpause
from chainproof.attest import dsse
from chainproof.attest.keys import keyid
from chainproof.attest.statement import Statement
from chainproof.custody import predicates, views
from chainproof.custody.advisories import Advisories, affected_names
from chainproof.custody.environment import Captured
from chainproof.custody.hops import Hop
from chainproof.custody.records import (
    ActorRecord,
    Digest,
    Environment,
    GrantRecord,
    GrantRevocation,
    HopRecord,
    Record,
    digest,
)
from chainproof.custody.tree import artifact_digest
from chainproof.deps.advisories.osv import affects
from chainproof.errors import UsageError
from chainproof.lineage.filing import statement_digest
from chainproof.lineage.graph import LineageGraph, lineage
from chainproof.lineage.impact import (
    ImpactReport,
    Window,
    actor_seeds,
    artifact_seeds,
    canonical,
    environment_seeds,
)
from chainproof.lineage.impact import impact as blast_radius
from chainproof.lineage.index import Appended, LineageIndex, Progress
from chainproof.lineage.model import GrantEntry, GrantUse
from chainproof.lineage.verify import HopCheck, VerifyReport, check_hop, verify
from chainproof.log.service import AppendedEntry, TransparencyLog
from chainproof.policy import Policy, template
from chainproof.policy import load as load_policy
from chainproof.policy import parse as parse_policy

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.log.store import LogReader

POLICY_FILE = "policy.toml"
"""A store's own policy, used to warn at recording time when no other is given."""
SBOM_DIR = "sboms"
"""Where the store keeps the SBOMs its records name, as `<hex digest>.cdx.json`."""

_MADE_NOTHING = (Hop.EVALUATE, Hop.RELEASE, Hop.ACCESS)
_NAMED_KEPT = 100_000  # artifacts remembered as named (about 15 MB), then forgotten at once
_SIGNED_LOT = crypto_worker.MIN_BATCH
"""Records whose statements are signed together, in a process of their own, while the next lot's
are written: the smallest lot that goes to that process, so the last lot's signatures, which are
waited for, come soon."""
ALL_TIME = Window()


@dataclass(frozen=True, kw_only=True)
class Recorded:
    index: int
    statement_digest: Digest
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class GrantState:
    entry: GrantEntry
    status: str
    """`active`, `expired` or `revoked`, as of now."""


def hop_record(
    hop: Hop,
    *,
    inputs: Sequence[Digest] = (),
    outputs: Sequence[Digest] = (),
    details: Mapping[str, Any] | None = None,
    environment: Environment | None = None,
    time: str | None = None,
    succeeded: bool = True,
) -> HopRecord:
    """A hop as `record` takes it: its own fields checked, repeats dropped, the time now by default."""
    return HopRecord(
        hop=hop,
        inputs=tuple(dict.fromkeys(inputs)),
        outputs=tuple(dict.fromkeys(outputs)),
        details=predicates.check_details(hop, details or {}),
        environment=environment,
        time=time or now(),
        succeeded=succeeded,
    )


def shape_problem(record: HopRecord) -> str | None:
    """What is wrong with the shape of a hop (its inputs, outputs and environment), if anything."""
    hop = record.hop
    if hop is Hop.INGEST and not record.outputs:
        return "an ingest names the dataset it brings in: give --output"
    if hop in _MADE_NOTHING and (record.outputs or not record.inputs):
        return f"a {hop.value} names what it concerns with --input, and has no --output"
    if hop is not Hop.INGEST and not record.inputs:
        return f"a {hop.value} needs at least one --input"
    if hop in (Hop.ANNOTATE, Hop.TRANSFORM, Hop.TRAIN) and not record.outputs and record.succeeded:
        return f"a {hop.value} names what it made with --output"
    if record.environment is not None and hop not in (Hop.TRANSFORM, Hop.TRAIN):
        return "only a transform or a train records its environment (--env)"
    return None


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Custody:
    """Open with `Custody.open(directory)` (or wrap an open `TransparencyLog`); `close` when done."""

    def __init__(
        self, log: TransparencyLog, *, policy: Policy | None = None, on_index_progress: Progress | None = None
    ) -> None:
        """`on_index_progress(done, total)` follows the lineage index while it catches up with
        the log (entries read, entries to read): long only on a large store's first command."""
        self.log = log
        self._policy = policy
        self._index: LineageIndex | None = None
        self._on_index_progress = on_index_progress
        # Artifacts that records this process appended name: a log only grows, so they stay
        # named, and a pipeline's next hops mostly take what its last ones made (a lookup saved).
        self._named: dict[Digest, None] = {}

    @classmethod
    def open(
        cls,
        directory: Path | str,
        *,
        policy: Policy | None = None,
        on_index_progress: Progress | None = None,
    ) -> Custody:
        """The custody of the log in a store directory or a PostgreSQL database (see
        `TransparencyLog.open`)."""
        return cls(TransparencyLog.open(directory), policy=policy, on_index_progress=on_index_progress)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        self.log.close()

    # -- reading ----------------------------------------------------------------------------------

    @contextmanager
    def lineage_index(self) -> Iterator[LineageIndex]:
        """The lineage index, caught up with the log, for the length of one read transaction."""
        with self.log.reading() as reader:
            index = self._caught_up(reader)
            try:
                yield index
            finally:
                index.flush()  # the statements this query read from the log, for the next one

    def _caught_up(self, reader: LogReader) -> LineageIndex:
        if self._index is None:
            self._index = LineageIndex.open(
                self.log.directory, writable=os.access(self.log.directory, os.W_OK)
            )
        self._index.catch_up(reader, self._on_index_progress, open_reader=self.log.read_only_opener())
        return self._index

    def policy(self) -> Policy:
        """The policy for recording-time warnings: the one given, the store's own, or the template."""
        if self._policy is None:
            own = self.log.directory / POLICY_FILE
            self._policy = load_policy(own) if own.exists() else parse_policy(template(), "template")
        return self._policy

    # -- recording --------------------------------------------------------------------------------

    def _append(self, record: Record, key: Ed25519PrivateKey) -> tuple[int, Digest]:
        [(index, sd)] = self._append_all([record], key)
        return index, sd

    def _append_all(self, records: Sequence[Record], key: Ed25519PrivateKey) -> list[tuple[int, Digest]]:
        """Sign every record and append them all in one transaction: all or none."""
        signer = keyid(key.public_key())
        statements: list[Statement] = []
        payloads: list[bytes] = []
        signing = dsse.Signing(dsse.INTOTO_PAYLOAD_TYPE, key, signer)
        for at in range(0, len(records), _SIGNED_LOT):  # a lot is signed while the next is written
            lot = [predicates.to_statement(r) for r in records[at : at + _SIGNED_LOT]]
            statements += lot
            written = [st.canonical() for st in lot]
            payloads += written
            signing.add(written)
        # What is needed later, worked out while the last lots are signed.
        digests = [statement_digest(p) for p in payloads]
        seen = [views.of_record(r) for r in records] if self._index is not None else []
        # The statements go along: admission reads them instead of parsing each payload back.
        envelopes = [e.with_statement(st) for e, st in zip(signing.envelopes(), statements, strict=True)]
        if self._index is None:
            result = self.log.append(envelopes)
        else:
            # The index files the batch while the log confirms its signatures, and commits after it.
            with self._index.adding() as add:

                def file(appended: Sequence[AppendedEntry], tree_size: int) -> None:
                    fresh: list[Appended] = [
                        (e.index, view, (signer,), p)
                        for e, view, p in zip(appended, seen, payloads, strict=True)
                        if not e.duplicate
                    ]
                    add(fresh, tree_size)

                result = self.log.append(envelopes, meanwhile=file)
        for r in records:
            self._remember_named(r)
        return [(e.index, d) for e, d in zip(result.entries, digests, strict=True)]

    def record(
        self,
        hop: Hop,
        key: Ed25519PrivateKey,
        *,
        inputs: Sequence[Digest] = (),
        outputs: Sequence[Digest] = (),
        details: Mapping[str, Any] | None = None,
        environment: Captured | Environment | None = None,
        time: str | None = None,
        succeeded: bool = True,
    ) -> Recorded:
        """Sign and append one hop; return its index, its statement's digest, and the policy's
        warnings about it (the hop is recorded whatever they say)."""
        env = environment.environment if isinstance(environment, Captured) else environment
        record = hop_record(
            hop,
            inputs=inputs,
            outputs=outputs,
            details=details,
            environment=env,
            time=time,
            succeeded=succeeded,
        )
        if isinstance(environment, Captured):
            self._keep_sbom(environment)
        [done] = self.record_many([record], key)
        return Recorded(
            index=done.index, statement_digest=done.statement_digest, warnings=self._warnings(done.index)
        )

    def record_many(self, records: Sequence[HopRecord], key: Ed25519PrivateKey) -> list[Recorded]:
        """Sign and append many hops in one transaction (all or none), each input named by an
        earlier record or by an earlier hop of the batch. No warnings are computed: `verify` says
        what the policy thinks. For bulk imports and pipelines that record as they go."""
        with gcpause.paused():  # a batch's statements and envelopes make no reference cycle
            return self._record_many(records, key)

    def _record_many(self, records: Sequence[HopRecord], key: Ed25519PrivateKey) -> list[Recorded]:
        for record in records:
            problem = shape_problem(record)
            if problem:
                raise UsageError(problem)
        unknown = {d for r in records for d in r.inputs if d not in self._named}
        known: set[Digest] = set()
        if unknown:
            with self.lineage_index() as index:
                known = index.named(unknown)
        known.update(d for r in records for d in r.inputs if d in self._named)
        for record in records:
            for d in record.inputs:
                if d not in known:
                    raise UsageError(f"no custody record names the input {d}; record its ingest first")
            known.update(record.outputs)  # a later hop of the batch may take it
        done = self._append_all(records, key)
        return [Recorded(index=i, statement_digest=sd) for i, sd in done]

    def _remember_named(self, record: Record) -> None:
        if len(self._named) >= _NAMED_KEPT:
            self._named.clear()
        if isinstance(record, HopRecord):
            self._named.update(dict.fromkeys(record.outputs))
            self._named.update(dict.fromkeys(record.inputs))

    def _keep_sbom(self, captured: Captured) -> None:
        folder = self.log.directory / SBOM_DIR
        target = folder / f"{captured.environment.sbom.removeprefix('sha256:')}.cdx.json"
        if target.exists():
            return
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_text(captured.sbom, encoding="utf-8")
            partial.replace(target)
        except OSError as e:
            raise UsageError(f"cannot keep the SBOM in {folder}: {e.strerror}") from None

    def _warnings(self, index: int) -> tuple[str, ...]:
        with self.lineage_index() as lineage, Advisories.open() as advisories:
            hop = lineage.hop(index)
            if hop is None:
                return ()
            check: HopCheck = check_hop(lineage, self.policy(), advisories.judge, hop)
            return check.problems

    def add_actor(
        self, name: str, *, role: str, organisation: str, keyid: str, admin: Ed25519PrivateKey
    ) -> Recorded:
        """Bind the registered key `keyid` (registered as `name`) to an actor with a role and an
        organisation, in an entry signed by the admin key."""
        key = self.log.find_key(keyid)
        if key.name != name:
            raise UsageError(f"key {keyid[:16]} is registered as {key.name!r}, not {name!r}")
        if key.revoked_at is not None:
            raise UsageError(f"key {key.name} ({keyid[:16]}) is revoked")
        for what, value in (("role", role), ("organisation", organisation)):
            if not value.strip():
                raise UsageError(f"the actor's {what} is empty")
        index, sd = self._append(
            ActorRecord(name=name, role=role, organisation=organisation, keyid=keyid), admin
        )
        return Recorded(index=index, statement_digest=sd)

    def grant(
        self, grantee: str, artifact: Digest, *, purpose: str, expires: str, key: Ed25519PrivateKey
    ) -> Recorded:
        """Let actor `grantee` access `artifact` for `purpose` until `expires` (RFC 3339)."""
        when = predicates.parse_time(expires, "--expires")
        if when <= datetime.now(UTC):
            raise UsageError(f"the grant would have expired already ({expires})")
        if not purpose.strip():
            raise UsageError("a grant states its purpose")
        with self.lineage_index() as index:
            if not index.actors_named(grantee):
                raise UsageError(f"no actor named {grantee!r}; add it with `chainproof actor add`")
            if not index.names(artifact):
                raise UsageError(f"no custody record names {artifact}")
        record = GrantRecord(grantee=grantee, artifact=artifact, purpose=purpose, expires=expires)
        index_, grant_id = self._append(record, key)
        return Recorded(index=index_, statement_digest=grant_id, warnings=self._grant_warnings(index_, key))

    def _grant_warnings(self, index: int, key: Ed25519PrivateKey) -> tuple[str, ...]:
        with self.lineage_index() as lineage:
            issuer = lineage.actor_of(keyid(key.public_key()), index)
        if issuer is None or not self.policy().may_grant(issuer.record.role):
            who = f"role {issuer.record.role!r}" if issuer else "a key of no actor"
            return (f"the grant is issued by {who}, which the policy does not let grant",)
        return ()

    def revoke_grant(self, grant_id: Digest, *, key: Ed25519PrivateKey, reason: str = "") -> Recorded:
        with self.lineage_index() as index:
            entry = index.grant(grant_id)
        if entry is None:
            raise UsageError(f"no grant {grant_id} in this log")
        if entry.revoked_at is not None:
            raise UsageError(f"grant {grant_id} is already revoked (entry {entry.revoked_at})")
        index_, sd = self._append(GrantRevocation(grant_id=grant_id, reason=reason), key)
        return Recorded(index=index_, statement_digest=sd)

    def grants(self, *, grantee: str | None = None, artifact: Digest | None = None) -> list[GrantState]:
        moment = datetime.now(UTC)
        with self.lineage_index() as index:
            found = index.grants(grantee=grantee, artifact=artifact)
        return [GrantState(entry=g, status=_grant_status(g, moment)) for g in found]

    def grant_uses(self, artifact: Digest) -> list[GrantUse]:
        """Who used `artifact`: its `access` records in log order, each with the grant in force
        for its signer at that entry (`covering_grant`)."""
        grants = self.grants(artifact=artifact)
        found: list[GrantUse] = []
        with self.lineage_index() as index:
            for hop in index.consumers(artifact):
                if hop.record.hop is not Hop.ACCESS:
                    continue
                keyid = hop.keyids[0] if hop.keyids else ""
                actor = index.actor_of(keyid, hop.index)
                name = actor.record.name if actor is not None else None
                covering = covering_grant(grants, name, hop.index, hop.record.time)
                found.append(
                    GrantUse(
                        index=hop.index, actor=name, keyid=keyid, time=hop.record.time, grant_id=covering
                    )
                )
        return found

    # -- answering --------------------------------------------------------------------------------

    def verify(self, artifact: Digest, policy: Policy) -> VerifyReport:
        """Walk `artifact` back to its roots and check every hop against `policy`, judging
        environments against the advisories as they stand now."""
        with self.lineage_index() as index, Advisories.open() as advisories:
            return verify(artifact, index, policy, advisories.judge)

    def impact_of_package(self, name: str, version: str, window: Window = ALL_TIME) -> ImpactReport:
        wanted = canonicalize_name(name)
        with self.lineage_index() as index, Advisories.open() as advisories:

            def match(n: str, v: str) -> str | None:
                if canonical(n) != wanted or v != version:
                    return None
                ids = advisories.covering(n, v)
                return f"{name}=={version}" + (f" ({', '.join(ids)})" if ids else "")

            return blast_radius(index, environment_seeds(index, [wanted], match, window))

    def impact_of_advisory(self, advisory_id: str, window: Window = ALL_TIME) -> ImpactReport:
        with self.lineage_index() as index, Advisories.open() as advisories:
            record = advisories.advisory(advisory_id)

            def match(n: str, v: str) -> str | None:
                return f"{n}=={v} ({record.id})" if affects(record, n, v) else None

            seeds = environment_seeds(index, affected_names(record), match, window)
            return blast_radius(index, seeds)

    def impact_of_actor(self, name: str, window: Window = ALL_TIME) -> ImpactReport:
        with self.lineage_index() as index:
            actors = index.actors_named(name)
            registry = self.log.keys()
            keyids = [k.keyid for k in registry if k.name == name]
            if not actors and not keyids:
                raise UsageError(f"no actor or key named {name!r} in this log")
            return blast_radius(index, actor_seeds(index, actors, keyids, window))

    def impact_of_key(self, keyid: str, window: Window = ALL_TIME) -> ImpactReport:
        key = self.log.find_key(keyid)
        with self.lineage_index() as index:
            actor = index.actor_of(key.keyid, self.log.size())
            seeds = actor_seeds(index, [actor] if actor else [], [key.keyid], window)
            return blast_radius(index, seeds)

    def impact_of_dataset(self, artifact: Digest) -> ImpactReport:
        with self.lineage_index() as index:
            if not index.names(artifact):
                raise UsageError(f"no custody record names {artifact}")
            return blast_radius(index, artifact_seeds(index, [artifact], exposed=False))

    def impact_of_location(self, location: str, window: Window = ALL_TIME) -> ImpactReport:
        with self.lineage_index() as index:
            hops = [h for h in index.hops_at_location(location) if window.holds(h)]
            stored = list(dict.fromkeys(d for h in hops for d in h.record.outputs))
            return blast_radius(index, artifact_seeds(index, stored, exposed=True))

    def lineage(self, artifact: Digest) -> LineageGraph:
        """Everything upstream and downstream of `artifact`; `UsageError` when no record names it."""
        with self.lineage_index() as index:
            if not index.names(artifact):
                raise UsageError(f"no custody record names {artifact}")
            return lineage(artifact, index)


def _grant_status(grant: GrantEntry, moment: datetime) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    if predicates.parse_time(grant.record.expires, "expires") <= moment:
        return "expired"
    return "active"


def covering_grant(
    grants: Sequence[GrantState], grantee: str | None, index: int, when: str | None
) -> Digest | None:
    """The grant to `grantee` in force at entry `index`: granted before it and not revoked before
    it, by the log's order (which no signer can change), and not expired at the time the hop
    states."""
    for g in grants:
        e = g.entry
        if e.record.grantee != grantee or e.index >= index:
            continue
        if e.revoked_at is not None and e.revoked_at < index:
            continue
        if when is not None and predicates.parse_time(when, "time") >= predicates.parse_time(
            e.record.expires, "expires"
        ):
            continue
        return e.grant_id
    return None


def parse_artifact(text: str) -> Digest:
    """`sha256:<hex>`, or a path: a file's SHA-256, a directory's manifest root."""
    if text.startswith("sha256:"):
        return digest(text)
    path = Path(text)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{text}: no such file or directory, and not a digest sha256:<hex>")
    return digest(artifact_digest(path))
