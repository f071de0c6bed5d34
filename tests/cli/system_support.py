"""Helpers for the CLI tests that need the operating system's help: a small disk, a file size
limit, another user. Each skips, saying why, only where the OS forbids what it needs."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("chainproof")
ERROR_PREFIX = b"chainproof: error: "


def run(
    args: Sequence[object],
    *,
    limit_file_size: int | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[bytes]:
    """`chainproof ARGS`, optionally with no file growing past `limit_file_size` bytes (writes past
    it fail as on a full disk: SIGXFSZ is ignored), or run through `prefix` (another user's)."""

    def limit() -> None:
        if limit_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    result = subprocess.run(
        [*prefix, str(EXE), *(str(a) for a in args)],
        capture_output=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=limit,
        check=False,
    )
    for stream in (result.stdout, result.stderr):
        assert b"Traceback" not in stream, stream.decode(errors="replace")
    return result


def one_line_error(result: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(ERROR_PREFIX), lines
    return lines[0][len(ERROR_PREFIX) :].decode()


@contextmanager
def small_disk(directory: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `directory`, to fill up; skips where mounting is forbidden."""
    directory.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip("this OS has no mount command to make a small disk with")
    if mounted.returncode != 0:
        pytest.skip(f"this OS does not let the tests mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a file that takes all the space on `disk` but about `leave` bytes; return it."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        free = shutil.disk_usage(disk).free - leave
        try:
            while free > 0:
                f.write(b"\0" * min(free, 1 << 16))
                f.flush()
                free = shutil.disk_usage(disk).free - leave
        except OSError as e:  # the last block did not fit: the disk is full
            if e.errno != errno.ENOSPC:
                raise
    return filler
