"""Reading a long run of log entries for the lineage index on every core.

Filing an entry is two jobs: parsing its envelope and statement (pure, about half the cost) and
writing its rows (SQLite, in the one process that holds the index). When the index has a long way
to go (a rebuild, the first command on a large store), the parsing is handed to forked worker
processes a chunk at a time while the indexing process writes the chunks already parsed, in log
order. Workers only parse bytes they are sent: they open nothing and touch no database.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from chainproof._internal.config import jobs

R = TypeVar("R")

MIN_ENTRIES = 20_000
"""A shorter backlog is parsed in-process: starting workers costs tens of milliseconds."""
AHEAD = 2
"""Chunks in flight per worker: enough to keep each busy while the writer catches up."""

Chunk = tuple[int, list[bytes]]
"""The log index of a chunk's first entry, and its entries."""


def workers_for(backlog: int) -> int:
    """Worker processes worth starting for `backlog` entries; 0 means parse in-process."""
    if backlog < MIN_ENTRIES or jobs() <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return jobs()


def parsed_in_order(parse: Callable[[Chunk], R], chunks: Iterator[Chunk], workers: int) -> Iterator[R]:
    """parse(chunk) for each chunk, in order: in `workers` forked processes, or here when 0.

    `chunks` is read in the calling thread only (it may read a database connection of its own). A
    worker that dies (killed, out of memory) costs time, not the result: each chunk the pool can
    no longer parse is parsed here."""
    if workers == 0:
        yield from map(parse, chunks)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        pending: deque[tuple[Chunk, Future[R] | None]] = deque()
        for chunk in chunks:
            pending.append((chunk, _submit(pool, parse, chunk)))
            if len(pending) >= workers * AHEAD:
                yield _result(parse, *pending.popleft())
        while pending:
            yield _result(parse, *pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, parse: Callable[[Chunk], R], chunk: Chunk) -> Future[R] | None:
    try:
        return pool.submit(parse, chunk)
    except BrokenProcessPool:
        return None


def _result(parse: Callable[[Chunk], R], chunk: Chunk, future: Future[R] | None) -> R:
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            pass
    return parse(chunk)
