"""The server's operations, apart from HTTP: who is asking, may they, and the answer as JSON.

`CustodyServer` holds one store's log and custody for one server process: the logs it reads and
writes through (see the class), the group committer for appends, the replay store, the rate
limiter and the denials waiting to be logged. Every method
takes a `Principal` the request was authenticated as and returns what the route sends back, with
the CLI's JSON shapes; `app` only parses requests and prints answers.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chainproof.attest import dsse, keys
from chainproof.attest import http_signatures as hs
from chainproof.attest.statement import parse as parse_statement
from chainproof.custody import predicates
from chainproof.custody.records import ActorRecord, Digest
from chainproof.custody.service import Custody, parse_artifact
from chainproof.errors import FormatError, StoreError, UsageError
from chainproof.lineage import shapes as lineage_shapes
from chainproof.lineage.index import LineageIndex
from chainproof.log import location, shapes
from chainproof.log.note import parse_vkey
from chainproof.log.service import AppendResult, TransparencyLog
from chainproof.log.store import KeyRecord, KeyRole
from chainproof.server import access, denials
from chainproof.server.access import ANONYMOUS, Denied, Principal
from chainproof.server.committer import Committer
from chainproof.server.cosignatures import Witnessing, open_store, parse_witnesses
from chainproof.server.limits import RateLimiter
from chainproof.server.nonces import NonceStore, PostgresNonces, SqliteNonces
from chainproof.server.settings import ServerSettings
from chainproof.server.vault import open_vault

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.lineage.impact import ImpactReport
    from chainproof.vault.datasets import Vault

SERVER_KEY_FILE = "server.pem"
SERVER_KEY_NAME = "server"
NONCES_FILE = "server-nonces.db"
_ACTOR_SECONDS = 1.0
_READERS = 4  # logs to read through: request threads beyond this wait for one (SQLite reads are short)
_READER_WAIT_S = 30.0
# Each log the server keeps open has its own SQLite connection and page cache. With SQLite's 64 MiB
# each, the server's RSS grew 47 MB in a 10-minute soak (1.3 KB per entry appended, the caches
# filling); with 2 MiB each it levelled off within two minutes.
_CACHE_KIB = 4096


class WouldWait(Exception):
    """The event loop's thread asked for work that may wait or take long (the lineage index): do
    it on a request thread. Raised before anything is changed, so the work can be done again."""


class NotFound(UsageError):
    """What the request names is not in the log: an entry past its end, a leaf it does not hold."""


def server_key(log: TransparencyLog, path: Path | None) -> Ed25519PrivateKey:
    """The server's own key, registered in the log: from `path`, else the store's `server.pem`,
    made and registered with the store's admin key on first start."""
    default = log.directory / SERVER_KEY_FILE
    chosen = path or default
    if chosen.exists():
        key = keys.read_private(chosen)
        keyid = keys.keyid(key.public_key())
        record = next((k for k in log.keys() if k.keyid == keyid), None)  # noqa: SIM118 -- a log, not a dict
        if record is None or not record.valid_at(log.size()):
            state = "is revoked" if record else "is not registered in this log"
            raise UsageError(f"the server's key {chosen} {state}; register another with `key register`")
        return key
    if path is not None:
        raise UsageError(f"cannot read the server's key {path}: no such file")
    key = keys.generate()
    keys.write_private(default, key)
    try:
        log.register_key(_free_name(log), key)
    except UsageError as e:  # the admin key is kept elsewhere (`init --admin-key-out`)
        default.unlink()
        raise UsageError(
            f"the server needs a registered key of its own to sign the entries of denied requests: "
            f"register one and give it with --key FILE ({e})"
        ) from None
    except BaseException:
        default.unlink()
        raise
    return key


def _free_name(log: TransparencyLog) -> str:
    taken = {k.name for k in log.keys() if k.revoked_at is None}  # noqa: SIM118 -- a log, not a dict
    return next(
        n for n in (SERVER_KEY_NAME, *(f"{SERVER_KEY_NAME}-{i}" for i in range(2, 1000))) if n not in taken
    )


