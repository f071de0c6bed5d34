"""The distributions in a tree, read from their metadata alone: `*.dist-info` and `*.egg-info`.

Parsing is pure (bytes in, values out); `read_inventory` is the only part that touches the tree.
Malformed metadata is itself a finding (`metadata-malformed`), never a crash: a hostile package
controls every byte of its METADATA and RECORD.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import Parser
from email.policy import compat32

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainproof._internal import untrusted_json
from chainproof._internal.text import plural
from chainproof.deps.files import FileTree, TargetKind, TreeError
from chainproof.deps.model import Distribution, Finding, RecordEntry, Severity

RULE = "metadata-malformed"
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_METADATA_LIMIT = 16 * 1024 * 1024
"""METADATA holds the long description; a few MB is already unusual, 16 MB is hostile."""


_DIGEST_SIZES = {
    name: hashlib.new(name, usedforsecurity=False).digest_size
    for name in ("sha224", "sha256", "sha384", "sha512", "md5", "sha1")
}


class MetadataError(ValueError):
    """A metadata file that cannot be understood; the message is one line for a person."""


@dataclass(frozen=True)
class CoreMetadata:
    name: str
    version: str
    requires: tuple[str, ...]


@dataclass(frozen=True)
class ParsedRecord:
    entries: tuple[RecordEntry, ...]
    bad_lines: tuple[int, ...]
    """1-based line numbers that could not be parsed (they are left out of `entries`)."""


@dataclass(frozen=True)
class Inventory:
    distributions: tuple[Distribution, ...]
    owners: Mapping[str, Distribution]
    """Each owned path of the tree, mapped to the distribution that installed or ships it."""
    metadata_dirs: frozenset[str]
    """Every `*.dist-info` / `*.egg-info` directory seen, readable or not (never orphans)."""
    findings: tuple[Finding, ...]
    errors: tuple[str, ...]


# --- pure parsing -------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, bool]:
    """The text of a metadata file, and whether it was valid UTF-8 (latin-1 is the fallback)."""
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("latin-1"), False


def parse_metadata(data: bytes) -> CoreMetadata:
    """Name, Version and Requires-Dist of a METADATA / PKG-INFO file (RFC 822 style headers)."""
    text, _ = decode_text(data)
    if "\x00" in text:
        raise MetadataError("contains NUL bytes")
    msg = Parser(policy=compat32).parsestr(text, headersonly=True)
    name = str(msg.get("Name", "")).strip()
    version = str(msg.get("Version", "")).strip()
    if not name or not version:
        raise MetadataError("no Name or no Version header")
    if not _NAME.match(name):
        raise MetadataError(f"invalid project name {name[:80]!r}")
    if any(c.isspace() for c in version) or len(version) > 200:
        raise MetadataError(f"invalid version {version[:80]!r}")
    requires = tuple(str(r).strip() for r in msg.get_all("Requires-Dist", []))
    return CoreMetadata(name, version, requires)


def _parse_hash(field: str) -> tuple[str | None, bytes | None]:
    if not field:
        return None, None
    algorithm, sep, encoded = field.partition("=")
    if not sep or not algorithm or not encoded:
        raise MetadataError(f"bad hash field {field[:40]!r}")
    try:
        digest = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MetadataError(f"bad base64 in hash {field[:40]!r}") from None
    expected = _DIGEST_SIZES.get(algorithm.lower())
    if expected is not None and len(digest) != expected:
        raise MetadataError(f"a {algorithm} digest of {len(digest)} bytes")
    return algorithm.lower(), digest


def _parse_record_row(row: list[str]) -> RecordEntry:
    if len(row) != 3 or not row[0]:
        raise MetadataError("expected path,hash,size")
    path, hash_field, size_field = row
    algorithm, digest = _parse_hash(hash_field)
    size = None
    if size_field:
        if not (size_field.isascii() and size_field.isdigit() and len(size_field) <= 20):
            raise MetadataError(f"bad size {size_field[:20]!r}")
        size = int(size_field)
    return RecordEntry(path, algorithm, digest, size)


def parse_record(data: bytes) -> ParsedRecord:
    """The lines of a RECORD file; unparseable lines are counted, not fatal."""
    text, _ = decode_text(data)
    entries: list[RecordEntry] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows = list(csv.reader([line]))
            entries.append(_parse_record_row(rows[0] if rows else []))
        except (csv.Error, MetadataError):
            bad.append(number)
    return ParsedRecord(tuple(entries), tuple(bad))


def parse_file_list(data: bytes) -> tuple[str, ...]:
    """installed-files.txt / top_level.txt: one path or name per line."""
    text, _ = decode_text(data)
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def parse_direct_url(data: bytes) -> Mapping[str, object]:
    try:
        value = untrusted_json.loads(data, unique_keys=False)
    except (ValueError, RecursionError):
        raise MetadataError("direct_url.json is not JSON") from None
    if not isinstance(value, dict):
        raise MetadataError("direct_url.json is not a JSON object")
    return value


def _plain(path: str) -> bool:
    """A path already in normal form: relative, `/`-separated, no `.`/`..`/empty segments."""
    return bool(path) and not (
        path.startswith(("/", "."))
        or "\\" in path
        or "//" in path
        or "/." in path
        or path.endswith("/")
        or path[1:2] == ":"
    )


def tree_path(base: str, relative: str) -> str | None:
    """`relative` (from a RECORD or file list) as a path of the tree, or None when it lies outside.

    RECORD paths are relative to the directory holding the dist-info; scripts land in `bin/`
    through `../../../bin/x`, which is outside a site-packages tree and not ours to check.
    """
    if not base and _plain(relative):
        return relative  # the common case, tens of thousands of times per environment
    rel = relative.replace("\\", "/")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        return None
    joined = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    if joined in ("", ".") or joined == ".." or joined.startswith("../"):
        return None
    return joined


def record_path(dist: Distribution, entry: RecordEntry) -> str | None:
    """Where a RECORD entry of an installed distribution lives in the tree, or None outside it."""
    return tree_path(posixpath.dirname(dist.metadata_dir), entry.path)


# --- reading a tree ----------------------------------------------------------------------------


def _metadata_dirs(paths: Iterable[str], kind: TargetKind) -> list[str]:
    """Metadata directories: top level only, except in sdists where egg-info may sit in `src/`."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")
        for depth, part in enumerate(parts[:-1]):
            if part.endswith((".dist-info", ".egg-info")):
                if depth == 0 or kind is TargetKind.SDIST:
                    found.add("/".join(parts[: depth + 1]))
                break
    return sorted(found)


