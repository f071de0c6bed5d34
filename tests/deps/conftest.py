"""Fixtures for the dependency-guard tests; the builders themselves live in deps_support.py.

Import them with `from deps_support import make_dist, make_wheel, make_sdist` (plain functions),
or take the `site` fixture for an empty site-packages directory and `fresh_venv` for a real one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from deps_support import make_dist, make_sdist, make_wheel, record_line, site_of

__all__ = ["make_dist", "make_sdist", "make_wheel", "record_line", "site_of"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty site-packages directory inside a venv-like layout (`lib/python3.11/site-packages`)."""
    path = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    path.mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    return path


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `python -m venv` (with pip, no network): what a clean environment looks like.

    Made with the base interpreter, not this venv's, so it is an ordinary fresh venv. Tests must
    not modify it; copy it first.
    """
    path = tmp_path_factory.mktemp("fresh") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
    return path
