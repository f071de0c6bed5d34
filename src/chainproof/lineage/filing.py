"""Filing log entries in the lineage index: what an entry says (`read_entry`) and the rows it
becomes (`Rows`), written with one statement per table.

Pure reading and row building, apart from `Rows.write` and `Environments.id`, which take the
index's connection: parsing can then run in worker processes (`parsing`) while the one process
that holds the index writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
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
    of reading it as a record). The envelope itself is cut at the places its canonical form puts
    the payload and the signatures, rather than parsed whole: parsing it copies the payload's
    base64 text once more, a third of what reading the envelope costs."""
    if leaf.startswith(_HEAD):
        end = leaf.find(b'"', len(_HEAD))
        if leaf.startswith(_INTOTO_TYPE, end):
            payload = binascii.a2b_base64(leaf[len(_HEAD) : end])
            signatures = json.loads(leaf[end + len(_INTOTO_TYPE) : -1])
            return _entry(payload, signatures)
    env = json.loads(leaf)  # any other shape: read it whole, as every entry once was
    if env.get("payloadType") != dsse.INTOTO_PAYLOAD_TYPE:
        return None
    return _entry(base64.b64decode(env["payload"]), env["signatures"])


def _entry(payload: bytes, signatures: list[dict[str, str]]) -> Entry | None:
    seen = views.view(loads(payload))
    if seen is None:
        return None
    return seen, tuple(s["keyid"] for s in signatures), payload


def statement_digest(payload: bytes) -> Digest:
    """A statement's id (a grant's id): the SHA-256 of its bytes as signed."""
    return Digest("sha256:" + hashlib.sha256(payload).hexdigest())


class Rows:
    """The index rows of a run of entries, written with one statement per table: most of a
    catch-up's cost is otherwise the per-statement overhead of SQLite's Python binding."""

    def __init__(self) -> None:
        self.records: list[tuple[int, str, str, bytes]] = []
        self.signers: list[tuple[str, int]] = []
        self.artifacts: list[tuple[bytes, int, int]] = []
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
        self.records.append((index, seen.kind, " ".join(keyids), payload))
        self.signers += [(k, index) for k in dict.fromkeys(keyids)]
        if seen.kind == views.HOP:
            self.artifacts += [(bytes.fromhex(d), 0, index) for d in seen.inputs]
            self.artifacts += [(bytes.fromhex(d), 1, index) for d in seen.outputs]
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

    def write(self, db: sqlite3.Connection, environments: Environments, artifacts: str = "artifacts") -> None:
        """Insert the rows; the artifacts' into the table `artifacts` names (a build stages them
        in a table of its own and files them at the end, see `index.LineageIndex`)."""
        # Each table's rows in its key order: the B-tree's pages are then visited once each, in
        # turn, instead of at random (half the cost of filing the artifacts of a large log).
        # Staged artifacts are sorted where they are filed.
        self.signers.sort()
        self.locations.sort()
        if artifacts == "artifacts":
            self.artifacts.sort()
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", self.records)
        db.executemany("INSERT OR IGNORE INTO signers VALUES (?, ?)", self.signers)
        db.executemany(f"INSERT OR IGNORE INTO {artifacts} VALUES (?, ?, ?)", self.artifacts)  # noqa: S608
        runs = sorted({(environments.id(db, packages), index) for packages, index in self.runs})
        db.executemany("INSERT OR IGNORE INTO runs VALUES (?, ?)", runs)
        db.executemany("INSERT OR IGNORE INTO locations VALUES (?, ?)", self.locations)
        db.executemany("INSERT INTO actors VALUES (?, ?, ?)", self.actors)
        db.executemany("INSERT OR IGNORE INTO grants VALUES (?, ?, ?, ?, NULL)", self.grants)
        db.executemany(
            "UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL", self.revocations
        )


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


def parse_chunk(chunk: tuple[int, list[bytes]]) -> tuple[int, Rows]:
    """The rows of a chunk of entries (its first index, its leaves), and the log size once they
    are filed."""
    first, leaves = chunk
    rows = Rows()
    for offset, leaf in enumerate(leaves):
        rows.add(first + offset, leaf)
    return first + len(leaves), rows
