"""Batches of GIL-free calls shared out over threads, one per core.

libsodium's signing and verification release the GIL (cffi calls do), so a batch of Ed25519
signatures, most of what recording a hop costs, runs on every core from plain threads: no process
to start, nothing to pickle. Python work between the calls still takes turns, so only functions
that spend their time in such calls belong here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar, cast

from chainproof._internal.config import jobs

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 64
"""Smaller batches run in the calling thread: handing work to a thread costs tens of microseconds."""

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size  # one pool for the process: threads are kept between batches
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(workers, thread_name_prefix="chainproof"), workers
        return _pool


def map_released(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[func(x) for x in items], in order, on `jobs()` threads when the batch is worth it; the
    first exception raised is raised here."""
    return start_released(func, items).result()


def start_released(func: Callable[[T], R], items: Sequence[T]) -> Started[R]:
    """Start [func(x) for x in items] on helper threads and return at once: the calling thread
    goes on with Python work of its own meanwhile (the helpers only need the GIL between calls),
    then takes its share with `Started.result`."""
    return Started(func, items, min(jobs(), len(items) // MIN_ITEMS) - 1)


class Started(Generic[R]):
    """A batch of GIL-free calls under way on helper threads. Items are handed out one at a time
    from a shared counter, so whoever is free takes the next: the calling thread, once it asks for
    the result, takes whatever the helpers have not started."""

    def __init__(self, func: Callable[[T], R], items: Sequence[T], helpers: int) -> None:
        self._call: Callable[[int], R] = lambda i: func(items[i])
        self._size = len(items)
        self._out: list[R | None] = [None] * self._size
        self._next = itertools.count()  # next() on it is atomic under the GIL
        pool = _executor(helpers) if helpers > 0 else None
        self._helpers = [pool.submit(self._drain) for _ in range(helpers)] if pool is not None else []

    def _drain(self) -> None:
        while (i := next(self._next)) < self._size:
            self._out[i] = self._call(i)

    def result(self) -> list[R]:
        """The results in order, once every item is done; the first exception raised is raised."""
        try:
            self._drain()
        finally:
            for helper in self._helpers:
                helper.result()
        return cast("list[R]", self._out)
