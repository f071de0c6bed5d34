"""Wheels and sdists as FileTrees, read in memory and never extracted to disk.

An archive is hostile input: its member names may be absolute or climb out with `..`, it may hold
links, devices or the same name twice, declare sizes it does not have, or expand a thousandfold.
Members with unsafe names are kept out of the tree and reported as problems (a scan turns them into
findings); an archive that cannot be read at all, or goes over a limit, is a `TreeError`.

An sdist normally nests everything under one `name-version/` folder, and the rules count on it. pip
also accepts a flat one (files at the top of the archive) and builds it from the archive root; the
top-level members of such an sdist are presented under one folder named for the archive, so the
top-level `setup.py` is still the install script and no file loses its role.
"""

from __future__ import annotations

import io
import lzma
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from chainproof.deps.files import (
    CHUNK_BYTES,
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_FILE_BYTES,
    TargetKind,
    TreeError,
)
from chainproof.deps.model import Severity

PROBLEM_RULE = "archive-unsafe-member"
_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")
_READ_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)
"""What a damaged or hostile archive makes zipfile/tarfile raise (RuntimeError: encrypted zip)."""


@dataclass(frozen=True)
class MemberProblem:
    """A member that was left out of the tree, or is dangerous to whoever extracts the archive."""

    path: str
    severity: Severity
    message: str


class UnsafeMember(ValueError):
    pass


def member_path(name: str) -> str:
    """A member name as a tree path; raise UnsafeMember for names that escape the archive root."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise UnsafeMember("absolute path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeMember("`..` in the path climbs out of the extraction directory")
    if not parts:
        raise UnsafeMember("empty name")
    return "/".join(parts)


def link_escapes(path: str, target: str, hard: bool = False) -> bool:
    """Whether a link member points outside the archive (hard links are relative to the root)."""
    text = target.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return True
    base = "" if hard else posixpath.dirname(path)
    joined = posixpath.normpath(posixpath.join(base, text))
    return joined == ".." or joined.startswith("../")


def archive_kind(path: Path) -> TargetKind | None:
    name = path.name.lower()
    if name.endswith(".whl"):
        return TargetKind.WHEEL
    if name.endswith(_SDIST_SUFFIXES):
        return TargetKind.SDIST
    return None


def declared_name(path: Path, kind: TargetKind) -> tuple[str, str] | None:
    """(name, version) from an archive's file name, when it follows the wheel or sdist convention."""
    try:
        if kind is TargetKind.WHEEL:
            name, version, _, _ = parse_wheel_filename(path.name)
            return str(name), str(version)
        stem = re.sub(r"\.(tgz|tar\.bz2|tar\.xz|tar)$", ".tar.gz", path.name, flags=re.IGNORECASE)
        sname, sversion = parse_sdist_filename(stem)
        return str(sname), str(sversion)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


