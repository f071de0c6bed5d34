"""Helpers for the storage, custody, audit and crash tests: envelopes, logs, audits.

Imported by the test modules of this directory (pytest puts the directory on sys.path); the name is
unique so that it cannot collide with helper modules of other test directories.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest import dsse, keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.log import bundles, export, merkle, service
from chainproof.log.audit import AuditReport
from chainproof.log.note import Checkpoint, parse_vkey, verify_checkpoint
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.sqlite import LEAF_INDEX_FILE

ORIGIN = "test.example/custody"
HOP = "https://chainproof.test/hop/v1"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def statement(n: int, tag: str = "") -> Statement:
    """A distinct in-toto statement for every (n, tag)."""
    name = f"artifact-{tag}{n}"
    return Statement((Subject(name, {"sha256": digest(name)}),), HOP, {"n": n, "tag": tag})


def envelope(key: Ed25519PrivateKey, n: int, tag: str = "") -> dsse.Envelope:
    return sign_statement(statement(n, tag), key)


def envelopes(key: Ed25519PrivateKey, start: int, count: int, tag: str = "") -> list[dsse.Envelope]:
    return [envelope(key, n, tag) for n in range(start, start + count)]


def admin_key(log: TransparencyLog) -> Ed25519PrivateKey:
    return keys.read_private(log.directory / "admin.pem")


@dataclass
class Built:
    """A log built from known batches: where each batch starts and ends."""

    log: TransparencyLog
    actor: Ed25519PrivateKey
    vkey: str
    # [start, end) of every append, genesis and registration included
    batches: list[tuple[int, int]]

    def batch_of(self, index: int) -> tuple[int, int]:
        return next((b, e) for b, e in self.batches if b <= index < e)

    def copy(self, directory: Path) -> Path:
        """A copy of the (closed) log's store in `directory`, for a test to damage."""
        shutil.copytree(self.log.directory, directory)
        return directory


def build_log(directory: Path, batch_sizes: Sequence[int], *, tag: str = "") -> Built:
    """Create a log, register actor 'alice' (entry 1), then append batches of her envelopes."""
    log = TransparencyLog.create(directory, ORIGIN)
    actor = keys.generate()
    log.register_key("alice", actor)
    batches = [(0, 1), (1, 2)]
    n = 0
    for count in batch_sizes:
        before = log.size()
        log.append(envelopes(actor, n, count, tag))
        batches.append((before, before + count))
        n += count
    return Built(log, actor, log.vkey, batches)


def checkpoint_of(note: str, vkey: str) -> Checkpoint:
    return verify_checkpoint(note, parse_vkey(vkey))


def audit_store(directory: Path, vkey: str, saved: Checkpoint | None = None) -> AuditReport:
    """What `chainproof audit --vkey VKEY` checks for a store."""
    return TransparencyLog.open(directory).audit(parse_vkey(vkey), saved=saved)


def audit_export(path: Path, vkey: str, saved: Checkpoint | None = None) -> AuditReport:
    """What `chainproof audit --export FILE --vkey VKEY` checks (raises on a format error)."""
    return service.audit_export(path, parse_vkey(vkey), saved=saved)


def write_export(log: TransparencyLog, path: Path) -> bytes:
    """`chainproof log export`: the whole log to `path`; returns the file's bytes."""
    origin, vkey = log.origin, log.vkey
    with log.reading() as r:
        size = r.size()
        export.write(path, export.Header(origin, vkey, size), export.events(r, size))
    return path.read_bytes()


def split_export(data: bytes) -> list[bytes]:
    """The lines of an export, each with its line feed."""
    return data.splitlines(keepends=True)


def entry_line_numbers(lines: Sequence[bytes]) -> list[int]:
    """For every entry index, the position of its line in `lines` (header and checkpoints skipped)."""
    return [i for i, line in enumerate(lines) if i > 0 and not line.startswith(b'"')]


