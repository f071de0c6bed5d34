"""Witness cosignatures of a log's checkpoints: which the server accepts, where it keeps them, and
how it serves them with its checkpoints.

A cosignature is accepted only from a witness the server was given (`serve --witness VKEY`),
only when it verifies, and only over a checkpoint this log issued: the note's body must be,
byte for byte, the body of the log's own checkpoint of that size. Anything else is refused as a
`Denied` (403), which the server logs.

Kept beside a store directory in SQLite (`server-cosignatures.db`, one file every server process
of the host opens) or, for a PostgreSQL log, in its database (`chainproof.cosignatures`), as
the nonces are: per witness and tree size, the newest cosignature line.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chainproof._internal import sqlite_setup
from chainproof.attest import keys
from chainproof.errors import FormatError, StoreError, UsageError
from chainproof.log import location
from chainproof.log.note import parse_checkpoint
from chainproof.server.access import Denied
from chainproof.server.pg_connection import SharedConnection
from chainproof.witness import cosignature as cs

COSIGNATURES_FILE = "server-cosignatures.db"
_BUSY_TIMEOUT_S = 10.0
_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Stored:
    """One witness's newest cosignature at one tree size."""

    witness: str  # its vkey
    size: int
    time: int
    line: str  # the signature line, newline included


class CosignatureStore(Protocol):
    """Where a server keeps the cosignatures it accepted."""

    def add(self, witness: str, size: int, body: str, time: int, line: str) -> None:
        """Keep `line` as `witness`'s cosignature of the checkpoint `body` (of tree `size`),
        unless a newer one of that size is kept."""
        ...

    def at(self, size: int, body: str) -> list[Stored]:
        """The cosignatures kept of the checkpoint `body`, of tree `size`."""
        ...

    def latest(self) -> dict[str, Stored]:
        """Each witness's cosignature of the largest tree it cosigned."""
        ...

    def close(self) -> None: ...


_SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS cosignatures ("
    " witness TEXT NOT NULL, size INTEGER NOT NULL, body TEXT NOT NULL, time INTEGER NOT NULL,"
    " line TEXT NOT NULL, PRIMARY KEY (witness, size))"
)


class SqliteCosignatures:
    """A `CosignatureStore` in one SQLite file (WAL, a busy timeout: writers queue)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            sqlite_setup.set_up(self._db, self._create, timeout=_BUSY_TIMEOUT_S)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the cosignature store {path}: {e}") from None

    def _create(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(_SQLITE_TABLE)

    def add(self, witness: str, size: int, body: str, time: int, line: str) -> None:
        self._run(
            "INSERT INTO cosignatures (witness, size, body, time, line) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (witness, size) DO UPDATE SET body = excluded.body, time = excluded.time,"
            " line = excluded.line WHERE excluded.time >= cosignatures.time",
            (witness, size, body, time, line),
        )

    def at(self, size: int, body: str) -> list[Stored]:
        rows = self._run(
            "SELECT witness, size, time, line FROM cosignatures WHERE size = ? AND body = ? ORDER BY witness",
            (size, body),
        )
        return [Stored(str(w), int(s), int(t), str(x)) for w, s, t, x in rows]

    def latest(self) -> dict[str, Stored]:
        rows = self._run(
            "SELECT c.witness, c.size, c.time, c.line FROM cosignatures c JOIN"
            " (SELECT witness, MAX(size) AS size FROM cosignatures GROUP BY witness) m"
            " ON c.witness = m.witness AND c.size = m.size",
            (),
        )
        return {str(w): Stored(str(w), int(s), int(t), str(x)) for w, s, t, x in rows}

    def _run(self, sql: str, args: Sequence[object]) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"the cosignature store {self.path}: {e}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresCosignatures:
    """A `CosignatureStore` in a PostgreSQL log's database, shared by its servers on every host."""

    def __init__(self, url: str, log_name: str) -> None:
        self._log = log_name
        self._pg = SharedConnection(url)
        try:
            with self._pg.using() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS chainproof.cosignatures ("
                    " log text NOT NULL, witness text NOT NULL, size bigint NOT NULL, body text NOT NULL,"
                    " time bigint NOT NULL, line text NOT NULL, PRIMARY KEY (log, witness, size))"
                )
        except BaseException:
            self._pg.close()
            raise

    def add(self, witness: str, size: int, body: str, time: int, line: str) -> None:
        self._run(
            "INSERT INTO chainproof.cosignatures AS c (log, witness, size, body, time, line)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (log, witness, size) DO UPDATE SET"
            " body = excluded.body, time = excluded.time, line = excluded.line WHERE excluded.time >= c.time",
            (self._log, witness, size, body, time, line),
            fetch=False,
        )

    def at(self, size: int, body: str) -> list[Stored]:
        rows = self._run(
            "SELECT witness, size, time, line FROM chainproof.cosignatures"
            " WHERE log = %s AND size = %s AND body = %s ORDER BY witness",
            (self._log, size, body),
        )
        return [Stored(str(w), int(s), int(t), str(x)) for w, s, t, x in rows]

    def latest(self) -> dict[str, Stored]:
        rows = self._run(
            "SELECT DISTINCT ON (witness) witness, size, time, line FROM chainproof.cosignatures"
            " WHERE log = %s ORDER BY witness, size DESC",
            (self._log,),
        )
        return {str(w): Stored(str(w), int(s), int(t), str(x)) for w, s, t, x in rows}

    def _run(self, sql: str, args: Sequence[object], *, fetch: bool = True) -> list[Any]:
        with self._pg.using() as db:
            cur = db.execute(sql, args)
            return cur.fetchall() if fetch else []

    def close(self) -> None:
        self._pg.close()


