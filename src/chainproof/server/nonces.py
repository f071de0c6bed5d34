"""Replay protection: the nonces of the signed requests a server has accepted.

`attest.http_signatures.verify_request` accepts a signature for `window` seconds either side of
its `created` time; within that time the same request could be sent again. The server refuses it
by remembering every (key id, nonce) it has accepted: `remember` is True the first time only.

An entry may be forgotten once its `created` is more than `window` seconds before now, because a
replay of that request is refused as expired before its nonce is looked up: a store's window must
be at least the verifier's. Both clocks are this host's, so every process of a server shares one
store: `SqliteNonces` on one file (`MemoryNonces` for a single process, and tests), or, for the
servers of a PostgreSQL log on several hosts, `PostgresNonces` in its database.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from chainproof._internal import sqlite_setup
from chainproof.attest.http_signatures import DEFAULT_WINDOW
from chainproof.errors import StoreError, UsageError
from chainproof.server.pg_connection import SharedConnection

# How long a writer waits for another process's write before the store reports an error.
_BUSY_TIMEOUT_S = 10.0


class NonceStore(Protocol):
    """Where a server remembers the nonces of the requests it accepted."""

    def remember(self, keyid: str, nonce: str, created: int, *, now: float | None = None) -> bool:
        """True the first time (keyid, nonce) is seen; False if it was seen before (a replay).
        Entries older than the window may be forgotten (a request that old is refused as expired
        anyway)."""
        ...

    def close(self) -> None: ...


class _Schedule:
    """When to prune next: at most once a window, so that most requests cost one insert only."""

    def __init__(self, window: int) -> None:
        if window < 0:
            raise UsageError(f"a nonce window cannot be negative: {window}")
        self.window = window
        self._next = -math.inf

    def due(self, now: float) -> bool:
        if now < self._next:
            return False
        self._next = now + max(self.window, 1)
        return True

    def horizon(self, now: float) -> int:
        """Entries created before this are forgotten: `verify_request` refuses them as expired
        from `now` on (it compares whole seconds, as here)."""
        return math.floor(now) - self.window


class MemoryNonces:
    """A `NonceStore` in this process's memory, safe to share between its threads."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._schedule = _Schedule(window)
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def remember(self, keyid: str, nonce: str, created: int, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            if self._schedule.due(now):
                self._prune(now)
            if (keyid, nonce) in self._seen:
                return False
            self._seen[keyid, nonce] = created
            return True

    def prune(self, now: float | None = None) -> int:
        """Forget the entries created more than the window before `now`; how many were."""
        with self._lock:
            return self._prune(time.time() if now is None else now)

    def _prune(self, now: float) -> int:
        horizon = self._schedule.horizon(now)
        old = [entry for entry, created in self._seen.items() if created < horizon]
        for entry in old:
            del self._seen[entry]
        return len(old)

    def close(self) -> None:
        with self._lock:
            self._seen.clear()


class SqliteNonces:
    """A `NonceStore` in a SQLite file that every process of a server on this host opens.

    Each (keyid, nonce) is a primary key, and `INSERT OR IGNORE` adds it in one statement, so of
    two processes remembering the same nonce at once exactly one is told True. WAL lets readers and
    the writer proceed together; a busy timeout makes writers queue rather than fail. One
    connection per instance, behind a lock, serves all the threads of a process; open an instance
    in each process (after any fork), never share one across a fork. With `synchronous=NORMAL` a
    nonce survives the process crashing; only a power loss can forget the last few.
    """

    def __init__(self, path: Path, window: int = DEFAULT_WINDOW) -> None:
        self.path = path
        self._schedule = _Schedule(window)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise self._error("open", e) from None
        try:
            sqlite_setup.set_up(self._db, self._create, timeout=_BUSY_TIMEOUT_S)
        except sqlite3.Error as e:
            self._db.close()
            raise self._error("open", e) from None

    def _create(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS nonces ("
            " keyid TEXT NOT NULL, nonce TEXT NOT NULL, created INTEGER NOT NULL,"
            " PRIMARY KEY (keyid, nonce)) WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS nonces_by_created ON nonces (created)")

    def remember(self, keyid: str, nonce: str, created: int, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            try:
                if self._schedule.due(now):
                    self._prune(now)
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO nonces (keyid, nonce, created) VALUES (?, ?, ?)",
                    (keyid, nonce, created),
                )
            except sqlite3.Error as e:
                raise self._error("write", e) from None
            return inserted.rowcount == 1

    def prune(self, now: float | None = None) -> int:
        """Forget the entries created more than the window before `now`; how many were."""
        with self._lock:
            try:
                return self._prune(time.time() if now is None else now)
            except sqlite3.Error as e:
                raise self._error("write", e) from None

    def _prune(self, now: float) -> int:
        return self._db.execute(
            "DELETE FROM nonces WHERE created < ?", (self._schedule.horizon(now),)
        ).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _error(self, doing: str, e: sqlite3.Error) -> StoreError:
        return StoreError(f"cannot {doing} the nonce store {self.path}: {e}")


class PostgresNonces:
    """A `NonceStore` in the PostgreSQL database of a log, for servers on several hosts sharing it:
    each (log, keyid, nonce) is a primary key, and an insert that conflicts is a replay. The
    window's clock is each host's: keep their clocks in step (NTP), as the signatures' checks need."""

    def __init__(self, url: str, log_name: str, window: int = DEFAULT_WINDOW) -> None:
        self._log = log_name
        self._schedule = _Schedule(window)
        self._pg = SharedConnection(url)
        try:
            with self._pg.using() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS chainproof.nonces ("
                    " log text NOT NULL, keyid text NOT NULL, nonce text NOT NULL, created bigint NOT NULL,"
                    " PRIMARY KEY (log, keyid, nonce))"
                )
        except BaseException:
            self._pg.close()
            raise

    def remember(self, keyid: str, nonce: str, created: int, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._pg.using() as db:
            if self._schedule.due(now):
                db.execute(
                    "DELETE FROM chainproof.nonces WHERE log = %s AND created < %s",
                    (self._log, self._schedule.horizon(now)),
                )
            cur = db.execute(
                "INSERT INTO chainproof.nonces (log, keyid, nonce, created) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (self._log, keyid, nonce, created),
            )
            return cur.rowcount == 1

    def close(self) -> None:
        self._pg.close()