def leaf_hashes(log: TransparencyLog) -> list[bytes]:
    with log.reading() as r:
        return [merkle.leaf_hash(leaf) for leaf in r.entries(0, r.size())]


def sql(directory: Path, statements: Iterable[tuple[str, tuple[object, ...]]]) -> None:
    """Tamper with a (closed) store directly, bypassing chainproof (its leaf index attached)."""
    db = sqlite3.connect(directory / DB_FILE)
    if (directory / LEAF_INDEX_FILE).is_file():
        db.execute("ATTACH DATABASE ? AS leafidx", (str(directory / LEAF_INDEX_FILE),))
    try:
        for text, params in statements:
            db.execute(text, params)
        db.commit()
    finally:
        db.close()


def query(directory: Path, text: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    db = sqlite3.connect(directory / DB_FILE)
    try:
        return list(db.execute(text, params))
    finally:
        db.close()


def entry_body(directory: Path, index: int) -> bytes:
    """Entry `index` as its bundle stores it, read with SQL."""
    return bundle_entries(directory, index // bundles.WIDTH)[index % bundles.WIDTH]


def bundle_entries(directory: Path, k: int) -> list[bytes]:
    """The entries of bundle k, read with SQL, with those kept outside it."""
    [row] = query(directory, "SELECT width, ends, body, outside FROM entry_bundles WHERE idx = ?", (k,))
    width, ends, body, outside = row
    assert isinstance(width, int)
    assert isinstance(ends, bytes)
    assert isinstance(body, bytes)
    assert isinstance(outside, bytes)
    base = k * bundles.WIDTH
    large = dict(
        query(directory, "SELECT idx, body FROM large_entries WHERE idx BETWEEN ? AND ?", (base, base + 255))
    )
    slots = bundles.decode(bundles.Bundle(ends, body, outside), width)
    entries = [large.get(base + i) if e is None else e for i, e in enumerate(slots)]
    assert all(isinstance(e, bytes) for e in entries)
    return entries  # type: ignore[return-value]


Statements = list[tuple[str, tuple[object, ...]]]


def rewrite_entries(directory: Path, changes: Mapping[int, bytes | None]) -> Statements:
    """Statements for `sql` that give entries new bodies, rewriting their bundles (and the rows of
    large entries) as a forger with SQL would. None takes an entry out: the entries after it in
    its bundle move down one index."""
    statements: Statements = []
    for k in sorted({index // bundles.WIDTH for index in changes}):
        base = k * bundles.WIDTH
        old = bundle_entries(directory, k)
        new = [changes.get(base + i, e) for i, e in enumerate(old)]
        kept = [e for e in new if e is not None]
        statements.append(
            ("DELETE FROM large_entries WHERE idx BETWEEN ? AND ?", (base, base + bundles.WIDTH - 1))
        )
        statements += [
            ("INSERT INTO large_entries (idx, body) VALUES (?, ?)", (base + i, e))
            for i, e in enumerate(kept)
            if bundles.is_large(e)
        ]
        if kept:
            update = "UPDATE entry_bundles SET width = ?, ends = ?, body = ?, outside = ? WHERE idx = ?"
            statements.append((update, (len(kept), *bundles.encode(kept), k)))
        else:
            statements.append(("DELETE FROM entry_bundles WHERE idx = ?", (k,)))
    return statements


def snapshot(log: TransparencyLog) -> tuple[object, ...]:
    """Everything a store holds, to compare before and after a call that must change nothing."""
    with log.reading() as r:
        size = r.size()
        return (
            size,
            r.checkpoint(),
            list(r.checkpoints()),
            r.keys(),
            list(r.entries(0, size)),
            [list(r.tile_level(level)) for level in range(3)],
            r.find_leaves(leaf_hashes_of(r.entries(0, size))),
        )


def leaf_hashes_of(leaves: Iterable[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(leaf) for leaf in leaves]
