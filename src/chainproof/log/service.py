"""The custody log: a store directory, its signing keys, and the rules for writing to it.

A store directory holds `log.db` (the SQLite store), `leaf-index.db` (its leaf-hash index, derived
data), `log-signer.pem` (the checkpoint signing key) and, unless `init` was told to keep it
elsewhere, `admin.pem` (the key that registers and revokes actor keys). Every append admits each
envelope under `entries.admit`, writes the canonical leaves, updates the key registry index, and
signs a checkpoint for the new size, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainproof._internal import config
from chainproof.errors import StoreError, UsageError, VerificationError
from chainproof.log import location, merkle
from chainproof.log.proofs import ConsistencyProof, InclusionProof
from chainproof.log.sqlite import CACHE_KIB, SqliteStore, leaf_index_path
from chainproof.log.store import KeyRecord, LogReader, LogStore, LogWriter, append_leaves, find_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.attest import dsse
    from chainproof.log.audit import AuditReport
    from chainproof.log.entries import Prechecked, Preverifying, Rules, Verified
    from chainproof.log.export import Event
    from chainproof.log.note import Checkpoint, NoteSigner, NoteVerifier
    from chainproof.log.rehash_workers import Jobs, Opener
    from chainproof.log.repair import Repair

# Signing, admission, audit and export are imported where they are used: read-only commands
# (`log get`, `log prove`) run once per call and should not pay for loading the crypto stack.

DB_FILE = "log.db"
SIGNER_FILE = "log-signer.pem"
ADMIN_FILE = "admin.pem"


@dataclass(frozen=True)
class AppendedEntry:
    index: int
    leaf_hash: bytes
    duplicate: bool


class _Unconfirmed(Exception):
    """A signature a batch was admitted with did not verify: the writer's transaction is undone."""


@dataclass(frozen=True)
class AppendResult:
    entries: tuple[AppendedEntry, ...]
    tree_size: int
    checkpoint: str


Meanwhile = Callable[[Sequence[AppendedEntry], int], None]
"""Work derived from a batch that `TransparencyLog.append` does under the write lock, while the
batch's signatures are being confirmed: it is given the entries as they will be appended and the
tree size after them, and its owner undoes it if `append` raises (the lineage index is filed so)."""

Watch = Callable[[Iterable["Event"], int], Iterable["Event"]]
"""Sees the events of an export or audit go by (given the log size), e.g. to show progress."""


def _unwatched(events: Iterable[Event], size: int) -> Iterable[Event]:
    return events


def root_at(reader: LogReader, size: int) -> bytes:
    """The Merkle tree hash of the first `size` entries, from stored complete subtrees."""
    return merkle.fold_range(reader.node_hashes(merkle.perfect_nodes(0, size)))


_KNOWN_RANGES = 4096
_Known = dict[tuple[int, int], bytes]  # leaf range -> its Merkle tree hash


def _range_hash(reader: LogReader, begin: int, end: int, known: _Known) -> bytes:
    """The Merkle tree hash of leaves [begin, end), from the stored subtrees it is made of.

    `known` keeps these hashes between calls (a tree's right border, a whole tree): a log only
    grows, so a range's hash never changes, and every proof at one tree size needs the same ones.
    Only proofs use it: they read committed data, where a writer could fold ranges of its own that
    a rollback then takes back.
    """
    h = known.get((begin, end))
    if h is None:
        h = merkle.fold_range(reader.node_hashes(merkle.perfect_nodes(begin, end)))
        if len(known) >= _KNOWN_RANGES:
            known.clear()
        known[begin, end] = h
    return h


def _proof_hashes(
    reader: LogReader,
    path: merkle.ProofNodes,
    extra: Sequence[tuple[int, int]],
    known: _Known,
) -> tuple[list[bytes], list[bytes]]:
    """The hashes of a proof's path, and of `extra` nodes read in the same pass over the tiles."""
    hashes = reader.node_hashes([*path.nodes, *extra])
    proof = hashes[: len(path.nodes)]
    if path.border is not None:
        proof.insert(path.at, _range_hash(reader, *path.border, known))
    return proof, hashes[len(path.nodes) :]


