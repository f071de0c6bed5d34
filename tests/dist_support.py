"""Distributions written as an installer writes them, for the tests that read environments."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path


def install(site: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """Write a distribution into `site`: its files, METADATA and RECORD; return the RECORD."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    files = {**files, f"{info.name}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"}
    lines = []
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append(f"{rel},sha256={digest},{len(text.encode())}")
    (info / "RECORD").write_text("\n".join([*lines, f"{info.name}/RECORD,,"]) + "\n")
    return info / "RECORD"


def venv(root: Path) -> Path:
    """An empty venv-shaped directory at `root`; returns its site-packages."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    return site
