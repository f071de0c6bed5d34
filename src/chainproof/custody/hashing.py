"""Hashing the files of a dataset on every core, refusing any file that changes while it is read.

Threads, not processes: hashlib releases the GIL while it hashes 2 KiB or more, and so do the
system calls, so threads hash large files in parallel (four files of 192-448 MiB from the page
cache: 1,494 MB/s on one thread, 3,081 MB/s on two, with 2 cores). Small files are another
matter: per file, six system calls (about 9 us here) and the hash (about 6 us for 9 KiB) each
give up and retake the GIL, and two threads doing that together convoy on it: 20,000 files of
9 KiB on average took 0.37 s on one thread and 0.37 s on two. So at most one thread at a time
takes small files, while the others hash large ones, which need the GIL only between 1 MiB reads;
only when no large file is left do all threads take small ones. Large files are handed out largest
first, so that no core is left alone with a large file at the end.

Change detection: each file is opened without following links, and must be the very file the
walk saw (device, inode, size, mtime); after hashing, the bytes read must equal that size and
fstat must still give the same size and mtime. A rewrite of the same length within the file
system's timestamp granularity escapes this: only a snapshot of the tree could rule that out.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from chainproof.errors import UsageError

ProgressCallback = Callable[[int, int], None]
"""`on_progress(done_bytes, total_bytes)`: called from the thread that called `build`, about ten
times a second while it works and once at the end."""

# Opened without following a link (a file swapped for one fails with ELOOP) and non-blocking, so
# that a file swapped for a fifo after the walk cannot hang the open; O_NONBLOCK does not change
# reads of regular files.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
# Reads of 1 MiB into one buffer per thread, reused: hashing a 512 MiB file from the page cache ran
# at 1,318 MiB/s with 256 KiB reads and 1,399 MiB/s with 1 MiB or 4 MiB ones (SHA-256 alone, with
# the CPU's SHA extensions: 1,720 MiB/s).
CHUNK = 1 << 20
SMALL = 64 << 10
"""Files below this are read in one call and go to the one-thread-at-a-time queue (see above)."""
BATCH_BYTES = 4 << 20
BATCH_FILES = 256
"""A task holds one file of BATCH_BYTES or more, or files up to either limit: few hand-outs,
yet tasks small enough to balance the cores at the end."""
_PROGRESS_SECONDS = 0.1


class DatasetError(UsageError):
    """A dataset could not be read faithfully: missing, unreadable, special file, loop, undecodable
    name, or changed while it was hashed. Exit code 2: the tool could not do its job."""


class Found(NamedTuple):
    """A regular file as the walk saw it (lstat). A named tuple: a walk makes one per file."""

    path: str  # relative POSIX path in the manifest
    abspath: str
    size: int
    dev: int
    ino: int
    mtime_ns: int


def shown(path: str) -> str:
    """A path for a one-line message: undecodable bytes as \\xNN, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- one file --------------------------------------------------------------------------------


def _changed(f: Found, how: str) -> DatasetError:
    return DatasetError(f"{shown(f.abspath)}: changed while it was hashed ({how})")


def _open(f: Found) -> int:
    try:
        return os.open(f.abspath, _OPEN_FLAGS)
    except FileNotFoundError:
        raise _changed(f, "removed") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _changed(f, "replaced by a symlink") from None
        raise DatasetError(f"{shown(f.abspath)}: cannot read: {e.strerror}") from None


def _check_before(fd: int, f: Found) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (f.dev, f.ino):
        raise _changed(f, "replaced")
    if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns):
        raise _changed(f, "modified")


def _check_after(fd: int, f: Found, total: int) -> None:
    if total != f.size:
        raise _changed(f, f"read {total:,} bytes, not {f.size:,}")
    st = os.fstat(fd)
    if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns):
        raise _changed(f, "modified")


def _read_small(fd: int, f: Found) -> bytes:
    """The whole file, in one read when it is as long as the walk saw (one more byte is asked
    for, so that a file that grew shows it)."""
    data = os.read(fd, f.size + 1)
    if 0 < len(data) < f.size:  # a short read before the end: only some file systems do that
        parts = [data]
        got = len(data)
        while got <= f.size and (more := os.read(fd, f.size + 1 - got)):
            parts.append(more)
            got += len(more)
        data = b"".join(parts)
    return data


