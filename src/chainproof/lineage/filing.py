"""Filing log entries in the lineage index: what an entry says (`read_entry`) and the rows it
becomes (`Rows`), written with one statement per table.

Pure reading and row building, apart from `Rows.write`, `Environments.id` and `file_artifacts`,
which take the index's connection: parsing can then run in worker processes (`parsing`) while the
one process that holds the index writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
import pybase64
from packaging.utils import canonicalize_name

from chainproof.attest import dsse
from chainproof.custody import views
from chainproof.custody.records import Digest, hex_of
from chainproof.custody.views import View
from chainproof.errors import ChainproofError

_ENVIRONMENTS = 10_000  # distinct package sets remembered, at most

# The log stores each envelope in its one canonical form (`dsse.Envelope.canonical`): the payload
# first, then its type, then the signatures. An in-toto entry's bytes therefore start with these,
# and its payload is the base64 text between them, which holds no quote.
_HEAD = b'{"payload":"'
_INTOTO_TYPE = b'","payloadType":' + json.dumps(dsse.INTOTO_PAYLOAD_TYPE).encode() + b',"signatures":'

Entry = tuple[View, tuple[str, ...], bytes]
"""The index's view of a custody record, its signers' key ids and its statement's bytes."""


def loads(admitted: bytes) -> Any:
    """The JSON value of an admitted statement, for its view. orjson reads the bytes as they are,
    in a third of the json module's time; what it refuses (an escaped lone surrogate) the json
    module reads. orjson reads an integer past 64 bits as a float: views read only strings and
    booleans, so not for the records that queries return (`index._read` uses the json module)."""
    try:
        return orjson.loads(admitted)
    except orjson.JSONDecodeError:
        return json.loads(admitted)


def raw_digest(d: Digest) -> bytes:
    """A digest as the index keeps it: its 32 bytes."""
    return bytes.fromhex(hex_of(d))


def read_entry(leaf: bytes) -> Entry | None:
    """The index's view of the custody record a log entry states, its signers' key ids and its
    statement bytes; None for an entry of another kind (the log's own, or a foreign type).

    The entry was admitted: its envelope is canonical and its statement passed its type's schema
    on the way in, so the plain C parser and the index's view read it here (a fifth of the cost
    of reading it as a record)."""
    found = _intoto(leaf)
    if found is None:
        return None
    payload, signatures = found
    seen = views.view(loads(payload))
    if seen is None:
        return None
    return seen, tuple(s["keyid"] for s in signatures), payload


def statement_of(leaf: bytes) -> bytes:
    """The statement bytes of an indexed entry (one `read_entry` read a view from)."""
    found = _intoto(leaf)
    if found is None:
        raise ValueError("not an in-toto entry")
    return found[0]


def _intoto(leaf: bytes) -> tuple[bytes, list[dict[str, str]]] | None:
    """The payload and signatures of an in-toto envelope; None for an entry of another type.

    The envelope is cut at the places its canonical form puts the payload and the signatures,
    rather than parsed whole: parsing it copies the payload's base64 text once more, a third of
    what reading the envelope costs."""
    if leaf.startswith(_HEAD):
        end = leaf.find(b'"', len(_HEAD))
        if leaf.startswith(_INTOTO_TYPE, end):
            return pybase64.b64decode(leaf[len(_HEAD) : end]), loads(leaf[end + len(_INTOTO_TYPE) : -1])
    env = json.loads(leaf)  # any other shape: read it whole, as every entry once was
    if env.get("payloadType") != dsse.INTOTO_PAYLOAD_TYPE:
        return None
    return base64.b64decode(env["payload"]), env["signatures"]


def signers(keyids: str) -> tuple[str, ...]:
    """The key ids of a record's row (`Rows.add_view` writes them as a JSON array)."""
    return tuple(orjson.loads(keyids))