class TransparencyLog:
    """Open with `TransparencyLog.open(dir)` or create with `TransparencyLog.create(dir, origin)`.

    `max_entry_bytes` is the largest entry it appends (default: `config.max_entry_bytes()`)."""

    def __init__(
        self,
        directory: Path,
        store: LogStore,
        *,
        max_entry_bytes: int | None = None,
        rules: Rules | None = None,
        checkpoint_key: Ed25519PrivateKey | None = None,
    ) -> None:
        """`checkpoint_key` signs the log's checkpoints; without it, the store directory's
        log-signer.pem, read when the log first writes."""
        self.directory = directory
        self.store = store
        self._rules = rules
        self._checkpoint_key = checkpoint_key
        self.max_entry_bytes = config.max_entry_bytes() if max_entry_bytes is None else max_entry_bytes
        self._known_ranges: _Known = {}  # for proofs: see `_range_hash`
        self._seen_size = 0  # the largest size this process has read; a log never shrinks

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path | str,
        *,
        read_only: bool | None = None,
        max_entry_bytes: int | None = None,
        checkpoint_key: Ed25519PrivateKey | None = None,
        cache_kib: int | None = None,
    ) -> TransparencyLog:
        """The log in `directory`, or in the PostgreSQL database a `postgresql://` URL names (see
        `location`); read-only when this process cannot write it, or when `read_only` says so (its
        reads then write nothing, not even beside the store). `checkpoint_key` as for the log;
        `cache_kib`, a SQLite store's page cache (default `sqlite.CACHE_KIB`)."""
        store: LogStore
        if location.is_postgres(directory):
            directory, store = _postgres(str(directory), create=False)
        else:
            directory = Path(directory)
            db = directory / DB_FILE
            if not db.exists():
                raise StoreError(f"no chainproof store at {directory} (run `chainproof init` first)")
            store = SqliteStore(db, read_only=read_only, cache_kib=cache_kib or CACHE_KIB)
        return cls(directory, store, max_entry_bytes=max_entry_bytes, checkpoint_key=checkpoint_key)

    @classmethod
    def create(
        cls, directory: Path | str, origin: str, *, admin_key_out: Path | None = None
    ) -> TransparencyLog:
        """A new log in `directory` (SQLite), or in a PostgreSQL database (a `postgresql://` URL),
        with its genesis entry; the checkpoint key and the admin key are made and written to the
        store directory (for PostgreSQL, its local directory: see `location`)."""
        from chainproof.log.note import valid_name

        # Checked before the directory is made: the checkpoint key would refuse it only later.
        if not valid_name(origin):
            raise UsageError(f"origin {origin!r} must be non-empty, without spaces or '+'")
        store: LogStore | None = None
        if location.is_postgres(directory):
            directory, store = _postgres(str(directory), create=True)
            if store_has_log(store):
                store.close()
                raise UsageError(f"{location.describe(directory)} already holds a chainproof log")
        directory = Path(directory)
        if store is None and (directory / DB_FILE).exists():
            raise UsageError(f"{directory} already holds a chainproof store")
        new_directory = not directory.exists()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create {directory}: {e.strerror}") from None
        from chainproof.attest import keys
        from chainproof.log.note import NoteSigner

        signer = NoteSigner(origin, keys.generate())
        admin = keys.generate()
        written: list[Path] = []  # what to take back if creation fails, so that `init` can run again
        try:
            for path, key in (
                (directory / SIGNER_FILE, signer.private_key),
                (admin_key_out or directory / ADMIN_FILE, admin),
            ):
                keys.write_private(path, key)
                written.append(path)
            if store is None:
                written += _database_files(directory / DB_FILE)
            return cls._initialise(directory, signer, admin, store)
        except BaseException:
            if store is not None:
                store.close()
            for path in written:
                path.unlink(missing_ok=True)
            if new_directory:
                with suppress(OSError):
                    directory.rmdir()
            raise

    @classmethod
    def _initialise(
        cls, directory: Path, signer: NoteSigner, admin: Ed25519PrivateKey, store: LogStore | None = None
    ) -> TransparencyLog:
        """A new log in `store` (by default a new SQLite store in `directory`): its settings, and
        the genesis entry with its checkpoint."""
        from chainproof.attest import keys, signing
        from chainproof.log import entries

        store = store or SqliteStore(directory / DB_FILE, create=True)
        log = cls(directory, store)
        try:
            genesis = entries.genesis_statement(signer.name, signer.verifier.vkey, admin.public_key())
            with store.writer() as w:
                w.set_meta("origin", signer.name)
                w.set_meta("checkpoint_vkey", signer.verifier.vkey)
                w.set_meta("admin_keyid", keys.keyid(admin.public_key()))
                log._append(w, [signing.sign_statement(genesis, admin)], signer)
        except BaseException:
            store.close()
            raise
        return log

    def close(self) -> None:
        self.store.close()

    # -- facts -----------------------------------------------------------------------------

    def _meta(self, reader: LogReader, key: str) -> str:
        value = reader.meta(key)
        if value is None:
            raise StoreError(f"{self.directory}: the store has no {key!r}; it was not initialised")
        return value

    @contextmanager
    def reading(self) -> Iterator[LogReader]:
        with self.store.reader() as r:
            yield r

    @property
    def origin(self) -> str:
        with self.store.reader() as r:
            return self._meta(r, "origin")

    @property
    def vkey(self) -> str:
        with self.store.reader() as r:
            return self._meta(r, "checkpoint_vkey")

    def size(self) -> int:
        with self.store.reader() as r:
            return r.size()

    def checkpoint(self) -> str:
        with self.store.reader() as r:
            note = r.checkpoint()
        if note is None:
            raise StoreError(f"{self.directory}: the store has issued no checkpoint")
        return note

    def entry(self, index: int) -> bytes:
        with self.store.reader() as r:
            _check_index(index, r.size())
            return r.entry(index)

    def keys(self) -> list[KeyRecord]:
        with self.store.reader() as r:
            return r.keys()

    def find_key(self, name_or_keyid: str) -> KeyRecord:
        return find_key(self.keys(), name_or_keyid)

    # -- proofs ----------------------------------------------------------------------------

    def _proof_size(self, reader: LogReader, size: int | None) -> int:
        """The tree size a proof is for: `size`, once checked against the log's, or the log's.

        A size at most one already read needs no read: the log has at least that many entries.
        Together with the tiles and ranges kept in memory, a proof at a known size then reads
        nothing from the database."""
        if size is not None and 0 <= size <= self._seen_size:
            return size
        current = reader.size()
        self._seen_size = max(self._seen_size, current)
        return _check_size(size, current)

    def prove(self, index: int, size: int | None = None) -> InclusionProof:
        with self.store.reader() as r:
            n = self._proof_size(r, size)
            _check_index(index, n)
            path = merkle.inclusion_nodes(index, n)
            proof, [leaf] = _proof_hashes(r, path, [(0, index)], self._known_ranges)
            root = _range_hash(r, 0, n, self._known_ranges)
            return InclusionProof(index, n, leaf, root, tuple(proof))

    def prove_leaf(self, leaf_hash: bytes, size: int | None = None) -> InclusionProof:
        with self.store.reader() as r:
            index = r.find_leaves([leaf_hash]).get(leaf_hash)
        if index is None:
            raise UsageError(f"no entry with leaf hash {leaf_hash.hex()} in this log")
        return self.prove(index, size)

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        with self.store.reader() as r:
            n = self._proof_size(r, new)
            if new is not None and old > n:
                raise UsageError(f"old size {old} is larger than new size {n}")
            _check_size(old, n, "old size")
            # The proof leaves out the root of an old tree whose size is a power of two: one stored
            # subtree, read with it. Any other old root is what the proof's left side folds to.
            whole = [(old.bit_length() - 1, 0)] if 0 < old < n and old & (old - 1) == 0 else []
            path = merkle.consistency_nodes(old, n)
            proof, extra = _proof_hashes(r, path, whole, self._known_ranges)
            new_root = _range_hash(r, 0, n, self._known_ranges)
            if old in (0, n):
                old_root = new_root if old else merkle.EMPTY_ROOT
            else:
                old_root = extra[0] if extra else merkle.consistency_old_root(old, path, proof)
            return ConsistencyProof(old, n, old_root, new_root, tuple(proof))

    # -- export and audit ------------------------------------------------------------------

    def export(self, path: Path, *, watch: Watch = _unwatched) -> int:
        """Write the whole log to an export file, from one snapshot; return its size."""
        with self.store.reader() as r:
            size = r.size()
            from chainproof.log import export

            header = export.Header(self._meta(r, "origin"), self._meta(r, "checkpoint_vkey"), size)
            export.write(path, header, watch(self._unchanged_after(export.events(r, size)), size))
        return size

    def _unchanged_after(self, events: Iterable[Event]) -> Iterator[Event]:
        """`events`, then the check that a store read without locks was not written meanwhile
        (see `SqliteStore.check_unchanged`), before the export file takes its name."""
        yield from events
        if isinstance(self.store, SqliteStore):
            self.store.check_unchanged()

    @property
    def rules(self) -> Rules:
        """How this log admits entries (by default `default_rules()`), loaded when first needed:
        reading commands never admit anything."""
        if self._rules is None:
            self._rules = default_rules()
        return self._rules

    def audit(
        self,
        verifier: NoteVerifier,
        *,
        saved: Checkpoint | None = None,
        watch: Watch = _unwatched,
        jobs: Jobs | None = None,
    ) -> AuditReport:
        """Audit the store: its entries and checkpoints, then its tiles and key index.

        `jobs` says how many processes re-hash a large SQLite store (default: `Jobs.default()`).
        """
        with self.store.reader() as r:
            size = r.size()
            from chainproof.log import audit

            return audit.audit_store(
                r,
                size,
                verifier,
                saved=saved,
                watch=lambda events: watch(events, size),
                open_reader=self.read_only_opener(),
                jobs=jobs,
                rules=self.rules,
            )

    def read_only_opener(self) -> Opener | None:
        """A way to open another read transaction on this store, on a connection of its own, for
        worker processes (an audit's re-hashing, the lineage index's parsing); None if the store
        cannot give one."""
        store = self.store
        if not isinstance(store, SqliteStore):
            return None
        from chainproof.log import sqlite

        return lambda: sqlite.read_only(store.path, immutable=store.unlocked is not None)

    # -- writing ---------------------------------------------------------------------------

    def _signer(self, reader: LogReader) -> NoteSigner:
        """The checkpoint signer, once its key is known to be the one the log's verifier key names.

        Checked before anything is written: every checkpoint is kept, so one signed by another key
        would make every later audit fail, whatever key signs after it."""
        from chainproof.attest import keys
        from chainproof.log.note import NoteSigner

        path = self.directory / SIGNER_FILE
        key = self._checkpoint_key or keys.read_private(path)
        signer = NoteSigner(self._meta(reader, "origin"), key)
        vkey = self._meta(reader, "checkpoint_vkey")
        if signer.verifier.vkey != vkey:
            given = "the checkpoint key given" if self._checkpoint_key else str(path)
            raise StoreError(
                f"{given} is not this log's checkpoint key: the log's verifier key is {vkey}, and "
                "checkpoints signed with this one would fail every audit; put the log's own key back "
                "(nothing was written)"
            )
        return signer

    def append(
        self,
        envelopes: Sequence[dsse.Envelope],
        labels: Sequence[str] = (),
        *,
        meanwhile: Meanwhile | None = None,
    ) -> AppendResult:
        """Admit and append every envelope, or none of them; `labels` name them in errors.
        `meanwhile`, if given, is called once the batch is written and before it commits (see
        `Meanwhile`), unless nothing was new; it may be called again if admission starts over."""
        from chainproof.log import entries

        self._check_sizes(envelopes, labels)
        # The signatures are verified elsewhere (in a process of their own for a large batch, on
        # helper threads for a small one) while this thread checks the statements' schemas, then
        # admits and writes the batch as if they all verify: the two halves of admission side by
        # side on two cores. The signatures are confirmed before the tree head is signed; if one
        # does not verify, nothing was kept, and the batch is admitted again with the outcome
        # known, for the error (docs/adr/0016).
        started = self._preverify(envelopes)
        prechecked = entries.precheck(envelopes, self.rules)

        def write(ahead: Preverifying | None, verified: Sequence[Verified] = ()) -> AppendResult:
            with self.store.writer() as w:
                return self._append(
                    w,
                    envelopes,
                    self._signer(w),
                    labels,
                    started=ahead,
                    verified=verified,
                    prechecked=prechecked,
                    meanwhile=meanwhile,
                )

        try:
            return write(started)
        except _Unconfirmed:
            return write(None, started.result())

    def _check_sizes(self, envelopes: Sequence[dsse.Envelope], labels: Sequence[str]) -> None:
        """Refuse an envelope larger than `max_entry_bytes` in canonical form, before any work."""
        from chainproof.attest import dsse
        from chainproof.log.entries import RejectedEntry

        for position, env in enumerate(envelopes):
            size = env.canonical_size()
            if size > self.max_entry_bytes:
                raise RejectedEntry(
                    f"{_label(labels, position)}: {dsse.too_large(size, self.max_entry_bytes)}"
                )

    def _preverify(self, envelopes: Sequence[dsse.Envelope]) -> Preverifying:
        """Each envelope's signatures checked before the write lock, against the registry as it is:
        started elsewhere (`entries.Preverifying`); what it returns gives the result."""
        from chainproof.log import entries

        with self.reading() as r:  # the keys first: the store's connection stays in this thread
            keyids = {s.keyid for env in envelopes for s in env.signatures if s.keyid}
            known = {k: r.key(k) for k in keyids}
        return entries.Preverifying(envelopes, known.get)

    def _append(
        self,
        w: LogWriter,
        envelopes: Sequence[dsse.Envelope],
        signer: NoteSigner,
        labels: Sequence[str] = (),
        *,
        started: Preverifying | None = None,
        verified: Sequence[Verified] = (),
        prechecked: Sequence[Prechecked] = (),
        meanwhile: Meanwhile | None = None,
    ) -> AppendResult:
        """Admit and write `envelopes` under the write lock. `verified` gives the signatures
        verified ahead (`_preverify`), or `started` those being verified, which are taken as good
        until they are confirmed, before the checkpoint is signed (`_Unconfirmed` if one is not);
        `prechecked` gives the statements checked ahead (`entries.precheck`); `meanwhile` as for
        `append`."""
        from chainproof.log import entries

        size = w.size()
        known: dict[str, KeyRecord | None] = {}

        def lookup(keyid: str) -> KeyRecord | None:
            if keyid not in known:
                known[keyid] = w.key(keyid)
            return known[keyid]

        canonical = [env.canonical() for env in envelopes]
        hashes = merkle.leaf_hashes(canonical)
        present = w.find_leaves(hashes)
        if started is not None:
            verified = started.submitted
        leaves: list[bytes] = []
        changed: list[KeyRecord] = []
        results: list[AppendedEntry] = []
        for position, (env, leaf, h) in enumerate(zip(envelopes, canonical, hashes, strict=True)):
            if h in present:
                results.append(AppendedEntry(present[h], h, duplicate=True))
                continue
            index = size + len(leaves)
            try:
                admitted = entries.admit(
                    env,
                    index,
                    lookup,
                    verified[position] if position < len(verified) else frozenset(),
                    self.rules,
                    prechecked=prechecked[position] if position < len(prechecked) else None,
                )
            except VerificationError as e:
                if started is not None and not started.confirmed():
                    raise _Unconfirmed from None  # the first error may be an earlier signature's
                raise type(e)(f"{_label(labels, position)}: {e}") from None
            if admitted.key_change is not None:
                known[admitted.key_change.keyid] = admitted.key_change
                changed.append(admitted.key_change)
            present[h] = index
            leaves.append(leaf)
            results.append(AppendedEntry(index, h, duplicate=False))
        if not leaves:
            note = w.checkpoint()
            return AppendResult(tuple(results), size, note or "")
        append_leaves(w, leaves, [r.leaf_hash for r in results if not r.duplicate], size=size)
        for record in changed:
            w.put_key(record)
        new_size = size + len(leaves)
        if meanwhile is not None:
            meanwhile(results, new_size)
        if started is not None and not started.confirmed():
            raise _Unconfirmed
        from chainproof.log.note import Checkpoint

        note = signer.sign(Checkpoint(signer.name, new_size, root_at(w, new_size)).body())
        w.add_checkpoint(new_size, note)
        return AppendResult(tuple(results), new_size, note)

    def admin_key(
        self, admin_key: Path | None = None, passphrase: bytes | None = None
    ) -> tuple[Ed25519PrivateKey, str]:
        """The admin key (from `admin_key`, by default the store's), checked to be this log's."""
        return self._admin_key(admin_key, passphrase)

    def repair_checkpoints(self, *, jobs: Jobs | None = None) -> Repair:
        """Sign again, with the log's own key, each stored checkpoint its verifier key rejects
        (see `repair`), once the whole log audits clean with them signed so; else StoreError, and
        nothing is written. `jobs` as for `audit`."""
        from chainproof.log import audit, repair

        with self.store.writer() as w:
            signer = self._signer(w)
            try:
                bad = repair.rejected(w, signer)
            except StoreError as e:
                raise StoreError(f"{self.directory}: {e} (nothing was written)") from None
            if bad:
                report = audit.audit_store(
                    w,
                    w.size(),
                    signer.verifier,
                    watch=repair.substituted(bad),
                    open_reader=self.read_only_opener(),
                    jobs=jobs,
                    rules=self.rules,
                )
                if not report.ok:
                    more = f" and {report.problem_count - 1} more" if report.problem_count > 1 else ""
                    raise StoreError(
                        f"{self.directory}: not repaired (nothing was written): with its checkpoints "
                        f"signed again the log still fails its audit: {report.problems[0]}{more}"
                    )
                for r in bad:
                    w.add_checkpoint(r.size, r.new)
            return repair.Repair(tuple(r.size for r in bad), sum(1 for _ in w.checkpoints()))

    def _admin_key(self, admin_key: Path | None, passphrase: bytes | None) -> tuple[Ed25519PrivateKey, str]:
        from chainproof.attest import keys

        key = keys.read_private(admin_key or self.directory / ADMIN_FILE, passphrase)
        with self.store.reader() as r:
            expected = self._meta(r, "admin_keyid")
        if keys.keyid(key.public_key()) != expected:
            raise UsageError("that key is not this log's admin key")
        return key, expected

    def register_key(
        self,
        name: str,
        key: Ed25519PrivateKey,
        *,
        admin_key: Path | None = None,
        passphrase: bytes | None = None,
    ) -> AppendResult:
        """Register `key` as `name`, signed by the admin key; refused (UsageError) while another
        key of that name is registered and not revoked: an auditor tells actors apart by name."""
        admin, _ = self._admin_key(admin_key, passphrase)
        from chainproof.attest import signing
        from chainproof.log import entries

        envelope = signing.sign_statement(entries.registration_statement(name, key.public_key()), admin)
        with self.store.writer() as w:  # checked under the write lock: no other writer names it meanwhile
            check_name_free(w.keys(), name)
            return self._append(w, [envelope], self._signer(w))

    def revoke_key(
        self,
        record: KeyRecord,
        *,
        effective_from: int | None,
        reason: str,
        admin_key: Path | None = None,
        passphrase: bytes | None = None,
    ) -> AppendResult:
        admin, _ = self._admin_key(admin_key, passphrase)
        size = self.size()
        start = size if effective_from is None else effective_from
        check_revocation(record, start, size)
        from chainproof.attest import signing
        from chainproof.log import entries

        st = entries.revocation_statement(record, start, reason)
        return self.append([signing.sign_statement(st, admin)])


