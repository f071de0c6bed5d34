"""Progress and verbosity: a bar on stderr only when it is a terminal, `--quiet` and `--verbose` as
global options, and the library's watch hooks that feed the bar without printing anything."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import pytest
from cli_support import Cli

from chainproof.cli import output
from chainproof.cli.output import Verbosity
from chainproof.deps import scan
from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.files import TargetKind
from chainproof.deps.targets.directory import DirectoryTree

T = TypeVar("T")
EXE = Path(sys.executable).with_name("chainproof")
HOOK = "import os; os.system('true')\n"


class _Stderr(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _shown(monkeypatch: pytest.MonkeyPatch, *, tty: bool, level: Verbosity, total: int = 50) -> str:
    """What `progress` writes on a stderr that is, or is not, a terminal."""
    stderr = _Stderr(tty)
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("TERM", "xterm")
    output.set_verbosity(level)
    try:
        items = list(output.progress(range(total), total, "counting sheep", minimum=10))
    finally:
        output.set_verbosity(Verbosity.NORMAL)
    assert items == list(range(total))
    return stderr.getvalue()


def test_a_bar_is_drawn_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _shown(monkeypatch, tty=True, level=Verbosity.NORMAL)
    assert "counting sheep" in shown
    assert "\x1b[" in shown  # drawn, then cleared: the bar is transient


@pytest.mark.parametrize(("tty", "level"), [(False, Verbosity.NORMAL), (True, Verbosity.QUIET)])
def test_nothing_is_drawn_off_a_terminal_or_when_quiet(
    monkeypatch: pytest.MonkeyPatch, tty: bool, level: Verbosity
) -> None:
    assert _shown(monkeypatch, tty=tty, level=level) == ""


def test_short_work_draws_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shown(monkeypatch, tty=True, level=Verbosity.NORMAL, total=5) == ""


def test_verbose_says_when_work_starts_and_ends_whatever_stderr_is(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _shown(monkeypatch, tty=False, level=Verbosity.VERBOSE).splitlines()
    assert lines[0] == "chainproof: counting sheep: 0/50"
    assert lines[1].startswith("chainproof: counting sheep: 50/50 in ")
    assert len(lines) == 2


def _called_back(monkeypatch: pytest.MonkeyPatch, *, tty: bool, total: int) -> str:
    """What `progress_callback` writes for work reported as (done, total) in steps of ten."""
    stderr = _Stderr(tty)
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("TERM", "xterm")
    update = output.progress_callback("indexing sheep", minimum=10)
    for done in range(10, total + 1, 10):
        update(done, total)
    return stderr.getvalue()


def test_a_callback_draws_the_bar_for_long_work_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _called_back(monkeypatch, tty=True, total=50)
    assert "indexing sheep" in shown
    assert "\x1b[" in shown
    assert _called_back(monkeypatch, tty=True, total=5) == ""
    assert _called_back(monkeypatch, tty=False, total=50) == ""


# -- the library's hooks: it hands its work to the watch and prints nothing itself ------------------


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, int]] = []

    def __call__(self, items: Iterable[T], total: int, label: str) -> Iterable[T]:
        seen = list(items)
        self.calls.append((total, label, len(seen)))
        return seen


def _site(tmp_path: Path, files: int) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "pkg").mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for n in range(files):
        (site / "pkg" / f"m{n}.py").write_text(f"VALUE = {n}\n")
    (site / "zz_init.pth").write_text(HOOK)
    return site


def test_a_scan_shows_its_watch_every_python_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path, 7)
    watch = _Recorder()
    watched = scan.scan_tree(DirectoryTree(site, TargetKind.ENVIRONMENT), watch=watch)
    assert watch.calls == [(7, str(site), 7)]
    assert watched == scan.scan_tree(DirectoryTree(site, TargetKind.ENVIRONMENT))
    assert watch.calls == [(7, str(site), 7)]  # the unwatched scan left it alone
    watch.calls.clear()
    scan.scan_targets([tmp_path / "venv"], watch=watch)
    assert watch.calls == [(7, str(site), 7)]
    assert capfd.readouterr() == ("", "")


def test_an_import_shows_its_watch_every_record(tmp_path: Path) -> None:
    records = tmp_path / "osv"
    records.mkdir()
    for n in range(3):
        affected = [{"package": {"ecosystem": "PyPI", "name": f"p{n}"}, "versions": ["1.0"]}]
        record = {"id": f"PYSEC-0-{n}", "modified": "2025-01-01T00:00:00Z", "affected": affected}
        (records / f"r{n}.json").write_text(json.dumps(record))
    watch = _Recorder()
    stats = advisory_db.import_paths([records], tmp_path / "a.db", watch=watch)
    assert stats.added == 3
    assert watch.calls == [(3, str(records), 3)]


# -- the global options -------------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    return _site(tmp_path, 3)


def test_quiet_leaves_only_errors_on_stderr(cli: Cli, planted: Path) -> None:
    normal = cli("deps", "scan", planted)
    assert normal.code == 1
    assert normal.err.startswith("chainproof: 0 packages, ")
    for args in (["--quiet"], ["-q"]):
        quiet = cli(*args, "deps", "scan", planted)
        assert (quiet.code, quiet.out, quiet.err) == (1, normal.out, "")
    assert "error" in cli.fails(2, "-q", "deps", "scan", planted.parent / "missing")


def test_the_gates_environment_variable_is_quiet_and_verbose_overrides_it(
    cli: Cli, planted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINPROOF_QUIET", "1")
    assert cli("deps", "scan", planted).err == ""
    lines = cli("--verbose", "deps", "scan", planted).err.splitlines()
    assert lines[0] == f"chainproof: scanning {planted}: 0/3"
    assert lines[1].startswith(f"chainproof: scanning {planted}: 3/3 in ")
    assert lines[-1].startswith("chainproof: 0 packages, ")


def test_quiet_and_verbose_together_are_a_usage_error(cli: Cli) -> None:
    assert "--quiet and --verbose" in cli.fails(2, "-q", "-v", "version", "--json")


# -- end to end, on a real terminal ---------------------------------------------------------------


def _scan_with_stderr_on(terminal: bool, site: Path) -> tuple[int, str]:
    """`chainproof deps scan SITE`, its stderr a pseudo-terminal or a pipe."""
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "CHAINPROOF_JOBS": "1"}
    env.pop("CHAINPROOF_QUIET", None)
    if not terminal:
        done = subprocess.run(
            [EXE, "deps", "scan", site], capture_output=True, text=True, env=env, timeout=300, check=False
        )
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal's last holder went away
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        command = [EXE, "deps", "scan", site]
        proc = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=follower, env=env, timeout=300, check=False
        )
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.slow
def test_a_scan_draws_its_bar_on_a_terminal_only(tmp_path: Path) -> None:
    site = _site(tmp_path, 260)
    code, on_terminal = _scan_with_stderr_on(True, site)
    assert code == 1
    assert "scanning ...lib/python3.11/site-packages" in on_terminal
    assert "/260" in on_terminal
    assert "\x1b[" in on_terminal
    code, on_pipe = _scan_with_stderr_on(False, site)
    assert code == 1
    assert on_pipe.startswith("chainproof: 0 packages, ")
    assert on_pipe.count("\n") == 1
