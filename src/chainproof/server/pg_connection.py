"""One PostgreSQL connection shared by the threads of a server process, for its small tables
beside a log (the nonces, the cosignatures): a statement or two at a time, under a lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from chainproof.log.postgres import describe_error


class SharedConnection:
    """An autocommit connection to `url`, used one caller at a time (`using`). After an error the
    connection may be gone (a restarted server): another is opened for the next caller."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            raise describe_error(url, e) from None

    @contextmanager
    def using(self) -> Iterator[psycopg.Connection]:
        """The connection, to this caller alone; a PostgreSQL error is a `StoreError` naming the
        database."""
        with self._lock:
            try:
                yield self._db
            except psycopg.Error as e:
                self._reconnect()
                raise describe_error(self._url, e) from None

    def _reconnect(self) -> None:
        try:
            self._db.close()
            self._db = psycopg.connect(self._url, autocommit=True)
        except psycopg.Error:
            return  # the next call fails again, and says why

    def close(self) -> None:
        with self._lock:
            self._db.close()