def _postgres(url: str, *, create: bool) -> tuple[Path, LogStore]:
    """The local directory and the store of a PostgreSQL log (see `location`)."""
    from chainproof.log.postgres import PostgresStore

    conninfo, name = location.postgres_parts(url)
    # Reading needs no key; writing needs this directory's log-signer.pem, copied from the host
    # that created the log (the error that names it comes when it is first needed).
    directory = location.local_directory(url)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory, PostgresStore(conninfo, log_name=name, create=create)


def copy_store(
    source: Path | str, target: Path | str, *, progress: Callable[[int, int], None] | None = None
) -> tuple[int, AuditReport]:
    """Copy the log at `source` (a store directory or a PostgreSQL URL) to `target`, a new store of
    either kind, with its key files; then audit the copy against the log's verifier key."""
    from chainproof.log import copy
    from chainproof.log.note import parse_vkey

    if str(source) == str(target):
        raise UsageError("the source and the destination are the same store")
    src = TransparencyLog.open(source, read_only=True)
    try:
        directory, store = _new_store(target)
        try:
            size = copy.copy_log(src.store, store, progress=progress)
            copy.copy_key_files(src.directory, directory)
            return size, TransparencyLog(directory, store).audit(parse_vkey(src.vkey))
        finally:
            store.close()
    finally:
        src.close()