def _digest_chunks(fd: int, f: Found, buf: bytearray, tally: Tally) -> tuple[bytes, int]:
    h = hashlib.sha256()
    view = memoryview(buf)
    total = 0
    readv = os.readv
    while n := readv(fd, (buf,)):
        h.update(view[:n])
        total += n
        tally.add(n)
        if total > f.size:
            break  # growing: stop rather than chase it
    return h.digest(), total


def hash_found(f: Found, buf: bytearray, tally: Tally | None = None) -> bytes:
    """SHA-256 of a file that must still be what the walk saw, streamed through `buf`."""
    tally = tally if tally is not None else Tally()
    fd = _open(f)
    try:
        _check_before(fd, f)
        if f.size < SMALL:
            data = _read_small(fd, f)
            digest, total = hashlib.sha256(data).digest(), len(data)
            tally.add(total)
        else:
            digest, total = _digest_chunks(fd, f, buf, tally)
        _check_after(fd, f, total)
        return digest
    except OSError as e:
        raise DatasetError(f"{shown(f.abspath)}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


# -- many files ------------------------------------------------------------------------------


class _Cancelled(Exception):
    """Raised inside a worker once the build has failed or been interrupted."""


class Tally:
    """Bytes hashed so far, added to by the workers, read by the calling thread. Once cancelled,
    the next `add` (within one read of every worker) stops the worker that calls it."""

    def __init__(self) -> None:
        self.done = 0
        self.cancelled = False
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
        if self.cancelled:
            raise _Cancelled


def _tasks(files: Sequence[Found], order: Sequence[int]) -> list[list[int]]:
    tasks: list[list[int]] = []
    batch: list[int] = []
    size = 0
    for i in order:
        if files[i].size >= BATCH_BYTES:
            tasks.append([i])
            continue
        batch.append(i)
        size += files[i].size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            tasks.append(batch)
            batch, size = [], 0
    if batch:
        tasks.append(batch)
    return tasks


class _Work:
    """The tasks, handed out under a lock: small files to one thread at a time while large files
    remain, large files largest first. The first error stops every thread at its next task."""

    def __init__(self, files: Sequence[Found], tally: Tally) -> None:
        small = [i for i, f in enumerate(files) if f.size < SMALL]  # walk order: directory by directory
        large = sorted((i for i, f in enumerate(files) if f.size >= SMALL), key=lambda i: -files[i].size)
        self._small = deque(_tasks(files, small))
        self._large = deque(_tasks(files, large))
        self._on_small = 0
        self._lock = threading.Lock()
        self.tally = tally
        self.error: BaseException | None = None

    def take(self, *, done_small: bool) -> tuple[bool, list[int]] | None:
        with self._lock:
            if done_small:
                self._on_small -= 1
            if self.error is not None:
                return None
            if self._small and (self._on_small == 0 or not self._large):
                self._on_small += 1
                return True, self._small.popleft()
            if self._large:
                return False, self._large.popleft()
            return None

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
            self.tally.cancelled = True


def _worker(work: _Work, files: Sequence[Found], out: list[bytes]) -> None:
    buf = bytearray(CHUNK)
    small = False
    try:
        while (task := work.take(done_small=small)) is not None:
            small, batch = task
            for i in batch:
                out[i] = hash_found(files[i], buf, work.tally)
    except _Cancelled:
        return
    except BaseException as e:  # noqa: BLE001 -- handed to the calling thread, which raises it
        work.fail(e)


def hash_files(
    files: Sequence[Found], *, jobs: int | None = None, on_progress: ProgressCallback | None = None
) -> list[bytes]:
    """The SHA-256 of each file, hashed by `jobs` threads (default: every core; 0 is 1)."""
    total = sum(f.size for f in files)
    out: list[bytes] = [b""] * len(files)
    tally = Tally()
    work = _Work(files, tally)
    count = max(1, min(default_jobs() if jobs is None else jobs, len(files)))
    threads = [
        threading.Thread(target=_worker, args=(work, files, out), name=f"hash-{n}", daemon=True)
        for n in range(count)
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(_PROGRESS_SECONDS)
                if on_progress is not None:
                    on_progress(tally.done, total)
    except BaseException as e:  # Ctrl-C: each thread stops at its next read
        work.fail(e)
        for t in threads:
            t.join()
        raise
    if work.error is not None:
        raise work.error
    if on_progress is not None:
        on_progress(tally.done, total)
    return out
