"""What the dependency-guard benchmarks share: the chainproof CLI, cached venvs, the pinned set.

Venvs are made with the base interpreter (the one the project's .venv was made from) and cached
under bench/.cache/; a stamp file holds the hash of what was asked for, so a changed package list
rebuilds the venv and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common as c

DATA = c.BENCH / "data"
ENV_LIST = DATA / "guard_env_packages.txt"
TOP_LIST = DATA / "top_pypi_1000.txt"
CHAINPROOF = Path(sys.executable).with_name("chainproof")

# The guard areas measure the static analysis: online, every scan would also ask PyPI's JSON API
# about each release, whose answers and latency change from run to run. guard-malware lifts this
# for its samples (their network is cut, so the failed attempt is part of what it times).
os.environ.setdefault("CHAINPROOF_OFFLINE", "1")
_STAMP = ".bench-stamp"


def base_python() -> str:
    """The interpreter this venv's python was made from: new venvs must not nest in .venv."""
    return str(getattr(sys, "_base_executable", "") or sys.executable)


def read_list(path: Path) -> list[str]:
    return [s for line in path.read_text().splitlines() if (s := line.strip()) and not s.startswith("#")]


def _stamp_text(pip_args: Sequence[str]) -> str:
    """A hash of the pip arguments with each `-r` file's content in place of its path."""
    parts = [Path(a).read_text() if i and pip_args[i - 1] == "-r" else a for i, a in enumerate(pip_args)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def ensure_venv(venv: Path, pip_args: Sequence[str], *, rebuild: bool = False) -> Path:
    """A venv at `venv` with `pip install <pip_args>` done once; its python."""
    python = venv / "bin" / "python"
    stamp = venv / _STAMP
    want = _stamp_text(pip_args)
    if not rebuild and python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    c.say(f"building {venv.relative_to(c.BENCH.parent)} (pip install {' '.join(pip_args)[:60]}...)")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base_python(), "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *pip_args], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(want + "\n")
    return python


def env_pip_args() -> list[str]:
    return ["--only-binary", ":all:", "-r", str(ENV_LIST)]


def site_packages(venv: Path) -> list[Path]:
    return sorted(venv.glob("lib/python3*/site-packages"))


def tree_size(roots: Sequence[Path]) -> tuple[int, int]:
    """Regular files and their bytes under `roots` (symlinks not followed)."""
    files = size = 0
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                st = (Path(dirpath) / name).lstat()
                files += 1
                size += st.st_size
    return files, size


def timed_scan(targets: Sequence[str | Path], *, env: dict[str, str] | None = None) -> tuple[float, Any]:
    """Wall seconds of one `chainproof deps scan TARGETS --format json` and its parsed report.

    `--fail-on critical` keeps the exit status about errors only; 2 (usage or runtime error) fails.
    The report goes to a file so that the pipe does not pace the scan.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", dir=c.CACHE, delete=False) as out:
        report = Path(out.name)
    cmd = [str(CHAINPROOF), "deps", "scan", *map(str, targets), "--format", "json"]
    cmd += ["--fail-on", "critical", "--output", str(report)]
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        took = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"chainproof deps scan exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return took, json.loads(report.read_text())
    finally:
        report.unlink(missing_ok=True)


def severity_counts(report: Any) -> str:
    counts = report["summary"]["by_severity"]
    return ", ".join(f"{n} {sev}" for sev, n in counts.items() if n) or "no findings"
