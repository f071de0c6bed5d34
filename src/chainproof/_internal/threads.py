"""Batches of GIL-free calls shared out over threads, one per core.

libsodium's signing and verification release the GIL (cffi calls do), so a batch of Ed25519
signatures, most of what recording a hop costs, runs on every core from plain threads: no process
to start, nothing to pickle. Python work between the calls still takes turns, so only functions
that spend their time in such calls belong here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

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
    workers = min(jobs(), len(items) // MIN_ITEMS)
    if workers <= 1:
        return [func(x) for x in items]
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    pool = _executor(workers - 1)
    futures = [pool.submit(_apply, func, chunk) for chunk in chunks[1:]]
    out = _apply(func, chunks[0])  # the calling thread takes a share too
    for future in futures:
        out += future.result()
    return out


def _apply(func: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [func(x) for x in chunk]
