"""A small disk to fill up, for the tests of what a full disk does (CLI and store alike)."""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


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
        # Lazily: a test may still hold a store open there until it is collected.
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