def _new_store(target: Path | str) -> tuple[Path, LogStore]:
    """The directory and the store of a log about to be made at `target`."""
    if location.is_postgres(target):
        directory, store = _postgres(str(target), create=True)
        if store_has_log(store):
            store.close()
            raise UsageError(
                f"{location.describe(target)} already holds a chainproof log (nothing was written)"
            )
        return directory, store
    directory = Path(target)
    if (directory / DB_FILE).exists():
        raise UsageError(f"{directory} already holds a chainproof store (nothing was written)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory, SqliteStore(directory / DB_FILE, create=True)


def store_has_log(store: LogStore) -> bool:
    """Whether a store already holds a log (its origin is set)."""
    with store.reader() as r:
        return r.meta("origin") is not None


def default_rules() -> Rules:
    """The log's own admission rules and the chain of custody's: the facade is where they meet."""
    from chainproof.custody.admission import RULES
    from chainproof.log.entries import LOG_RULES

    return LOG_RULES | RULES


def audit_export(
    path: Path,
    verifier: NoteVerifier,
    *,
    saved: Checkpoint | None = None,
    watch: Watch = _unwatched,
    rules: Rules | None = None,
) -> AuditReport:
    """Audit an export file against the verifier key (and a checkpoint saved earlier)."""
    from chainproof.log import audit, export

    try:
        f = path.open("rb")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    with f:
        header, events = export.read(f)
        report = audit.audit_events(
            watch(events, header.tree_size),
            header.tree_size,
            verifier,
            saved=saved,
            rules=default_rules() if rules is None else rules,
        )
    if header.checkpoint_vkey != verifier.vkey:
        report.add(None, "the export names another checkpoint key than the one audited with")
    if header.origin != verifier.name:
        report.add(None, f"the export's origin {header.origin!r} is not the verifier key's name")
    return report


def _label(labels: Sequence[str], position: int) -> str:
    """How errors name the envelope at `position` of an append."""
    return labels[position] if position < len(labels) else f"envelope {position + 1}"


def _database_files(db: Path) -> list[Path]:
    """The files a SQLite store at `db` consists of, its leaf index's included."""
    return [
        path.with_name(path.name + suffix)
        for path in (db, leaf_index_path(db))
        for suffix in ("", "-wal", "-shm", "-journal")
    ]


def check_name_free(records: Iterable[KeyRecord], name: str) -> None:
    """Refuse (UsageError) a key's name that an unrevoked key already has: an auditor tells actors
    apart by name."""
    taken = [k for k in records if k.name == name and k.revoked_at is None]
    if taken:
        raise UsageError(
            f"a key named {name!r} is already registered ({taken[0].keyid}); revoke it first "
            "or choose another name"
        )


def check_revocation(record: KeyRecord, start: int, size: int) -> None:
    """The admission rules refuse these too, but as rejected input (exit 1): asked for here, each
    is a request that cannot be met (exit 2), refused before the admin key signs anything."""
    from chainproof.log.store import KeyRole

    if record.role is KeyRole.ADMIN:
        raise UsageError("the admin key cannot be revoked")
    if record.revoked_at is not None:
        raise UsageError(f"key {record.name} is already revoked (entry {record.revoked_at})")
    if not record.registered_at < start <= size:
        raise UsageError(
            f"a revocation takes effect after the key's registration (entry {record.registered_at})"
            f" and no later than the revocation itself (entry {size}), not at entry {start}"
        )


def _check_size(size: int | None, current: int, what: str = "tree size") -> int:
    if size is None:
        return current
    if size < 0:
        raise UsageError(f"{what} {size} is negative")
    if size > current:
        raise UsageError(f"{what} {size} is larger than the log (size {current})")
    return size


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise UsageError(f"index {index} is outside the log (size {size})")


def default_store() -> Path:
    return Path(config.Settings().store)