def open_store(store: Path | str, directory: Path) -> CosignatureStore:
    """Beside a store directory; in a PostgreSQL log's database."""
    if location.is_postgres(store):
        url, name = location.postgres_parts(str(store))
        return PostgresCosignatures(url, name)
    return SqliteCosignatures(directory / COSIGNATURES_FILE)


def parse_witnesses(vkeys: Iterable[str]) -> list[cs.CosignatureVerifier]:
    """The witnesses a server accepts, from `serve --witness`; UsageError for a key that is not
    a witness's (type 0x04) verifier key."""
    found: list[cs.CosignatureVerifier] = []
    for vkey in vkeys:
        try:
            found.append(cs.parse_cosigner_vkey(vkey))
        except FormatError as e:
            raise UsageError(f"--witness {vkey[:80]!r}: {e}") from None
    return found


class Witnessing:
    """The cosignatures of one log: accepted from its listed witnesses, kept, and served."""

    def __init__(self, store: CosignatureStore, witnesses: Sequence[cs.CosignatureVerifier]) -> None:
        self.store = store
        self.witnesses = list(witnesses)
        # A witness signs its requests (RFC 9421) with its cosigning key: by that key's keyid.
        self._by_keyid = {keys.keyid(w.public_key): w for w in self.witnesses}
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, str], float, list[Stored]] | None = None

    def signer(self, keyid: str) -> cs.CosignatureVerifier | None:
        """The listed witness whose key has `keyid`, for a request it signed."""
        return self._by_keyid.get(keyid)

    def accept(self, note: str, origin: str, issued: Callable[[int], str | None]) -> list[dict[str, Any]]:
        """Keep the cosignatures `note` carries by listed witnesses, once checked; `issued(size)` is
        the log's own checkpoint of a tree size (None if it issued none). Denied (403) for a
        checkpoint the log did not issue, for no cosignature by a listed witness, or for one that
        does not verify. Returns the cosignatures kept, as `{"name", "vkey", "time"}`."""
        try:
            body, lines = cs.split_note(note)
            cp = parse_checkpoint(body)
        except FormatError as e:
            raise UsageError(f"the body is not a cosigned checkpoint note: {e}") from None
        own = issued(cp.size) if cp.origin == origin else None
        if own is None or _body(own) != body:
            raise Denied(
                "not-issued", f"this log issued no such checkpoint of {cp.origin} at size {cp.size}", 403
            )
        try:
            found = cs.cosignatures_by(lines, body, self.witnesses)
        except cs.CosignatureError as e:
            raise Denied("forged-cosignature", str(e), 403) from None
        if not found:
            names = ", ".join(sorted({line.name for line in lines})) or "nobody"
            raise Denied(
                "unknown-witness", f"no cosignature by a witness this log lists (signed by {names})", 403
            )
        for verifier, cosig in found:
            self.store.add(verifier.vkey, cp.size, body, cosig.timestamp, cosig.line())
        with self._lock:
            self._cached = None
        return [{"name": v.name, "vkey": v.vkey, "time": c.timestamp} for v, c in found]

    def served(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's JSON (`shapes.checkpoint_json`) with the cosignatures kept of it: their
        lines appended to its note, and `"cosignatures": [{"name", "vkey", "time"}]`."""
        note = str(checkpoint["note"])
        if not self.witnesses:  # no store read for a log without witnesses
            return checkpoint | {"cosignatures": []}
        listed = {v.vkey: v for v in self.witnesses}
        kept = [s for s in self._at(int(checkpoint["tree_size"]), _body(note)) if s.witness in listed]
        return checkpoint | {
            "note": cs.with_lines(note, [s.line for s in kept]),
            "cosignatures": [
                {"name": listed[s.witness].name, "vkey": s.witness, "time": s.time} for s in kept
            ],
        }

    def _at(self, size: int, body: str) -> list[Stored]:
        """The cosignatures of the latest checkpoint, read from the store at most every
        `_CACHE_SECONDS` (every checkpoint request asks for them; this process's own `accept`
        refreshes them at once, another worker process's within that time)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == (size, body) and now - cached[1] < _CACHE_SECONDS:
                return cached[2]
        kept = self.store.at(size, body)
        with self._lock:
            self._cached = ((size, body), now, kept)
        return kept

    def status(self, tree_size: int) -> dict[str, Any]:
        """`{"tree_size", "witnesses": [{"name", "vkey", "size", "time"}]}`: each listed witness
        and the largest tree it cosigned (null when none)."""
        latest = self.store.latest()
        rows = []
        for v in self.witnesses:
            kept = latest.get(v.vkey)
            rows.append(
                {
                    "name": v.name,
                    "vkey": v.vkey,
                    "size": None if kept is None else kept.size,
                    "time": None if kept is None else kept.time,
                }
            )
        return {"tree_size": tree_size, "witnesses": rows}

    def close(self) -> None:
        self.store.close()


def _body(note: str) -> str:
    return note.rpartition("\n\n")[0] + "\n"