class CustodyServer:
    """The store is opened several times, so that nothing waits for what it does not need: the
    committer writes through a log of its own; requests read the log (keys, proofs, entries) through
    a few others (`reading`), and the event loop's thread through one of its own (`read_here`),
    SQLite's snapshots keeping them apart; the custody answers share one lineage index, one
    request at a time and never on the event loop's thread (`custody_turn`)."""

    def __init__(
        self, settings: ServerSettings, *, on_commit: Callable[[int, int], None] | None = None
    ) -> None:
        self.settings = settings
        self._opened: list[TransparencyLog] = []
        self._opening = threading.Lock()
        self._idle: queue.Queue[TransparencyLog] = queue.Queue()
        self._readers = threading.BoundedSemaphore(_READERS)
        self._own: tuple[int, TransparencyLog] | None = None  # see `read_here`
        self._lineage = threading.RLock()
        self._actors: dict[str, tuple[ActorRecord | None, float]] = {}
        self._audits: ProcessPoolExecutor | None = None
        self._audits_lock = threading.Lock()
        try:
            signing = settings.checkpoint_key
            writer = self._open(keys.read_private(signing) if signing is not None else None)
            self.custody = Custody(self._open())
            self._key = server_key(writer, settings.key)
            self.server_keyid = keys.keyid(self._key.public_key())
            self.nonces = _nonces(settings.store, writer.directory, settings.window)
            self.vault: Vault | None = None  # the data vault's datasets, with --vault-key only
            if settings.vault_key is not None:
                self.vault = open_vault(settings, writer.directory)
            self.witnessing = Witnessing(
                open_store(settings.store, writer.directory), parse_witnesses(settings.witnesses)
            )
        except BaseException:
            self._close_logs()
            raise
        self.max_entry_bytes = writer.max_entry_bytes
        self.limiter = RateLimiter(settings.rate, settings.burst)
        self.denials = denials.Denials()
        self.committer = Committer(
            writer, self.denials, self._key, batch_entries=settings.batch_entries, on_commit=on_commit
        )
        self.committer.start()

    def _open(self, checkpoint_key: Ed25519PrivateKey | None = None) -> TransparencyLog:
        log = TransparencyLog.open(self.settings.store, checkpoint_key=checkpoint_key, cache_kib=_CACHE_KIB)
        with self._opening:
            self._opened.append(log)
        return log

    @contextmanager
    def reading(self) -> Iterator[TransparencyLog]:
        """A log to read through, for the length of one request: the event loop's own (see
        `read_here`), one of at most `_READERS` kept open for the request threads (each with its
        own SQLite connection and caches; opening one per request cost more than the request),
        or, for a PostgreSQL store, whose pool gives each thread a connection already, the one
        log."""
        if location.is_postgres(self.settings.store):
            yield self.custody.log
            return
        own = self._own_log()
        if own is not None:
            yield own
            return
        if not self._readers.acquire(timeout=_READER_WAIT_S):
            raise StoreError("the store is too busy to read from; retry")
        try:
            try:
                log = self._idle.get_nowait()
            except queue.Empty:
                log = self._open()  # at most _READERS of them, opened as the load asks
            try:
                yield log
            finally:
                self._idle.put(log)
        finally:
            self._readers.release()

    def _own_log(self) -> TransparencyLog | None:
        """The log of the thread `read_here` was called on (the event loop's), on that thread."""
        own = self._own
        return own[1] if own is not None and own[0] == threading.get_ident() else None

    @contextmanager
    def custody_turn(self) -> Iterator[None]:
        """The lineage index and custody answers, one request at a time. Never on the event
        loop's thread (`WouldWait`): a custody answer can take long, and so can the wait."""
        if self._own_log() is not None:
            raise WouldWait("the lineage index is a request thread's work")
        with self._lineage:
            yield

    def read_here(self) -> bool:
        """Give the calling thread (an event loop's) a log of its own to read through, so that
        the quick reads can answer there rather than wait for a request thread: a trip to one
        costs several times what a proof from cached tiles does. Only for a SQLite store, whose
        readers never wait for a lock; False, and nothing done, for PostgreSQL, whose reads wait
        for the network."""
        if location.is_postgres(self.settings.store):
            return False
        self._own = (threading.get_ident(), self._open())
        return True

    def close(self) -> None:
        """Finish the appends queued, then close the store."""
        self.committer.stop()
        if self._audits is not None:
            self._audits.shutdown(cancel_futures=True)
        self.nonces.close()
        if self.vault is not None:
            self.vault.close()
        self.witnessing.close()
        with self._lineage:
            self.custody.close()
        self._close_logs()

    def _close_logs(self) -> None:
        with self._opening:
            opened, self._opened = self._opened, []
        for log in opened:
            log.close()

    # -- who is asking ------------------------------------------------------------------------

    def authenticate(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Principal:
        """The principal a request is signed by; ANONYMOUS when it carries no signature at all.
        Denied (401) for a bad signature, a stale or replayed one, or a key not valid now."""
        if not any(h.lower() in ("signature", "signature-input") for h in headers):
            return ANONYMOUS
        valid: dict[str, KeyRecord] = {}

        def public_key(keyid: str) -> Ed25519PublicKey | None:
            witness = self.witnessing.signer(keyid)
            if witness is not None:
                return witness.public_key
            # The registry is read at every request: a revoked key is refused from the next one on.
            with self.reading() as log, log.reading() as r:
                record, size = r.key(keyid), r.size()
            if record is None or not record.valid_at(size):
                return None
            valid[keyid] = record
            return Ed25519PublicKey.from_public_bytes(record.public_key)

        try:
            verified = hs.verify_request(method, url, headers, body, public_key, window=self.settings.window)
        except hs.SignatureRejected as e:
            raise Denied(e.code, str(e), 401) from None
        record = valid.get(verified.keyid)
        if record is None:  # a listed witness
            witness = self.witnessing.signer(verified.keyid)
            assert witness is not None
            principal = Principal(verified.keyid, witness.name, None, witness=True)
        else:
            principal = self._principal(record)  # may be `WouldWait`: before the nonce
        if not self.nonces.remember(verified.keyid, verified.nonce, verified.created):
            raise Denied("replayed", "this request was already made: each signature is good once", 401)
        return principal

    def _principal(self, key: KeyRecord) -> Principal:
        if key.role is KeyRole.ADMIN:
            return Principal(key.keyid, key.name, access.Role.ADMIN)
        actor = self._actor(key.keyid)
        if actor is None:
            return Principal(key.keyid, key.name, None)
        return Principal(key.keyid, key.name, access.role_of(actor.role), actor.organisation)

    def _actor(self, keyid: str) -> ActorRecord | None:
        """The actor record of a key, looked up in the lineage index at most every
        `_ACTOR_SECONDS`: the index is shared by every request thread, and an actor's role rarely
        changes (a key's revocation and a grant's are read afresh at every request)."""
        now = time.monotonic()
        cached = self._actors.get(keyid)
        if cached is not None and now - cached[1] < _ACTOR_SECONDS:
            return cached[0]
        with self._index() as (index, size):
            entry = index.actor_of(keyid, size)
        actor = None if entry is None else entry.record
        self._actors[keyid] = (actor, now)
        return actor

    @contextmanager
    def _index(self) -> Iterator[tuple[LineageIndex, int]]:
        with self.custody_turn(), self.custody.lineage_index() as index:
            yield index, self.custody.log.size()

    def deny(self, principal: Principal, method: str, path: str, error: Denied, client: str) -> None:
        """Keep a refusal for the log (the committer appends it, signed by the server's key)."""
        when = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        self.denials.add(
            denials.Denial(
                keyid=principal.keyid,
                actor=principal.name,
                method=method,
                path=path[:512],
                status=error.status,
                code=error.code,
                reason=str(error)[:512],
                time=when,
                client=client,
            )
        )

    def _organisation(self, keyid: str) -> str | None:
        actor = self._actor(keyid)
        return None if actor is None else actor.organisation

    # -- the log ------------------------------------------------------------------------------

    def _may_read_log(self, principal: Principal, *, contents: bool = False) -> None:
        """The log's reads: anyone's on a public log; on a private one, signed requests', and of
        the entries themselves (`contents`, not only hashes and checkpoints) not a contractor's."""
        if not self.settings.public_log:
            access.may_read_private_log(principal, contents=contents)

    def size(self) -> int:
        with self.reading() as log:
            return log.size()

    def info(self, principal: Principal) -> dict[str, Any]:
        self._may_read_log(principal)
        with self.reading() as log:
            info = shapes.LogInfo.of(log).to_json()
        return info | {"store": None, "server_keyid": self.server_keyid}

    def checkpoint(self, principal: Principal) -> dict[str, Any]:
        self._may_read_log(principal)
        with self.reading() as log:
            note = log.checkpoint()
        return self.witnessing.served(shapes.checkpoint_json(note))

    def add_cosignatures(self, principal: Principal, body: bytes) -> dict[str, Any]:
        """Keep the cosignatures of listed witnesses that a checkpoint note of this log carries
        (`POST /v1/log/cosignatures`): `{"cosignatures": [{"name", "vkey", "time"}]}`. The
        request is signed by a listed witness (with its cosigning key) or a registered key."""
        access.require_signature(principal)
        self._may_read_log(principal)
        try:
            note = body.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("the body is not a UTF-8 checkpoint note") from None
        with self.reading() as log:
            origin = log.origin
            with log.reading() as r:
                kept = self.witnessing.accept(note, origin, r.checkpoint)
        return {"cosignatures": kept}

    def witnesses(self, principal: Principal) -> dict[str, Any]:
        """Each listed witness and the largest tree it cosigned (`GET /v1/witnesses`)."""
        self._may_read_log(principal)
        with self.reading() as log:
            size = log.size()
        return self.witnessing.status(size)

    def entry(self, principal: Principal, index: int) -> dict[str, Any]:
        self._may_read_log(principal, contents=True)
        with self.reading() as log, log.reading() as r:
            size = r.size()
            if not 0 <= index < size:
                raise NotFound(f"index {index} is outside the log (size {size})")
            leaf = r.entry(index)
        return {"index": index, "leaf": base64.b64encode(leaf).decode()}

    def entries(self, principal: Principal, start: int, limit: int) -> dict[str, Any]:
        self._may_read_log(principal, contents=True)
        limit = self._page(limit)
        with self.reading() as log, log.reading() as r:
            size = r.size()
            if not 0 <= start <= size:
                raise UsageError(f"start {start} is outside the log (size {size})")
            end = min(size, start + limit)
            leaves = list(r.entries(start, end))
        return {
            "entries": [
                {"index": start + i, "leaf": base64.b64encode(leaf).decode()} for i, leaf in enumerate(leaves)
            ],
            "tree_size": size,
            "next": end if end < size else None,
        }

    def prove(
        self, principal: Principal, index: int | None, leaf_hash: str | None, size: int | None
    ) -> dict[str, Any]:
        self._may_read_log(principal)
        if leaf_hash is None and index is None:
            raise UsageError("give an index or a leaf_hash")
        with self.reading() as log:
            if leaf_hash is not None:
                wanted = _hash(leaf_hash)
                with log.reading() as r:
                    if wanted not in r.find_leaves([wanted]):
                        raise NotFound(f"no entry with leaf hash {leaf_hash} in this log")
                return log.prove_leaf(wanted, size).to_json()
            assert index is not None
            return log.prove(index, size).to_json()

    def consistency(self, principal: Principal, old: int, new: int | None) -> dict[str, Any]:
        self._may_read_log(principal)
        with self.reading() as log:
            return log.consistency(old, new).to_json()

    def keys(self, principal: Principal, start: int, limit: int) -> dict[str, Any]:
        self._may_read_log(principal, contents=True)
        with self.reading() as log:
            records = log.keys()
        return _page(records, start, self._page(limit), "keys", _key_json)

    def _page(self, limit: int) -> int:
        if limit < 1:
            raise UsageError(f"limit {limit} must be at least 1")
        return min(limit, self.settings.page_limit)

    # -- appending ----------------------------------------------------------------------------

    def submit(self, principal: Principal, body: bytes) -> Future[AppendResult]:
        """Check an append against the principal's role, then queue it; the future answers."""
        access.may_write(principal)
        labelled = dsse.read_documents(io.BytesIO(body), "request", self.max_entry_bytes)
        envelopes = [env for _, env in labelled]
        submitted = [_submitted(env) for env in envelopes]
        access.may_append(principal, submitted, self._organisation, _granted(self.custody, self.custody_turn))
        return self.committer.submit(envelopes, [label for label, _ in labelled])

    # -- audits -------------------------------------------------------------------------------

    def audit(self, principal: Principal) -> Future[dict[str, Any]]:
        """An audit of the store against its own verifier key, run in a worker process (never on
        a request's thread: it reads the whole log); the future gives the report's JSON."""
        access.may_audit(principal)
        with self._audits_lock:
            if self._audits is None:
                context = multiprocessing.get_context("spawn")  # no copy of this process's threads
                self._audits = ProcessPoolExecutor(max_workers=1, mp_context=context)
            return self._audits.submit(audit_store, self.settings.store)

    # -- custody ------------------------------------------------------------------------------

    def actors(self, principal: Principal, start: int, limit: int) -> dict[str, Any]:
        access.may_read_all(principal)
        with self._index() as (index, _):
            found = index.actors()
        return _page(found, start, self._page(limit), "actors", lineage_shapes.actor_json)

    def grants(
        self, principal: Principal, grantee: str | None, artifact: str | None, start: int, limit: int
    ) -> dict[str, Any]:
        wanted = parse_artifact(artifact) if artifact else None
        if wanted is not None:
            access.may_read_artifact(principal, wanted, _granted(self.custody, self.custody_turn))
        elif principal.role is access.Role.CONTRACTOR and grantee == principal.name:
            access.require_signed(principal)  # a contractor may list its own grants
        else:
            access.may_read_all(principal)
        with self.custody_turn():
            found = self.custody.grants(grantee=grantee, artifact=wanted)
        return _page(
            found, start, self._page(limit), "grants", lambda g: lineage_shapes.grant_json(g.entry, g.status)
        )

    def grant_uses(self, principal: Principal, artifact: str) -> dict[str, Any]:
        """Who used a dataset (its `access` records, each with the grant that covered it), for
        whoever may read the dataset's grants."""
        wanted = parse_artifact(artifact)
        access.may_read_artifact(principal, wanted, _granted(self.custody, self.custody_turn))
        with self.custody_turn():
            found = self.custody.grant_uses(wanted)
        return {"artifact": wanted, "uses": [lineage_shapes.grant_use_json(u) for u in found]}

    def lineage(self, principal: Principal, artifact: str) -> dict[str, Any]:
        wanted = parse_artifact(artifact)
        access.may_read_artifact(principal, wanted, _granted(self.custody, self.custody_turn))
        with self.custody_turn():
            return lineage_shapes.graph_json(self.custody.lineage(wanted))

    def verify(self, principal: Principal, artifact: str) -> dict[str, Any]:
        wanted = parse_artifact(artifact)
        access.may_read_artifact(principal, wanted, _granted(self.custody, self.custody_turn))
        with self.custody_turn():
            return lineage_shapes.verify_json(self.custody.verify(wanted, self.custody.policy()))

    def impact(self, principal: Principal, what: str, value: str) -> dict[str, Any]:
        access.may_read_all(principal)
        with self.custody_turn():
            return lineage_shapes.impact_json(self._impact(what, value))

    def _impact(self, what: str, value: str) -> ImpactReport:
        c = self.custody
        if what == "package":
            name, sep, version = value.partition("==")
            if not sep or not name or not version:
                raise UsageError(f"a package is NAME==VERSION, not {value!r}")
            return c.impact_of_package(name, version)
        ask: dict[str, Callable[[str], ImpactReport]] = {
            "advisory": c.impact_of_advisory,
            "actor": c.impact_of_actor,
            "key": c.impact_of_key,
            "dataset": lambda v: c.impact_of_dataset(parse_artifact(v)),
            "location": c.impact_of_location,
        }
        if what not in ask:
            raise UsageError(f"impact of {what!r}: give one of package, {', '.join(ask)}")
        return ask[what](value)


def audit_store(store: Path | str) -> dict[str, Any]:
    """The audit of a store against its own verifier key, as JSON: run in an audit worker."""
    log = TransparencyLog.open(store, read_only=True)
    try:
        return log.audit(parse_vkey(log.vkey)).to_json()
    finally:
        log.close()


def _nonces(store: Path | str, directory: Path, window: int) -> NonceStore:
    """Where the nonces of accepted requests are kept: beside a store directory, for the server
    processes of this host; in a PostgreSQL log's database, for those of every host."""
    if location.is_postgres(store):
        url, name = location.postgres_parts(str(store))
        return PostgresNonces(url, name, window)
    return SqliteNonces(directory / NONCES_FILE, window)


def _submitted(env: dsse.Envelope) -> access.Submitted:
    """What the rules see of an envelope; one that is not an in-toto statement (or breaks its
    custody type's schema) is refused here as admission would refuse it."""
    if env.payload_type != "application/vnd.in-toto+json":
        raise FormatError(f"payload type {env.payload_type!r} is not an in-toto statement")
    st = parse_statement(env.payload)
    try:
        record = predicates.from_statement(st)
    except predicates.PredicateError as e:
        raise FormatError(str(e)) from None
    return access.Submitted(st.predicate_type, record, tuple(s.keyid for s in env.signatures))


def _granted(custody: Custody, lock: Callable[[], AbstractContextManager[None]]) -> access.Granted:
    def granted(name: str, artifact: Digest) -> bool:
        with lock():
            return any(g.status == "active" for g in custody.grants(grantee=name, artifact=artifact))

    return granted


def _key_json(record: KeyRecord) -> dict[str, Any]:
    return shapes.key_json(record) | {"public_key": base64.b64encode(record.public_key).decode()}


def _page(
    items: Sequence[Any], start: int, limit: int, name: str, shape: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    if start < 0:
        raise UsageError(f"start {start} is negative")
    end = min(len(items), start + limit)
    return {
        name: [shape(x) for x in items[start:end]],
        "total": len(items),
        "next": end if end < len(items) else None,
    }


def _hash(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UsageError(f"{text[:80]!r} is not a 64-hex leaf hash")
    return raw
