"""Which site-packages directories make up an environment: a venv, a prefix, or an interpreter.

An interpreter is never started normally to ask: every normal start runs the `.pth` hooks of its
site-packages, which is exactly what a scan must not do. A venv is read from `pyvenv.cfg` and its
layout; any other interpreter runs with `-I -S` (isolated, no `site`, so no `.pth` is processed)
and only prints its `sysconfig` paths.
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from chainproof._internal import untrusted_json
from chainproof.deps.files import TreeError
from chainproof.errors import UsageError

PYTHON_TIMEOUT = 20.0
_PATHS_CODE = (
    "import json, sysconfig; p = sysconfig.get_paths(); "
    "print(json.dumps([p.get('purelib'), p.get('platlib')]))"
)


@dataclass(frozen=True)
class Environment:
    label: str
    """What the user named: a venv, a directory, or an interpreter."""
    site_dirs: tuple[Path, ...]


def parse_pyvenv_cfg(text: str) -> dict[str, str]:
    """`key = value` lines of pyvenv.cfg, keys lower-cased; other lines are ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _version_dir(cfg: dict[str, str]) -> str | None:
    """`python3.11` from pyvenv.cfg's `version` (or `version_info`, as uv writes it)."""
    match = re.match(r"(\d+)\.(\d+)", cfg.get("version", "") or cfg.get("version_info", ""))
    return f"python{match[1]}.{match[2]}" if match else None


def _unique_dirs(candidates: list[Path]) -> tuple[Path, ...]:
    """Existing directories, once each (`lib64` is usually a link to `lib`)."""
    seen: set[Path] = set()
    found: list[Path] = []
    for path in candidates:
        if not path.is_dir():
            continue
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            found.append(path)
    return tuple(found)


def prefix_site_dirs(prefix: Path) -> tuple[Path, ...]:
    """The site-packages directories of a venv or installation prefix, found from its layout."""
    cfg_file = prefix / "pyvenv.cfg"
    version = None
    if cfg_file.is_file():
        try:
            version = _version_dir(parse_pyvenv_cfg(cfg_file.read_text("utf-8", "replace")))
        except OSError as e:
            raise TreeError(f"{cfg_file}: cannot read ({e.strerror})") from None
    candidates: list[Path] = []
    for lib in ("lib", "lib64"):
        if version is not None:
            candidates.append(prefix / lib / version / "site-packages")
        candidates += sorted((prefix / lib).glob("python3*/site-packages"))
        candidates += sorted((prefix / lib).glob("pypy3*/site-packages"))
    candidates.append(prefix / "Lib" / "site-packages")  # Windows layout
    return _unique_dirs(candidates)


def is_prefix(path: Path) -> bool:
    """A venv (pyvenv.cfg) or a prefix with `lib/pythonX.Y/site-packages`, not a site dir itself."""
    return (path / "pyvenv.cfg").is_file() or bool(prefix_site_dirs(path))


def environment_of_directory(path: Path) -> Environment:
    """A venv or prefix gives its site-packages; any other directory is taken as one itself."""
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    path = path.absolute()
    if is_prefix(path):
        dirs = prefix_site_dirs(path)
        if not dirs:
            raise TreeError(f"{path}: a virtual environment without a site-packages directory")
        return Environment(str(path), dirs)
    return Environment(str(path), (path,))


def _venv_of(exe: Path) -> Path | None:
    """The venv an interpreter belongs to, found where `site` looks: next to it or one level up."""
    for candidate in (exe.parent, exe.parent.parent):
        if (candidate / "pyvenv.cfg").is_file():
            return candidate
    return None


def environment_of_python(exe: str, timeout: float = PYTHON_TIMEOUT) -> Environment:
    """The site-packages of interpreter `exe`, without letting it process any `.pth` file."""
    path = Path(exe)
    if not path.exists():
        raise UsageError(f"{exe}: no such interpreter")
    venv = _venv_of(path.absolute())
    if venv is not None:
        dirs = prefix_site_dirs(venv)
        if dirs:
            return Environment(exe, dirs)
    try:
        # -I: ignore PYTHON* variables and the user site; -S: no `site`, hence no .pth hooks.
        proc = subprocess.run(
            [exe, "-I", "-S", "-c", _PATHS_CODE],
            capture_output=True,
            timeout=timeout,
            env={"PATH": os.environ.get("PATH", "")},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TreeError(f"{exe}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise UsageError(f"{exe}: cannot run ({e.strerror})") from None
    dirs = _unique_dirs(_paths_from_output(exe, proc.returncode, proc.stdout))
    if not dirs:
        raise TreeError(f"{exe}: its site-packages directories do not exist")
    return Environment(exe, dirs)


def _paths_from_output(exe: str, returncode: int, stdout: bytes) -> list[Path]:
    try:
        values = untrusted_json.loads(stdout, unique_keys=False) if returncode == 0 else None
    except ValueError:
        values = None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values if v is not None):
        raise TreeError(f"{exe}: did not report its site-packages (is it a Python interpreter?)")
    return [Path(v) for v in values if v]


def current_environment() -> Environment:
    """The running interpreter's site-packages, from its own sysconfig (no subprocess)."""
    paths = sysconfig.get_paths()
    dirs = _unique_dirs([Path(paths[k]) for k in ("purelib", "platlib") if k in paths])
    if not dirs:
        raise TreeError("the current interpreter has no site-packages directory")
    return Environment("current interpreter", dirs)
