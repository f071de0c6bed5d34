"""Per-file analysis spread over the machine's cores.

Parsing and walking syntax trees is CPU-bound pure Python, so threads would not help: work goes to
forked worker processes instead. The parent still does all reading (only the `FileTree` reads the
target); workers receive bytes and return plain values, and only ever parse what they get, never
import or run it. Results come back in submission order, so a scan's output does not depend on
scheduling. Small inputs stay in-process: starting workers costs more than it saves there.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Generic, Protocol, TypeVar, cast

from chainproof._internal import config

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")


class Items(Protocol[T_co]):
    """What `map_items` works through: a list, or anything that knows its length and produces its
    items in order when iterated (so reading can go on while workers analyse the first items)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[T_co]: ...


JOBS_ENV = config.JOBS_ENV
"""Worker processes for per-file analysis; 1 (or 0) keeps everything in the scanning process."""
MIN_PARALLEL_ITEMS = 200
"""Fewer items than this are analysed in-process (tests, single archives)."""
CHUNK_ITEMS = 64
CHUNK_BYTES = 4 * 1024 * 1024
"""A chunk closes at whichever limit comes first: few round trips, yet even load across workers."""


def worker_count() -> int:
    """Workers to use: `CHAINPROOF_JOBS` when set to a number, else every core (`config.jobs`)."""
    return config.jobs()


def _fork_available() -> bool:
    # Fork keeps start-up cheap (no re-import of chainproof in each worker); elsewhere stay serial.
    return "fork" in multiprocessing.get_all_start_methods()


def _apply(func: Callable[[T], list[R]], chunk: list[T]) -> list[list[R]]:
    # Syntax trees are acyclic and die by reference counting; the cycle collector would only rescan
    # the millions of nodes parsing allocates (an eighth of the analysis time). It runs again after
    # each chunk, so whatever garbage a chunk leaves is bounded.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [func(item) for item in chunk]
    finally:
        if enabled:
            gc.enable()


def _worker_start() -> None:
    """Objects inherited from the scanning process live as long as the worker: out of the collector.
    Work a worker maps in turn (the files of one archive) stays in it: no pools inside pools."""
    os.environ[JOBS_ENV] = "1"
    gc.freeze()


def _chunks(items: Iterable[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    chunk: list[T] = []
    total = 0
    for item in items:
        chunk.append(item)
        total += size(item)
        if len(chunk) >= CHUNK_ITEMS or total >= CHUNK_BYTES:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


def map_items(
    func: Callable[[T], list[R]],
    items: Items[T],
    size: Callable[[T], int],
    jobs: int | None = None,
    min_items: int | None = None,
) -> Iterator[list[R]]:
    """`func` over every item, results in item order; in worker processes when that pays off.

    `func` must be a module-level function (workers receive it by reference) whose results pickle.
    `size` weighs an item for chunking (its byte count); `min_items` is the fewest items worth
    starting workers for (default `MIN_PARALLEL_ITEMS`). A pool that breaks (a worker killed by the
    OS) does not lose work: the remaining chunks are analysed in-process.
    """
    workers = worker_count() if jobs is None else max(1, jobs)
    fewest = MIN_PARALLEL_ITEMS if min_items is None else min_items
    if workers <= 1 or len(items) < fewest or not _fork_available():
        for item in items:
            yield _apply(func, [item])[0]
        return
    yield from _pooled(func, items, size, workers)


def _pooled(
    func: Callable[[T], list[R]], items: Items[T], size: Callable[[T], int], workers: int
) -> Iterator[list[R]]:
    chunks = _chunks(items, size)
    pending: deque[tuple[list[T], Future[list[list[R]]]]] = deque()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start) as pool:
        # A bounded window of chunks in flight keeps every worker busy without copying the whole
        # tree's bytes into the pipes at once.
        for chunk in chunks:
            pending.append((chunk, _submit(pool, func, chunk)))
            if len(pending) >= workers * 3:
                yield from _collect(func, pending.popleft())
        while pending:
            yield from _collect(func, pending.popleft())


def _submit(pool: ProcessPoolExecutor, func: Callable[[T], list[R]], chunk: list[T]) -> Future[list[list[R]]]:
    try:
        return pool.submit(_apply, func, chunk)
    except BrokenProcessPool:
        # The pool is gone; this chunk is analysed in-process when it is collected.
        failed: Future[list[list[R]]] = Future()
        failed.set_exception(BrokenProcessPool("worker pool broke"))
        return failed


def _collect(func: Callable[[T], list[R]], entry: tuple[list[T], Future[list[list[R]]]]) -> list[list[R]]:
    chunk, future = entry
    try:
        return future.result()
    except BrokenProcessPool:
        return _apply(func, chunk)


class Beside(Generic[R]):
    """`func()` in a forked child process while the caller goes on with other work.

    The child is forked before the caller starts anything else (no thread is running yet), gets
    everything by inheritance and sends back only the result. `result()` waits for it; where fork
    is missing, or the child dies, `func` runs in-process then, so no work is lost.
    """

    def __init__(self, func: Callable[[], R]) -> None:
        self._func = func
        self._child: BaseProcess | None = None
        self._receive: Connection | None = None
        if worker_count() <= 1 or not _fork_available():
            return
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_send_result, args=(func, send), daemon=True)
        child.start()
        send.close()
        self._child, self._receive = child, receive

    def result(self) -> R:
        if self._child is None or self._receive is None:
            return self._func()
        try:
            ok, value = self._receive.recv()
        except (EOFError, OSError):  # the child died before it could answer
            ok, value = False, None
        finally:
            self._receive.close()
            self._child.join()
        if ok:
            return cast(R, value)
        if isinstance(value, BaseException):
            raise value
        return self._func()


def _send_result(func: Callable[[], R], send: Connection) -> None:
    gc.freeze()
    os.environ[JOBS_ENV] = "1"  # whatever func maps stays in this child
    try:
        outcome: tuple[bool, object] = (True, func())
    except BaseException as e:  # noqa: BLE001 - raised again in the parent, as without a child
        outcome = (False, e)
    send.send(outcome)
    send.close()
