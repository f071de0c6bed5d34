"""Reading a long run of log entries for the lineage index on every core.

Filing an entry is two jobs: parsing its envelope and statement (pure, about half the cost) and
writing its rows (SQLite, in the one process that holds the index). When the index has a long way
to go (a rebuild, the first command on a large store), the parsing is handed to forked worker
processes a chunk at a time while the indexing process writes the chunks already parsed, in log
order. Workers only parse the bytes they are sent, or, given a way to open the store, read their
chunks on a read-only connection of their own; they never write.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import TypeVar

from chainproof._internal.config import jobs
from chainproof.log import rehash_workers
from chainproof.log.rehash_workers import Opener

R = TypeVar("R")

MIN_ENTRIES = 20_000
"""A shorter backlog is parsed in-process: starting workers costs tens of milliseconds."""
AHEAD = 2
"""Chunks in flight per worker: enough to keep each busy while the writer catches up."""

Chunk = tuple[int, list[bytes]]
"""The log index of a chunk's first entry, and its entries."""
Range = tuple[int, int]
"""The log indexes of a chunk's first entry and of the entry after its last."""


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
    yield from _in_order(parse, chunks, workers, parse)


def read_and_parsed_in_order(
    parse: Callable[[Chunk], R], ranges: Iterator[Range], workers: int, opener: Opener
) -> Iterator[R]:
    """parse((first, the entries from first to end)) for each range, in order, from `workers`
    forked processes that each read their ranges on a connection of their own (`opener`): the
    indexing process then only writes, instead of also reading and shipping every entry.

    The calling process keeps its own read transaction open until the last range is back, as an
    audit's does (see `rehash_workers`), and parses here a range whose worker died."""
    tasks = ((parse, first, end) for first, end in ranges)
    yield from _in_order(_read_in_worker, tasks, workers, partial(_read_with, opener), opener=opener)


T = TypeVar("T")


def _in_order(
    work: Callable[[T], R],
    tasks: Iterator[T],
    workers: int,
    here: Callable[[T], R],
    *,
    opener: Opener | None = None,
) -> Iterator[R]:
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start, initargs=(opener,))
    try:
        pending: deque[tuple[T, Future[R] | None]] = deque()
        for task in tasks:
            pending.append((task, _submit(pool, work, task)))
            if len(pending) >= workers * AHEAD:
                yield _result(here, *pending.popleft())
        while pending:
            yield _result(here, *pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, work: Callable[[T], R], task: T) -> Future[R] | None:
    try:
        return pool.submit(work, task)
    except BrokenProcessPool:
        return None


def _result(here: Callable[[T], R], task: T, future: Future[R] | None) -> R:
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            pass
    return here(task)


def _worker_start(opener: Opener | None) -> None:
    if opener is not None:
        rehash_workers.start_worker(opener)
    # A worker parses JSON into rows, which makes no reference cycles; left on, the collector
    # would walk the whole heap the worker inherited, again and again, and copy its pages
    # (a tenth of a rebuild's time, forked from a process that had recorded a million hops).
    gc.disable()


ReadTask = tuple[Callable[[Chunk], R], int, int]


def _read_in_worker(task: ReadTask[R]) -> R:
    return _read_with(rehash_workers.worker_opener(), task)


def _read_with(opener: Opener, task: ReadTask[R]) -> R:
    parse, first, end = task
    with opener() as reader:
        return parse((first, list(reader.entries(first, end))))