def statement_digest(payload: bytes) -> Digest:
    """A statement's id (a grant's id): the SHA-256 of its bytes as signed."""
    return Digest("sha256:" + hashlib.sha256(payload).hexdigest())


class Rows:
    """The index rows of a run of entries, written with one statement per table: most of a
    catch-up's cost is otherwise the per-statement overhead of SQLite's Python binding.

    A record's row carries its artifacts (32-byte digests end to end) and its signers (a JSON
    array), from which SQLite itself files the rows that find it by signer, and in a bulk build by
    artifact (`file_artifacts`). `keep_statements`: whether the rows also carry the statements'
    bytes; rows that worker processes parse do not (shipping the bytes back costs a third of a
    rebuild), and the index reads those from the log when a query first needs them."""

    def __init__(self, *, keep_statements: bool = True) -> None:
        self.keep_statements = keep_statements
        self.records: list[tuple[int, str, str, bytes, bytes, bytes | None]] = []
        self.widest = 0
        """The most inputs or outputs of one record."""
        self.runs: list[tuple[tuple[str, ...], int]] = []
        self.locations: list[tuple[str, int]] = []
        self.actors: list[tuple[int, str, str]] = []
        self.grants: list[tuple[bytes, int, str, bytes]] = []
        self.revocations: list[tuple[int, bytes]] = []

    def add(self, index: int, leaf: bytes) -> None:
        try:
            found = read_entry(leaf)
        except (ChainproofError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return  # admitted before its type had a schema: evidence, not lineage
        if found is not None:
            self.add_view(index, *found)

    def add_view(self, index: int, seen: View, keyids: Sequence[str], payload: bytes) -> None:
        signers = orjson.dumps(list(keyids)).decode()
        inputs, outputs = bytes.fromhex("".join(seen.inputs)), bytes.fromhex("".join(seen.outputs))
        self.widest = max(self.widest, len(seen.inputs), len(seen.outputs))
        statement = payload if self.keep_statements else None
        self.records.append((index, seen.kind, signers, inputs, outputs, statement))
        if seen.kind == views.HOP:
            if seen.packages:
                self.runs.append((seen.packages, index))
            if seen.location is not None:
                self.locations.append((seen.location, index))
        elif seen.kind == views.ACTOR:
            self.actors.append((index, seen.name, seen.keyid))
        elif seen.kind == views.GRANT:
            grant_id = raw_digest(statement_digest(payload))
            self.grants.append((grant_id, index, seen.name, bytes.fromhex(seen.target)))
        else:
            self.revocations.append((index, bytes.fromhex(seen.target)))

    def write(self, db: sqlite3.Connection, environments: Environments, *, artifacts: bool = True) -> None:
        """Insert the rows, the records' signers, and their artifacts unless `artifacts` is
        false: a bulk build files those once at the end (`file_artifacts`)."""
        if not self.records:
            return
        # Each table's rows in its key order: the B-tree's pages are then visited once each, in
        # turn, instead of at random.
        self.locations.sort()
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", self.records)
        db.execute(_FILE_SIGNERS, (self.records[0][0], self.records[-1][0] + 1))
        if artifacts:
            db.executemany("INSERT OR IGNORE INTO artifacts VALUES (?, ?, ?)", self._artifacts())
        runs = sorted({(environments.id(db, packages), index) for packages, index in self.runs})
        db.executemany("INSERT OR IGNORE INTO runs VALUES (?, ?)", runs)
        db.executemany("INSERT OR IGNORE INTO locations VALUES (?, ?)", self.locations)
        db.executemany("INSERT INTO actors VALUES (?, ?, ?)", self.actors)
        db.executemany("INSERT OR IGNORE INTO grants VALUES (?, ?, ?, ?, NULL)", self.grants)
        db.executemany(
            "UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL", self.revocations
        )

    def _artifacts(self) -> list[tuple[bytes, int, int]]:
        """The artifacts' rows of these records, in key order. A few thousand at a time are filed
        faster from Python than by `file_artifacts` (10 against 21 ms for a thousand hops)."""
        found: list[tuple[bytes, int, int]] = []
        for index, _, _, inputs, outputs, _ in self.records:
            found += [(inputs[at : at + _DIGEST], 0, index) for at in range(0, len(inputs), _DIGEST)]
            found += [(outputs[at : at + _DIGEST], 1, index) for at in range(0, len(outputs), _DIGEST)]
        found.sort()
        return found


_DIGEST = 32
# Each record's artifacts (inputs, then outputs) paired with the positions of their digests in
# its row, from a table of 0, 1, 2, ...
_FILE_ARTIFACTS = """
INSERT OR IGNORE INTO artifacts
SELECT substr(r.inputs, 32 * s.n + 1, 32), 0, r.idx FROM records AS r
    JOIN temp.sequence AS s ON s.n < length(r.inputs) / 32 WHERE r.idx < ?1
UNION ALL
SELECT substr(r.outputs, 32 * s.n + 1, 32), 1, r.idx FROM records AS r
    JOIN temp.sequence AS s ON s.n < length(r.outputs) / 32 WHERE r.idx < ?1
ORDER BY 1, 2, 3
"""
# Records come in log order and a log has few signers, so each run of them lands at the end of
# its signer's rows: filed as they come, they cost no more than filed at the end.
_FILE_SIGNERS = (
    "INSERT OR IGNORE INTO signers SELECT k.value, r.idx FROM records AS r, json_each(r.keyids) AS k"
    " WHERE r.idx >= ?1 AND r.idx < ?2 ORDER BY 1, 2"
)


def file_artifacts(db: sqlite3.Connection, end: int, widest: int) -> None:
    """File the artifacts of every record before log index `end` (none with more than `widest`
    inputs or outputs), read from the records' rows by SQLite itself, in key order: a bulk build's
    millions of them filed through Python cost a third of a rebuild, and sorted once, each page
    of their B-tree is written once."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS sequence (n INTEGER PRIMARY KEY)")
    (have,) = db.execute("SELECT count(*) FROM temp.sequence").fetchone()
    db.executemany("INSERT INTO temp.sequence VALUES (?)", ((n,) for n in range(have, widest)))
    db.execute(_FILE_ARTIFACTS, (end,))


class Environments:
    """The index's environments: each distinct set of package names is filed once, and a run
    refers to it. Pipelines run in a few environments, so a training of 40 packages then costs
    one row instead of 40 (most of what filing it cost)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], int] = {}  # names as recorded -> env, for this index's file

    def id(self, db: sqlite3.Connection, recorded: tuple[str, ...]) -> int:
        known = self._ids.get(recorded)
        if known is not None:
            return known
        names = sorted({canonicalize_name(p) for p in recorded})
        key = hashlib.sha256("\n".join(names).encode()).digest()
        row = db.execute("SELECT env FROM environments WHERE names = ?", (key,)).fetchone()
        if row is None:
            env = db.execute("INSERT INTO environments (names) VALUES (?)", (key,)).lastrowid
            assert env is not None
            db.executemany("INSERT INTO env_packages VALUES (?, ?)", [(n, env) for n in names])
        else:
            env = row[0]
        if len(self._ids) >= _ENVIRONMENTS:
            self._ids.clear()
        self._ids[recorded] = env
        return int(env)

    def forget(self) -> None:
        """Drop what is remembered: after a rollback, or when the index is cleared."""
        self._ids.clear()


def parse_chunk(chunk: tuple[int, list[bytes]], *, keep_statements: bool = True) -> tuple[int, Rows]:
    """The rows of a chunk of entries (its first index, its leaves), and the log size once they
    are filed."""
    first, leaves = chunk
    rows = Rows(keep_statements=keep_statements)
    for offset, leaf in enumerate(leaves):
        rows.add(first + offset, leaf)
    return first + len(leaves), rows