class _Reader:
    """Reads one tree's metadata, collecting findings and errors on the way."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.paths = set(tree.paths())
        self.findings: list[Finding] = []
        self.errors: list[str] = []

    def finding(
        self,
        severity: Severity,
        path: str,
        message: str,
        *,
        about: CoreMetadata | Distribution | None = None,
        line: int | None = None,
    ) -> None:
        name, version = (about.name, about.version) if about is not None else (None, None)
        self.findings.append(Finding(RULE, severity, name, version, path, line, message))

    def read(self, path: str, limit: int = _METADATA_LIMIT) -> bytes | None:
        if path not in self.paths:
            return None
        try:
            return self.tree.read(path, limit)
        except TreeError as e:
            self.errors.append(str(e))
            return None

    def core(self, meta_dir: str, filename: str) -> CoreMetadata | None:
        path = f"{meta_dir}/{filename}" if meta_dir else filename
        data = self.read(path)
        if data is None:
            self.finding(Severity.MEDIUM, meta_dir or path, f"{filename} is missing or unreadable")
            return None
        try:
            core = parse_metadata(data)
        except MetadataError as e:
            self.finding(Severity.MEDIUM, path, f"{filename} is malformed: {e}")
            return None
        if not decode_text(data)[1]:
            self.finding(Severity.LOW, path, f"{filename} is not UTF-8", about=core)
        return core

    def record(self, meta_dir: str, core: CoreMetadata) -> tuple[RecordEntry, ...] | None:
        data = self.read(f"{meta_dir}/RECORD")
        if data is None:
            return None
        parsed = parse_record(data)
        if parsed.bad_lines:
            lines = ", ".join(map(str, parsed.bad_lines[:5]))
            self.finding(
                Severity.MEDIUM,
                f"{meta_dir}/RECORD",
                f"RECORD has {plural(len(parsed.bad_lines), 'malformed line')} (line {lines})",
                about=core,
                line=parsed.bad_lines[0],
            )
        return parsed.entries

    def dist_info(self, meta_dir: str, location: str) -> Distribution | None:
        core = self.core(meta_dir, "METADATA")
        if core is None:
            return None
        installer_data = self.read(f"{meta_dir}/INSTALLER", 4096)
        direct_url = None
        url_data = self.read(f"{meta_dir}/direct_url.json", 1024 * 1024)
        if url_data is not None:
            try:
                direct_url = parse_direct_url(url_data)
            except MetadataError as e:
                self.finding(Severity.LOW, f"{meta_dir}/direct_url.json", str(e), about=core)
        return Distribution(
            name=core.name,
            version=core.version,
            metadata_dir=meta_dir,
            location=location,
            installer=decode_text(installer_data)[0].strip() or None if installer_data else None,
            direct_url=direct_url,
            record=self.record(meta_dir, core),
            requires=core.requires,
        )

    def egg_info(self, meta_dir: str, location: str) -> Distribution | None:
        core = self.core(meta_dir, "PKG-INFO")
        if core is None:
            return None
        return Distribution(core.name, core.version, meta_dir, location, requires=core.requires)

    def egg_info_file(self, path: str, location: str) -> Distribution | None:
        core = self.core("", path)
        if core is None:
            return None
        return Distribution(core.name, core.version, path, location, requires=core.requires)

    def owned_paths(self, dist: Distribution) -> Iterable[str]:
        """The tree paths a distribution claims: RECORD, installed-files.txt, else top_level.txt."""
        base = posixpath.dirname(dist.metadata_dir)
        if dist.record is not None:
            return (p for e in dist.record if (p := tree_path(base, e.path)) is not None)
        files = self.read(f"{dist.metadata_dir}/installed-files.txt")
        if files is not None:
            return (p for f in parse_file_list(files) if (p := tree_path(dist.metadata_dir, f)) is not None)
        # No file list (distro packages, `setup.py install`): claim the top-level names it declares.
        top = self.read(f"{dist.metadata_dir}/top_level.txt")
        names = parse_file_list(top) if top is not None else ()
        return (p for p in self.paths if _under_top_level(p, base, names))


def _under_top_level(path: str, base: str, names: Iterable[str]) -> bool:
    rel = path[len(base) + 1 :] if base else path
    if base and not path.startswith(base + "/"):
        return False
    head = rel.split("/", 1)[0]
    return any(head == n or (head.startswith(n + ".") and "/" not in rel) for n in names if n)


def _read_metadata_dirs(reader: _Reader, meta_dirs: Iterable[str]) -> list[Distribution]:
    dists: list[Distribution] = []
    for meta_dir in meta_dirs:
        read = reader.dist_info if meta_dir.endswith(".dist-info") else reader.egg_info
        if (dist := read(meta_dir, reader.tree.label)) is not None:
            dists.append(dist)
    # A single-file `name.egg-info` (old distutils installs) is PKG-INFO on its own.
    for path in sorted(p for p in reader.paths if "/" not in p and p.endswith(".egg-info")):
        if (dist := reader.egg_info_file(path, reader.tree.label)) is not None:
            dists.append(dist)
    return dists


def _installed_owners(reader: _Reader, dists: Iterable[Distribution]) -> dict[str, Distribution]:
    owners: dict[str, Distribution] = {}
    by_metadata_dir: dict[str, Distribution] = {}
    for dist in dists:
        by_metadata_dir.setdefault(dist.metadata_dir, dist)
        for path in reader.owned_paths(dist):
            owners.setdefault(path, dist)
    # Everything inside a metadata directory belongs to it, listed in RECORD or not (REQUESTED...).
    for path in reader.paths:
        head = path.split("/", 1)[0]
        if head in by_metadata_dir:
            owners.setdefault(path, by_metadata_dir[head])
    return owners


def read_inventory(tree: FileTree, fallback: tuple[str, str] | None = None) -> Inventory:
    """Every distribution of `tree` and who owns each file.

    In an environment, ownership comes from each distribution's own file list. An archive is one
    distribution that ships every member; `fallback` (name, version from the archive's file name)
    stands in when the archive carries no readable metadata.
    """
    reader = _Reader(tree)
    meta_dirs = _metadata_dirs(reader.paths, tree.kind)
    if tree.kind is TargetKind.ENVIRONMENT:
        dists = _read_metadata_dirs(reader, meta_dirs)
        owners = _installed_owners(reader, dists)
    else:
        # An sdist is described by its PKG-INFO; egg-info directories inside it are build leftovers.
        found = _read_metadata_dirs(reader, meta_dirs) if tree.kind is TargetKind.WHEEL else []
        dists = _archive_distribution(reader, tree, found, fallback)
        owners = dict.fromkeys(sorted(reader.paths), dists[0]) if dists else {}
    return Inventory(tuple(dists), owners, frozenset(meta_dirs), tuple(reader.findings), tuple(reader.errors))


def _same_release(dist: Distribution, declared: tuple[str, str]) -> bool:
    """Whether a distribution is the one an archive's file name declares (PEP 440 equality)."""
    if dist.key != canonicalize_name(declared[0]):
        return False
    try:
        return Version(dist.version) == Version(declared[1])
    except InvalidVersion:
        return dist.version == declared[1]


def _wheel_distribution(
    reader: _Reader, dists: list[Distribution], declared: tuple[str, str] | None
) -> Distribution | None:
    """A wheel's dist-info: the one its file name names, reported when it is ambiguous or differs."""
    if not dists:
        return None
    if len(dists) > 1:
        names = ", ".join(d.metadata_dir for d in dists)
        reader.finding(
            Severity.MEDIUM, dists[0].metadata_dir, f"the wheel holds several dist-info directories: {names}"
        )
    if declared is None:
        return dists[0]
    chosen = next((d for d in dists if _same_release(d, declared)), dists[0])
    if not _same_release(chosen, declared):
        reader.finding(
            Severity.MEDIUM,
            chosen.metadata_dir,
            f"METADATA says {chosen.name} {chosen.version} "
            f"but the file name says {declared[0]} {declared[1]}",
            about=chosen,
        )
    return chosen


def _sdist_distribution(reader: _Reader) -> Distribution | None:
    pkg_info = _sdist_pkg_info(reader.paths)
    if pkg_info is None:
        return None
    meta_dir = posixpath.dirname(pkg_info)
    core = reader.core(meta_dir, "PKG-INFO")
    if core is None:
        return None
    return Distribution(core.name, core.version, meta_dir, reader.tree.label, requires=core.requires)


def _archive_distribution(
    reader: _Reader, tree: FileTree, dists: list[Distribution], fallback: tuple[str, str] | None
) -> list[Distribution]:
    """The one distribution an archive holds: its dist-info, or its PKG-INFO, or its file name."""
    if tree.kind is TargetKind.WHEEL:
        found = _wheel_distribution(reader, dists, fallback)
    else:
        found = _sdist_distribution(reader)
    if found is not None:
        return [found]
    what = "a *.dist-info/METADATA" if tree.kind is TargetKind.WHEEL else "a PKG-INFO"
    reader.finding(Severity.MEDIUM, ".", f"the archive has no readable metadata ({what})")
    if fallback is None:
        return []
    return [Distribution(fallback[0], fallback[1], "", tree.label)]


def _sdist_pkg_info(paths: Iterable[str]) -> str | None:
    """The sdist's own PKG-INFO: at the root or one directory down (`name-version/PKG-INFO`)."""
    candidates = sorted(
        (p for p in paths if p.split("/")[-1] == "PKG-INFO" and p.count("/") <= 1), key=lambda p: p.count("/")
    )
    return candidates[0] if candidates else None
