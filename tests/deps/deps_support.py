"""Builders of small fake installs and archives for the dependency-guard tests.

Everything is written under a test's tmp dir; nothing built here is ever imported or run. The
RECORD lines are correct (sha256, urlsafe base64 without padding, size), as pip writes them, so a
test that wants a tampered file changes it after `make_dist`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

Files = Mapping[str, bytes | str]


def as_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def dist_info_name(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}.dist-info"


def metadata_text(name: str, version: str, requires: tuple[str, ...] = ()) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: test"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n"


def make_dist(
    site: Path,
    name: str,
    version: str,
    files: Files,
    installer: str | None = "pip",
    requires: tuple[str, ...] = (),
) -> Path:
    """Install `files` (paths relative to `site`) as distribution `name`; return its dist-info dir."""
    site.mkdir(parents=True, exist_ok=True)
    di = dist_info_name(name, version)
    contents: dict[str, bytes] = {rel: as_bytes(data) for rel, data in files.items()}
    contents[f"{di}/METADATA"] = metadata_text(name, version, requires).encode()
    if installer is not None:
        contents[f"{di}/INSTALLER"] = f"{installer}\n".encode()
    for rel, data in contents.items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    lines = [record_line(rel, data) for rel, data in contents.items()] + [f"{di}/RECORD,,"]
    (site / di / "RECORD").write_text("\n".join(lines) + "\n")
    return site / di


def wheel_members(name: str, version: str, files: Files, requires: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The members of a well-formed pure-Python wheel, RECORD included."""
    di = dist_info_name(name, version)
    members = {rel: as_bytes(data) for rel, data in files.items()}
    members[f"{di}/METADATA"] = metadata_text(name, version, requires).encode()
    members[f"{di}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    lines = [record_line(rel, data) for rel, data in members.items()] + [f"{di}/RECORD,,"]
    members[f"{di}/RECORD"] = ("\n".join(lines) + "\n").encode()
    return members


def write_zip(path: Path, members: Mapping[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in members.items():
            zf.writestr(rel, data)
    return path


def write_tar(path: Path, members: Mapping[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for rel, data in members.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_wheel(path: Path, name: str, version: str, files: Files, requires: tuple[str, ...] = ()) -> Path:
    """Write `{name}-{version}-py3-none-any.whl` into directory `path`; return the wheel's path."""
    wheel = path / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    return write_zip(wheel, wheel_members(name, version, files, requires))


def make_sdist(path: Path, name: str, version: str, files: Files, fmt: str = "tar.gz") -> Path:
    """Write `{name}-{version}.{fmt}` (tar.gz or zip) into directory `path`, PKG-INFO included."""
    base = f"{name.replace('-', '_')}-{version}"
    members = {f"{base}/{rel}": as_bytes(data) for rel, data in files.items()}
    members[f"{base}/PKG-INFO"] = metadata_text(name, version).encode()
    target = path / f"{base}.{fmt}"
    return write_zip(target, members) if fmt == "zip" else write_tar(target, members)


def site_of(venv: Path) -> Path:
    """The site-packages directory of a venv (`lib/pythonX.Y/site-packages`)."""
    return next((venv / "lib").glob("python3*/site-packages"))