class ArchiveTree:
    """The members of an archive, held in memory (zip members are inflated on demand)."""

    def __init__(self, path: Path, kind: TargetKind) -> None:
        self.path = path
        self._kind = kind
        self.problems: list[MemberProblem] = []
        self.declared = declared_name(path, kind)
        self._sizes: dict[str, int] = {}
        self._data: dict[str, bytes | None] = {}
        """Tar members' bytes (None: over the per-file limit, size known, not kept)."""
        self._zip: zipfile.ZipFile | None = None
        self._zip_infos: dict[str, zipfile.ZipInfo] = {}
        self._links: list[tuple[str, str]] = []
        self._far: dict[str, int] = {}
        """Tar members over the per-file limit -> their index in the archive, to stream them again."""
        self._raw = b""
        """The archive's bytes, kept only while a far member may be streamed from them."""
        try:
            if path.stat().st_size > MAX_ARCHIVE_BYTES:
                raise TreeError(f"{path}: larger than {MAX_ARCHIVE_BYTES} bytes")
            raw = path.read_bytes()
        except OSError as e:
            raise TreeError(f"{path}: cannot read ({e.strerror})") from None
        try:
            if zipfile.is_zipfile(io.BytesIO(raw)):
                self._load_zip(raw)
            elif path.name.lower().endswith((".whl", ".zip")):
                raise TreeError(f"{path}: not a zip archive (corrupt or truncated)")
            else:
                self._load_tar(raw)
        except TreeError:
            raise
        except _READ_ERRORS as e:
            raise TreeError(f"{path}: corrupt or truncated archive ({_short(e)})") from None
        if self._far:
            self._raw = raw
        self.flat_root = ""
        """The folder a flat sdist's top-level members are presented in ("" when none is)."""
        if kind is TargetKind.SDIST and self._has_top_level_members():
            self.flat_root = self._flat_root()
            self._nest(self.flat_root)

    @property
    def label(self) -> str:
        return str(self.path)

    @property
    def kind(self) -> TargetKind:
        return self._kind

    def paths(self) -> Iterator[str]:
        return iter(sorted(self._sizes))

    def size(self, path: str) -> int:
        return self._sizes[path]

    def links(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self._links))

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if path not in self._sizes:
            raise TreeError(f"{path}: not a regular file of {self.path}")
        if self._sizes[path] > limit:
            raise TreeError(f"{path}: {self._sizes[path]} bytes, over the {limit}-byte limit")
        if self._zip is None:
            data = self._data[path]
            if data is None:
                raise TreeError(f"{path}: {self._sizes[path]} bytes, over the {MAX_FILE_BYTES}-byte limit")
            return data
        try:
            with self._zip.open(self._zip_infos[path]) as member:
                # zipfile stops at the declared size and checks the CRC at the end of the member.
                return member.read(limit + 1)[:limit]
        except _READ_ERRORS as e:
            raise TreeError(f"{path}: cannot read from {self.path.name} ({_short(e)})") from None

    def chunks(self, path: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The file's bytes in pieces of at most `size`, whatever its length (bounded only by the
        archive's expansion limit): for files too large to `read` whole."""
        if path not in self._sizes:
            raise TreeError(f"{path}: not a regular file of {self.path}")
        try:
            if self._zip is not None:
                with self._zip.open(self._zip_infos[path]) as member:
                    yield from iter(lambda: member.read(size), b"")
            elif path in self._far:
                yield from self._far_chunks(self._far[path], size)
            else:
                data = self._data[path] or b""
                yield from (data[i : i + size] for i in range(0, len(data), size))
        except _READ_ERRORS as e:
            raise TreeError(f"{path}: cannot read from {self.path.name} ({_short(e)})") from None

    def _far_chunks(self, index: int, size: int) -> Iterator[bytes]:
        # Stream mode again, from the start: a compressed tar cannot seek, and this is rare.
        with tarfile.open(fileobj=io.BytesIO(self._raw), mode="r|*") as tf:
            for i, member in enumerate(tf):
                if i == index:
                    stream = tf.extractfile(member)
                    while stream is not None and (chunk := stream.read(size)):
                        yield chunk
                    return

    # --- flat sdists ---

    def _has_top_level_members(self) -> bool:
        """Whether some member sits at the top of the archive, outside any folder."""
        return any("/" not in p for p in [*self._sizes, *(p for p, _ in self._links)])

    def _flat_root(self) -> str:
        """A folder name for the top-level members: the archive's `name-version`, made distinct
        from the folders the archive already has."""
        if self.declared:
            root = f"{self.declared[0]}-{self.declared[1]}"
        else:
            stem = re.sub(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|tar|zip)$", "", self.path.name, flags=re.I)
            root = re.sub(r"[^A-Za-z0-9._+-]", "_", stem).strip(".") or "sdist"
        tops = {p.partition("/")[0] for p in [*self._sizes, *(p for p, _ in self._links)] if "/" in p}
        while root in tops:
            root += "_"
        return root

    def _nest(self, root: str) -> None:
        """Present the top-level members under `root/`. Folders stay where they are: a `setup.py`
        one level down keeps counting as an install script (another tool may build from there),
        and the one at the top, which pip runs, counts as one too."""

        def moved(path: str) -> str:
            return path if "/" in path else f"{root}/{path}"

        self._sizes = {moved(p): n for p, n in self._sizes.items()}
        self._data = {moved(p): d for p, d in self._data.items()}
        self._zip_infos = {moved(p): i for p, i in self._zip_infos.items()}
        self._far = {moved(p): i for p, i in self._far.items()}
        self._links = [(moved(p), t) for p, t in self._links]

    # --- loading ---

    def _admit(self, name: str, total: int) -> str | None:
        """The tree path of a member, after the count, size and name checks (None: left out)."""
        if len(self._sizes) + len(self._links) >= MAX_ARCHIVE_MEMBERS:
            raise TreeError(f"{self.path}: more than {MAX_ARCHIVE_MEMBERS} members")
        if total > MAX_ARCHIVE_BYTES:
            raise TreeError(f"{self.path}: expands to more than {MAX_ARCHIVE_BYTES} bytes (zip bomb?)")
        try:
            path = member_path(name)
        except UnsafeMember as e:
            self.problems.append(MemberProblem(name, Severity.HIGH, f"unsafe member name: {e}"))
            return None
        if path in self._sizes or any(path == p for p, _ in self._links):
            self.problems.append(
                MemberProblem(
                    path,
                    Severity.HIGH,
                    "the archive holds this name twice: the copy that gets installed "
                    "may not be the one that was checked",
                )
            )
            return None
        return path

    def _add_link(self, path: str, target: str, hard: bool) -> None:
        self._links.append((path, target))
        if link_escapes(path, target, hard):
            kind = "hard link" if hard else "symbolic link"
            self.problems.append(
                MemberProblem(path, Severity.HIGH, f"{kind} to {target[:120]!r}, outside the archive")
            )

    def _load_zip(self, raw: bytes) -> None:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise TreeError(f"{self.path}: more than {MAX_ARCHIVE_MEMBERS} members")
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            total += info.file_size
            path = self._admit(info.filename, total)
            if path is None:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                with zf.open(info) as member:
                    target = member.read(4096).decode("utf-8", "replace")
                self._add_link(path, target, hard=False)
                continue
            self._sizes[path] = info.file_size
            self._zip_infos[path] = info
        self._zip = zf

    def _load_tar(self, raw: bytes) -> None:
        total = 0
        # Stream mode: members are read in order, once, and nothing is written to disk.
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r|*") as tf:
            for index, member in enumerate(tf):
                if member.isdir():
                    continue
                total += max(member.size, 0)
                path = self._admit(member.name, total)
                if path is None:
                    continue
                if member.issym() or member.islnk():
                    self._add_link(path, member.linkname, hard=member.islnk())
                elif member.isreg():
                    self._sizes[path] = member.size
                    self._data[path] = self._tar_bytes(tf, member)
                    if self._data[path] is None:
                        self._far[path] = index
                else:
                    self.problems.append(MemberProblem(path, Severity.MEDIUM, "a device or FIFO member"))

    def _tar_bytes(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
        if member.size > MAX_FILE_BYTES:
            return None
        stream = tf.extractfile(member)
        if stream is None:
            return None
        data = stream.read(member.size + 1)
        if len(data) != member.size:
            raise TreeError(f"{self.path}: {member.name} is truncated")
        return data


class WheelTree(ArchiveTree):
    def __init__(self, path: Path) -> None:
        super().__init__(path, TargetKind.WHEEL)


class SdistTree(ArchiveTree):
    def __init__(self, path: Path) -> None:
        super().__init__(path, TargetKind.SDIST)


def open_archive(path: Path) -> ArchiveTree:
    """The tree of a `.whl` or an sdist (`.tar.gz`, `.tgz`, `.zip`, ...); TreeError otherwise."""
    kind = archive_kind(path)
    if kind is TargetKind.WHEEL:
        return WheelTree(path)
    if kind is TargetKind.SDIST:
        return SdistTree(path)
    raise TreeError(f"{path}: not a wheel or an sdist")


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:160]
