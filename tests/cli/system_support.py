"""Helpers for the CLI tests that need the operating system's help: a small disk, a file size
limit, another user. Each skips, saying why, only where the OS forbids what it needs."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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
    cwd: Path | None = None,
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
        cwd=cwd,
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


OWNER_UID = 65534  # owns the store in the tests: it may write it
READER_UID = 65533  # another user, who may only read it


def as_user(uid: int) -> list[str]:
    """A command prefix that runs as `uid` (no groups), for tests run as root, who ignores file
    modes. It keeps one capability, CAP_DAC_READ_SEARCH, so that it can reach the interpreter
    wherever the virtual environment lives (under /root, say); that capability reads and searches
    but never writes, so write permission is checked as for any other user."""
    if os.geteuid() != 0:
        pytest.skip("only root can run a command as another user")
    if shutil.which("setpriv") is None:
        pytest.skip("this OS has no setpriv (util-linux) to run a command as another user")
    caps = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *caps]
    probe = subprocess.run([*prefix, sys.executable, "-c", ""], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"this OS does not let root run a command as another user: {probe.stderr.strip()}")
    return prefix


@contextmanager
def public_directory() -> Iterator[Path]:
    """A new directory that every user can reach (its parents must be searchable by all, as the
    CLI checks that its --store is readable)."""
    directory = Path(tempfile.mkdtemp(prefix="chainproof-test-"))
    try:
        directory.chmod(0o755)
        for parent in directory.parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                pytest.skip(f"{parent} is not searchable by other users")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def chown_tree(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid)


@contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """`source` bind-mounted read-only at `view`; skips where mounting is forbidden."""
    view.mkdir()
    try:
        bound = subprocess.run(
            ["mount", "--bind", str(source), str(view)], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        pytest.skip("this OS has no mount command to make a read-only view with")
    if bound.returncode != 0:
        pytest.skip(f"this OS does not let the tests bind-mount a directory: {bound.stderr.strip()}")
    try:
        remounted = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(view)], capture_output=True, text=True, check=False
        )
        if remounted.returncode != 0:
            pytest.skip(f"this OS does not let the tests make a mount read-only: {remounted.stderr.strip()}")
        yield view
    finally:
        subprocess.run(["umount", "--lazy", str(view)], check=True)
