"""Re-hashing a store's ranges in worker processes, one per core.

Hashing is CPU-bound Python and so is reading SQLite rows into bytes objects, so threads would not
help: forked worker processes each open their own read-only connection and read, hash and compare
one range at a time (`rehash.RangeHasher`); only small results come back, so the auditing process
does not become the bottleneck by reading and shipping every entry.

Workers never touch the connection inherited from the auditing process. SQLite keeps its POSIX
lock bookkeeping per process and file, and a forked worker inherits it without the locks (fcntl
locks are not inherited): a worker's connection may take a lock as already held that only the
auditing process holds. That process keeps its read transaction, and so its locks, open until
every worker is done, so those locks are held for as long as any worker reads.

Small logs stay in-process: starting workers costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass

from chainproof._internal import config
from chainproof.log import tiles
from chainproof.log.rehash import RangeHasher, RangeHashes, RangeTask
from chainproof.log.store import LogReader
from chainproof.log.tiles import TileId

Opener = Callable[[], AbstractContextManager[LogReader]]
"""Opens a read transaction on the store being audited, on a connection of its own."""

JOBS_ENV = config.JOBS_ENV
"""Worker processes; 1 (or 0) keeps everything in the auditing process."""
SPAN = 1 << 16
"""Leaves per range: enough that a range's start-up is noise, few enough to share out evenly."""
MIN_SIZE = 1 << 17
"""Smaller logs are re-hashed in-process (about 0.2 s of hashing, the price of starting workers)."""


@dataclass(frozen=True)
class Jobs:
    """How an audit shares out its re-hashing."""

    workers: int
    span: int = SPAN
    min_size: int = MIN_SIZE

    @classmethod
    def default(cls) -> Jobs:
        """`CHAINPROOF_JOBS` workers when it is set to a number, else one per core; the module's
        SPAN and MIN_SIZE as they stand now (tests lower them to force workers on a small log)."""
        return cls(config.jobs(), SPAN, MIN_SIZE)

    def workers_for(self, size: int) -> int:
        """Workers worth starting for a log of `size` entries; 1 means in-process."""
        if self.workers <= 1 or size < self.min_size or not _fork_available():
            return 1
        return min(self.workers, -(-size // self.span))


def _fork_available() -> bool:
    # Fork keeps start-up cheap (no re-import of chainproof in each worker); elsewhere stay serial.
    return "fork" in multiprocessing.get_all_start_methods()


def hash_range(reader: LogReader, task: RangeTask) -> RangeHashes:
    """Read one range's entries and claimed leaf hashes (level-0 tiles) and re-hash it."""
    hasher = RangeHasher(task)
    at = task.begin
    for leaves in reader.entry_chunks(task.begin, task.end):
        hasher.feed(leaves, _claims(reader, at, len(leaves)))
        at += len(leaves)
    return hasher.result()


def _claims(reader: LogReader, start: int, count: int) -> list[bytes | None]:
    """The stored leaf hashes of entries [start, start + count); None where no tile holds one."""
    first, last = start // tiles.WIDTH, (start + count - 1) // tiles.WIDTH
    found = reader.tiles([TileId(0, k) for k in range(first, last + 1)])
    claims: list[bytes | None] = []
    for k in range(first, last + 1):
        tile = found.get(TileId(0, k))
        lo = max(start, k * tiles.WIDTH) - k * tiles.WIDTH
        hi = min(start + count, (k + 1) * tiles.WIDTH) - k * tiles.WIDTH
        part = list(tile.base[lo:hi]) if tile is not None else []
        claims += part
        claims += [None] * (hi - lo - len(part))
    return claims


_opener: Opener | None = None


def start_worker(opener: Opener) -> None:
    """A forked worker's initializer: the store it reads (see `worker_opener`). Handed over by
    fork, not pickled: an opener may close over anything."""
    global _opener  # noqa: PLW0603 -- one per worker process, set once at its start
    _opener = opener


def worker_opener() -> Opener:
    """The store this worker process was started to read (`start_worker`)."""
    if _opener is None:
        raise RuntimeError("the worker was started without a store to read")
    return _opener


def _hash_in_worker(task: RangeTask) -> RangeHashes:
    return _hash_with(worker_opener(), task)


def _hash_with(opener: Opener, task: RangeTask) -> RangeHashes:
    with opener() as reader:
        return hash_range(reader, task)


def run(opener: Opener, tasks: list[RangeTask], workers: int) -> Iterator[RangeHashes]:
    """Each task's result, in task order, from `workers` processes.

    An error in a range (a missing entry, say) is raised when its turn comes, so the first one in
    index order wins. A pool that breaks (a worker killed by the OS) loses no work: the ranges it
    did not return are hashed in-process.
    """
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker, initargs=(opener,))
    try:
        futures = [_submit(pool, task) for task in tasks]
        for task, future in zip(tasks, futures, strict=True):
            yield _collect(opener, task, future)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, task: RangeTask) -> Future[RangeHashes]:
    try:
        return pool.submit(_hash_in_worker, task)
    except BrokenProcessPool:
        failed: Future[RangeHashes] = Future()
        failed.set_exception(BrokenProcessPool("worker pool broke"))
        return failed


def _collect(opener: Opener, task: RangeTask, future: Future[RangeHashes]) -> RangeHashes:
    try:
        return future.result()
    except BrokenProcessPool:
        return _hash_with(opener, task)
