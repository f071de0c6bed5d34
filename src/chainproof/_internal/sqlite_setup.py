"""Setting up a SQLite file that several processes may create at the same moment."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

_RETRY_S = 0.01


def set_up(db: sqlite3.Connection, create: Callable[[], None], *, timeout: float) -> None:
    """Run `create` (pragmas, tables) on `db`, again while another process holds the file.

    Two processes opening a new file at once (the worker processes of one server) race to switch
    it to WAL: that switch needs the file to itself, and SQLite reports the loser "database is
    locked" at once rather than calling its busy handler. `create` must be idempotent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            create()
            return
        except sqlite3.OperationalError as e:
            locked = "locked" in str(e) or "busy" in str(e)
            if not locked or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_S)
