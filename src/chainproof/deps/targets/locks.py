"""Lock and requirement files as scan targets, read as text and never resolved or installed.

Four formats: pip's `requirements*.txt`, PEP 751 `pylock.toml`, `uv.lock` and `poetry.lock`.
Each parser is pure (bytes in, `LockEntry` values and findings out); one policy, `judge`, turns
entries into the `lock-*` findings for every format alike, so the formats cannot drift apart. Only
`scan_lockfile` and the requirements include walker touch the file system, and neither follows a
URL: a remote include is reported, not fetched.
"""

from __future__ import annotations

import enum
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from chainproof._internal.untrusted_json import MAX_INT_DIGITS
from chainproof.deps.files import MAX_FILE_BYTES, TreeError
from chainproof.deps.model import Finding, Requirement, ScanResult, Severity
from chainproof.deps.targets.lock_names import name_findings

MAX_INCLUDE_DEPTH = 10
"""How deep `-r`/`-c` includes are followed; real projects use two or three levels."""
PEEK_BYTES = 64 * 1024
"""How much of an arbitrary `*.txt` is read to decide whether it is a requirements file."""
EVIDENCE_CHARS = 200

RULE_DESCRIPTIONS: Mapping[str, str] = {
    "lock-unpinned": "A requirement is not pinned to one exact version.",
    "lock-no-hash": "A pinned requirement carries no hash, so the artifact installed is not pinned.",
    "lock-vcs-or-url": "A requirement comes from a direct URL, a VCS checkout or a local path.",
    "lock-malformed": "A lock or requirements file (or one entry of it) could not be read.",
}
"""The rules this module reports, for reports that describe their rules (SARIF)."""

RequirementMatcher = Callable[[Sequence[Requirement]], Iterable[Finding]]
"""Matches requirements against advisories; the scan orchestrator passes the real one."""


class LockFormat(enum.Enum):
    REQUIREMENTS = "requirements"
    PYLOCK = "pylock"
    UV = "uv"
    POETRY = "poetry"


class SourceKind(enum.Enum):
    INDEX = "index"
    """Resolved from a package index by name and version: pins and hashes matter."""
    URL = "url"
    VCS = "vcs"
    LOCAL = "local"


@dataclass(frozen=True)
class LockEntry:
    """One package a lock or requirements file asks for, as written there."""

    name: str | None
    """As written; None for a direct URL or path whose project name cannot be told."""
    version: str | None
    """The one exact version pinned, or None."""
    kind: SourceKind
    path: str
    """The file it was read from, relative to the directory of the scanned file, with `/`."""
    line: int | None
    pinned: bool
    """Whether exactly one artifact can be chosen (an exact version, or hashes in a lock file)."""
    hashes: tuple[str, ...] = ()
    """`algorithm:hex` strings."""
    evidence: str = ""
    detail: str = ""
    """What the source is, for the message of a `lock-vcs-or-url` finding."""
    is_project: bool = False
    """The locked project itself (uv's root `editable = "."`): no finding for its own source."""


@dataclass(frozen=True)
class ParsedLock:
    entries: tuple[LockEntry, ...] = ()
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Include:
    """A `-r FILE` or `-c FILE` line of a requirements file."""

    target: str
    line: int
    evidence: str


@dataclass(frozen=True)
class ParsedRequirements:
    entries: tuple[LockEntry, ...] = ()
    findings: tuple[Finding, ...] = ()
    includes: tuple[Include, ...] = ()


# ---------------------------------------------------------------------------------------------
# Findings and policy


def _evidence(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


def malformed(path: str, line: int | None, message: str, evidence: str = "") -> Finding:
    return Finding(
        rule="lock-malformed",
        severity=Severity.MEDIUM,
        package=None,
        version=None,
        path=path,
        line=line,
        message=message,
        evidence=_evidence(evidence),
    )


def _entry_finding(entry: LockEntry, rule: str, severity: Severity, message: str) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        package=entry.name,
        version=entry.version,
        path=entry.path,
        line=entry.line,
        message=message,
        evidence=entry.evidence,
    )


def judge(entries: Sequence[LockEntry]) -> list[Finding]:
    """The pinning policy, the same for every format.

    A missing hash is worse where other entries have one: pip's hash-checking mode is all or
    nothing, so a file that hashes most entries looks protected while the unhashed one is not.
    """
    any_hashed = any(e.hashes for e in entries)
    findings: list[Finding] = []
    for e in entries:
        name = e.name or "requirement"
        if e.kind is SourceKind.INDEX:
            if not e.pinned:
                findings.append(
                    _entry_finding(
                        e,
                        "lock-unpinned",
                        Severity.MEDIUM,
                        f"{name} is not pinned to one exact version: a new release, or a malicious "
                        "one, is installed without review",
                    )
                )
            elif not e.hashes:
                severity = Severity.MEDIUM if any_hashed else Severity.LOW
                why = (
                    "while other entries have hashes, so hash checking is incomplete"
                    if any_hashed
                    else "so a replaced artifact with the same version would be installed"
                )
                findings.append(
                    _entry_finding(e, "lock-no-hash", severity, f"{name}=={e.version} has no hash {why}")
                )
        elif not e.is_project:
            severity = Severity.INFO if e.kind is SourceKind.LOCAL else Severity.LOW
            findings.append(
                _entry_finding(
                    e,
                    "lock-vcs-or-url",
                    severity,
                    f"{name} comes from {e.detail or e.kind.value}, outside the index's release history",
                )
            )
    return findings


def to_requirements(entries: Iterable[LockEntry]) -> list[Requirement]:
    return [
        Requirement(
            name=e.name,
            version=e.version,
            hashes=e.hashes,
            source=f"{e.path}:{e.line}" if e.line is not None else e.path,
        )
        for e in entries
        if e.name
    ]


# ---------------------------------------------------------------------------------------------
# Shared pieces: hashes, URLs, decoding

_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""pip accepts only these algorithms for `--hash`; lock formats use sha256 in practice."""


def normal_hash(text: str) -> str | None:
    """`sha256:HEX` (or `sha256=HEX`) normalised to lower case; None when it is not one."""
    algorithm, sep, digest = text.strip().replace("=", ":", 1).partition(":")
    algorithm, digest = algorithm.lower(), digest.lower()
    if not sep or _HEX_LENGTHS.get(algorithm) != len(digest):
        return None
    if any(c not in "0123456789abcdef" for c in digest):
        return None
    return f"{algorithm}:{digest}"


_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar")
_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|/)")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _vcs_detail(url: str) -> str:
    """Whether a VCS URL names a commit (immutable) or a branch or tag (which can move)."""
    scheme = url.split("+", 1)[0].split(":", 1)[0]
    path = urlsplit(url).path
    ref = path.rsplit("@", 1)[1] if "@" in path.rsplit("/", 1)[-1] else ""
    if _COMMIT.match(ref):
        return f"{scheme} at commit {ref[:12]}"
    return (
        f"{scheme} at {ref!r}, a ref that can move" if ref else f"{scheme}, at whatever the default branch is"
    )


def classify_url(url: str) -> tuple[SourceKind, str]:
    lowered = url.lower()
    if lowered.startswith(_VCS_SCHEMES):
        return SourceKind.VCS, _vcs_detail(url)
    if lowered.startswith("file:"):
        return SourceKind.LOCAL, "a local file"
    if "://" in lowered:
        scheme = lowered.split("://", 1)[0]
        clear = " over plain http" if scheme == "http" else ""
        return SourceKind.URL, f"a direct URL{clear}"
    return SourceKind.LOCAL, "a local path"


def _url_hashes(url: str) -> tuple[str, ...]:
    """A `#sha256=...` fragment pins a direct URL's content just like `--hash`."""
    fragment = urlsplit(url).fragment
    found = (normal_hash(part) for part in fragment.split("&") if not part.startswith("egg="))
    return tuple(h for h in found if h)


def _name_from_url(url: str) -> tuple[str | None, str | None]:
    """The project name (and version) of a direct reference: `#egg=` or the archive's file name."""
    fragment = urlsplit(url).fragment
    for part in fragment.split("&"):
        if part.startswith("egg="):
            return part[4:] or None, None
    filename = unquote(PurePosixPath(urlsplit(url).path).name)
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return name, str(version)
        if filename.endswith((".tar.gz", ".zip")):
            sname, sversion = parse_sdist_filename(filename)
            return sname, str(sversion)
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return None, None


def decode_lines(data: bytes, path: str) -> tuple[list[tuple[int, str]], list[Finding]]:
    """Numbered text lines; a line that is not UTF-8 becomes a finding instead of a crash."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # pip reads UTF-16 files that carry a byte order mark; so do we.
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return [], [malformed(path, None, "not valid UTF-16 despite its byte order mark")]
        return list(enumerate(text.splitlines(), start=1)), []
    if b"\x00" in data:
        return [], [malformed(path, None, "a binary file, not a text lock or requirements file")]
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines: list[tuple[int, str]] = []
    findings: list[Finding] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append((number, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError:
            findings.append(malformed(path, number, "line is not valid UTF-8; skipped", repr(raw[:60])))
    return lines, findings


# ---------------------------------------------------------------------------------------------
# requirements.txt (pip's format)

_COMMENT = re.compile(r"(^|\s+)#.*$")
_INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
_EDITABLE_OPTIONS = {"-e", "--editable"}
_GLOBAL_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--pre",
    "--trusted-host",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
    "--use-feature",
}
_FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
_PER_REQUIREMENT_OPTIONS = {"--hash", "--config-settings", "--global-option", "--install-option"}


def logical_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Join `\\` continuations as pip does; a logical line keeps the number of its first line."""
    first: int | None = None
    parts: list[str] = []
    for number, line in lines:
        if line.endswith("\\") and not _COMMENT.match(line):
            if not parts:
                first = number
            parts.append(line[:-1])
            continue
        if parts:
            parts.append(" " + line if _COMMENT.match(line) else line)
            yield first or number, "".join(parts)
            parts = []
        else:
            yield number, line
    if parts:
        yield first or 0, "".join(parts)


def _split_option(tokens: list[str]) -> tuple[str, str | None, list[str]]:
    """(option, value, remaining tokens) for `-r x`, `-rx`, `--requirement=x`, `--requirement x`."""
    head = tokens[0]
    if head.startswith("--"):
        name, eq, value = head.partition("=")
        if eq:
            return name, value, tokens[1:]
        if name in _FLAG_OPTIONS:
            return name, None, tokens[1:]
    else:
        name, value = head[:2], head[2:]
        if value:
            return name, value, tokens[1:]
    if len(tokens) > 1:
        return name, tokens[1], tokens[2:]
    return name, None, []


def _requirement_options(tokens: list[str], path: str, line: int) -> tuple[tuple[str, ...], list[Finding]]:
    hashes: list[str] = []
    findings: list[Finding] = []
    while tokens:
        name, value, tokens = _split_option(tokens)
        if name not in _PER_REQUIREMENT_OPTIONS:
            findings.append(malformed(path, line, f"unknown option {name} after a requirement", name))
        elif name == "--hash":
            good = normal_hash(value or "")
            if good is None:
                findings.append(
                    malformed(path, line, "a --hash value that is not sha256/384/512:HEX", value or "")
                )
            else:
                hashes.append(good)
    return tuple(dict.fromkeys(hashes)), findings


def _looks_like_path(text: str) -> bool:
    # pip's own test: a separator or a leading dot, or an archive file name.
    return "/" in text or "\\" in text or text.startswith(".") or text.lower().endswith(_ARCHIVE_SUFFIXES)


def _direct_entry(text: str, path: str, line: int, hashes: tuple[str, ...], evidence: str) -> LockEntry:
    """A requirement given as a URL or path (`-e .`, `git+https://...`, `./dist/x.whl`)."""
    kind, detail = classify_url(text)
    name, version = _name_from_url(text)
    return LockEntry(
        name=name,
        version=version,
        kind=kind,
        path=path,
        line=line,
        pinned=False,
        hashes=hashes + _url_hashes(text),
        evidence=evidence,
        detail=detail,
    )


def exact_version(req: Pep508) -> str | None:
    """The version of an `==X` (not `==X.*`) or `===X` specifier, if the requirement has one."""
    for spec in req.specifier:
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            return spec.version
    return None


def _requirement_entry(
    text: str, path: str, line: int, hashes: tuple[str, ...], evidence: str
) -> LockEntry | Finding:
    # A bare URL or path; `name @ URL` (PEP 508) is left to packaging, which knows its grammar.
    bare_url = _URL_START.match(text) is not None or text.lower().startswith(_VCS_SCHEMES)
    if bare_url or ("@" not in text and _looks_like_path(text)):
        return _direct_entry(text, path, line, hashes, evidence)
    try:
        req = Pep508(text)
    except InvalidRequirement as e:
        return malformed(path, line, f"not a valid requirement: {e}", evidence)
    if req.url:
        kind, detail = classify_url(req.url)
        return LockEntry(
            name=req.name,
            version=None,
            kind=kind,
            path=path,
            line=line,
            pinned=False,
            hashes=hashes + _url_hashes(req.url),
            evidence=evidence,
            detail=detail,
        )
    version = exact_version(req)
    return LockEntry(
        name=req.name,
        version=version,
        kind=SourceKind.INDEX,
        path=path,
        line=line,
        pinned=version is not None,
        hashes=hashes,
        evidence=evidence,
    )


def _option_line(
    tokens: list[str], path: str, number: int, evidence: str
) -> LockEntry | Include | Finding | None:
    """A line that starts with an option: an include, an editable requirement, or a pip setting."""
    name, value, rest = _split_option(tokens)
    if name in _INCLUDE_OPTIONS:
        if not value or rest:
            return malformed(path, number, f"{name} needs exactly one file name", evidence)
        return Include(value, number, evidence)
    if name in _EDITABLE_OPTIONS:
        if not value:
            return malformed(path, number, f"{name} needs a path or URL", evidence)
        return _direct_entry(value, path, number, (), evidence)
    if name in _GLOBAL_OPTIONS:
        return None
    return malformed(path, number, f"unknown option {name}", evidence)


def parse_requirements(data: bytes, path: str) -> ParsedRequirements:
    """One requirements file, without following its includes (the caller does that)."""
    lines, findings = decode_lines(data, path)
    entries: list[LockEntry] = []
    includes: list[Include] = []
    for number, raw in logical_lines(lines):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        evidence = _evidence(line)
        tokens = line.split()
        if tokens[0].startswith("-"):
            item: LockEntry | Include | Finding | None = _option_line(tokens, path, number, evidence)
        else:
            split = next((i for i, t in enumerate(tokens) if t.startswith("--")), len(tokens))
            hashes, option_findings = _requirement_options(tokens[split:], path, number)
            findings.extend(option_findings)
            item = _requirement_entry(" ".join(tokens[:split]), path, number, hashes, evidence)
        if isinstance(item, LockEntry):
            entries.append(item)
        elif isinstance(item, Include):
            includes.append(item)
        elif isinstance(item, Finding):
            findings.append(item)
    return ParsedRequirements(tuple(entries), tuple(findings), tuple(includes))


# ---------------------------------------------------------------------------------------------
# TOML lock files

_TOML_LINE = re.compile(r"at line (\d+)")


def load_toml(data: bytes, path: str) -> tuple[dict[str, object] | None, list[Finding]]:
    lines, findings = decode_lines(data, path)
    if findings:
        return None, findings
    try:
        return tomllib.loads("\n".join(text for _, text in lines)), []
    except tomllib.TOMLDecodeError as e:
        where = _TOML_LINE.search(str(e))
        return None, [malformed(path, int(where.group(1)) if where else None, f"not valid TOML: {e}")]
    except ValueError:  # tomllib converts integers with int(), which refuses more digits than this
        return None, [malformed(path, None, f"holds an integer of more than {MAX_INT_DIGITS:,} digits")]


def header_lines(data: bytes, key: str) -> list[int]:
    """Line numbers of `[[key]]` headers: the n-th is where the n-th table of the array starts."""
    pattern = re.compile(rb"^[ \t]*\[\[[ \t]*" + re.escape(key.encode()) + rb"\s*\]\]", re.MULTILINE)
    return [data.count(b"\n", 0, m.start()) + 1 for m in pattern.finditer(data)]


@dataclass(frozen=True)
class _Tables:
    """The array of tables a lock file keeps its packages in, with where each one starts."""

    tables: list[tuple[int | None, Mapping[str, object]]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _package_tables(doc: Mapping[str, object], data: bytes, key: str, path: str) -> _Tables:
    raw = doc.get(key, [])
    if not isinstance(raw, list):
        return _Tables(findings=[malformed(path, None, f"`{key}` is not an array of tables")])
    starts = header_lines(data, key)
    # Line numbers are only trusted when every table has its own header (no inline arrays).
    lines: list[int | None] = list(starts) if len(starts) == len(raw) else [None] * len(raw)
    out = _Tables()
    for line, item in zip(lines, raw, strict=True):
        if isinstance(item, dict):
            out.tables.append((line, item))
        else:
            out.findings.append(malformed(path, line, f"an entry of `{key}` is not a table"))
    return out


def _str(table: Mapping[str, object], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) else None


def _table(table: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = table.get(key)
    return value if isinstance(value, dict) else {}


def _tables(table: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    value = table.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _named(table: Mapping[str, object], path: str, line: int | None) -> tuple[str, str | None] | Finding:
    """A package table's name and version, or a finding when they are missing or not strings."""
    name = _str(table, "name")
    version = table.get("version")
    if not name:
        return malformed(path, line, "a package entry without a name")
    if version is not None and not isinstance(version, str):
        return malformed(path, line, f"{name}: version is not a string")
    return name, version


def _collect_hashes(
    values: Iterable[str | None], path: str, line: int | None
) -> tuple[tuple[str, ...], list[Finding]]:
    good: list[str] = []
    findings: list[Finding] = []
    for value in values:
        if value is None:
            continue
        normal = normal_hash(value)
        if normal is None:
            findings.append(malformed(path, line, "a hash that is not sha256/384/512:HEX", value))
        else:
            good.append(normal)
    return tuple(dict.fromkeys(good)), findings


def _hash_table(table: Mapping[str, object]) -> list[str | None]:
    """PEP 751 writes hashes as a table, `{sha256 = "HEX"}`; keep the strong ones we can check."""
    hashes = _table(table, "hashes")
    return [f"{alg}:{hexd}" if isinstance(hexd, str) else None for alg, hexd in hashes.items()]


@dataclass(frozen=True)
class _Described:
    """What a TOML lock format says of one package besides its name and version."""

    hashes: Iterable[str | None]
    kind: SourceKind
    detail: str
    is_project: bool = False


def _lock_entries(
    tables: _Tables,
    path: str,
    findings: list[Finding],
    describe: Callable[[Mapping[str, object], str], _Described],
) -> ParsedLock:
    """The packages of a TOML lock file, each pinned by its exact version or its artifacts' hashes."""
    entries: list[LockEntry] = []
    for line, pkg in tables.tables:
        named = _named(pkg, path, line)
        if isinstance(named, Finding):
            findings.append(named)
            continue
        name, version = named
        described = describe(pkg, name)
        hashes, bad = _collect_hashes(described.hashes, path, line)
        findings.extend(bad)
        entries.append(
            LockEntry(
                name=name,
                version=version,
                kind=described.kind,
                path=path,
                line=line,
                pinned=version is not None or bool(hashes),
                hashes=hashes,
                evidence=f"{name} {version or ''}".strip(),
                detail=described.detail,
                is_project=described.is_project,
            )
        )
    return ParsedLock(tuple(entries), tuple(findings))


def parse_pylock(data: bytes, path: str) -> ParsedLock:
    doc, findings = load_toml(data, path)
    if doc is None:
        return ParsedLock(findings=tuple(findings))
    lock_version = _str(doc, "lock-version")
    if lock_version is None or lock_version.split(".")[0] != "1":
        # PEP 751: a tool must not read a lock file whose major version it does not know.
        findings.append(malformed(path, None, f"unsupported or missing lock-version {lock_version!r}"))
        return ParsedLock(findings=tuple(findings))
    tables = _package_tables(doc, data, "packages", path)
    findings.extend(tables.findings)

    def describe(pkg: Mapping[str, object], name: str) -> _Described:
        artifacts = [_table(pkg, "sdist"), _table(pkg, "archive"), *_tables(pkg, "wheels")]
        kind, detail = _pylock_source(pkg)
        return _Described((h for a in artifacts for h in _hash_table(a)), kind, detail)

    return _lock_entries(tables, path, findings, describe)


def _pylock_source(pkg: Mapping[str, object]) -> tuple[SourceKind, str]:
    vcs = _table(pkg, "vcs")
    if vcs:
        commit = _str(vcs, "commit-id") or ""
        where = f" at commit {commit[:12]}" if commit else ""
        return (
            SourceKind.VCS,
            f"{_str(vcs, 'type') or 'vcs'} {_str(vcs, 'url') or _str(vcs, 'path') or ''}{where}",
        )
    if _table(pkg, "directory"):
        return SourceKind.LOCAL, f"the local directory {_str(_table(pkg, 'directory'), 'path') or ''}"
    archive = _table(pkg, "archive")
    if archive:
        url = _str(archive, "url")
        return classify_url(url) if url else (SourceKind.LOCAL, "a local archive")
    return SourceKind.INDEX, ""


def parse_uv_lock(data: bytes, path: str) -> ParsedLock:
    doc, findings = load_toml(data, path)
    if doc is None:
        return ParsedLock(findings=tuple(findings))
    if not isinstance(doc.get("version"), int):
        findings.append(malformed(path, None, "not a uv lock file: no integer `version`"))
        return ParsedLock(findings=tuple(findings))
    tables = _package_tables(doc, data, "package", path)
    findings.extend(tables.findings)

    def describe(pkg: Mapping[str, object], name: str) -> _Described:
        artifacts = [_table(pkg, "sdist"), *_tables(pkg, "wheels")]
        kind, detail, is_project = _uv_source(_table(pkg, "source"))
        return _Described((_str(a, "hash") for a in artifacts), kind, detail, is_project)

    return _lock_entries(tables, path, findings, describe)


def _uv_source(source: Mapping[str, object]) -> tuple[SourceKind, str, bool]:
    """uv writes one key per source: registry, git, url, path, directory, editable or virtual."""
    if "registry" in source or not source:
        return SourceKind.INDEX, "", False
    git = _str(source, "git")
    if git is not None:
        commit = urlsplit(git).fragment
        where = f"at commit {commit[:12]}" if _COMMIT.match(commit) else "with no commit recorded"
        return SourceKind.VCS, f"git {git.split('#', 1)[0]} {where}", False
    url = _str(source, "url")
    if url is not None:
        return classify_url(url)[0], f"the direct URL {url}", False
    for key in ("editable", "virtual", "directory", "path"):
        local = _str(source, key)
        if local is not None:
            # `editable = "."` or `virtual = "."` is the project being locked, not a dependency.
            return (
                SourceKind.LOCAL,
                f"the local {key} {local}",
                key in {"editable", "virtual"} and local == ".",
            )
    return SourceKind.LOCAL, "an unknown source", False


def parse_poetry_lock(data: bytes, path: str) -> ParsedLock:
    doc, findings = load_toml(data, path)
    if doc is None:
        return ParsedLock(findings=tuple(findings))
    # Lock files before 2.0 keep hashes apart, in `[metadata.files]`, keyed by package name.
    old_files = {canonicalize_name(k): v for k, v in _table(_table(doc, "metadata"), "files").items()}
    tables = _package_tables(doc, data, "package", path)
    findings.extend(tables.findings)

    def describe(pkg: Mapping[str, object], name: str) -> _Described:
        files = _tables(pkg, "files")
        if not files:
            legacy = old_files.get(canonicalize_name(name), [])
            files = [f for f in legacy if isinstance(f, dict)] if isinstance(legacy, list) else []
        kind, detail = _poetry_source(_table(pkg, "source"))
        return _Described((_str(f, "hash") for f in files), kind, detail)

    return _lock_entries(tables, path, findings, describe)


def _poetry_source(source: Mapping[str, object]) -> tuple[SourceKind, str]:
    kind = _str(source, "type")
    url = _str(source, "url") or ""
    if kind is None or kind == "legacy":
        # `legacy` is a secondary package index (PEP 503), resolved by name like PyPI.
        return SourceKind.INDEX, ""
    if kind == "git":
        commit = _str(source, "resolved_reference") or ""
        where = f"at commit {commit[:12]}" if _COMMIT.match(commit) else "with no commit recorded"
        return SourceKind.VCS, f"git {url} {where}"
    if kind == "url":
        return classify_url(url)[0], f"the direct URL {url}"
    return SourceKind.LOCAL, f"the local {kind} {url}"


# ---------------------------------------------------------------------------------------------
# Files on disk


def lock_format(name: str) -> LockFormat:
    lowered = name.lower()
    if lowered == "uv.lock":
        return LockFormat.UV
    if lowered == "poetry.lock":
        return LockFormat.POETRY
    if lowered == "pylock.toml" or fnmatch(lowered, "pylock.*.toml"):
        return LockFormat.PYLOCK
    return LockFormat.REQUIREMENTS


_PIN_LINE = re.compile(
    r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^\s;#*]+\s*(;|\\|--hash|$)", re.M
)


def looks_like_requirements(text: str) -> bool:
    """Whether some line of a text is an exact pin (`name==1.0`) or a `--hash`."""
    return bool(_PIN_LINE.search(text)) or "--hash=" in text


def is_lockfile(path: Path) -> bool:
    """Whether a path is a lock or requirements file: by name, or for another `*.txt`, by its pins."""
    name = path.name.lower()
    if name in {"uv.lock", "poetry.lock", "pylock.toml"} or fnmatch(name, "pylock.*.toml"):
        return path.is_file()
    if fnmatch(name, "*requirements*.lock"):
        # pip-compile and uv output written as requirements.lock: pip's format, hashes and all.
        return path.is_file()
    if not name.endswith((".txt", ".in")) or not path.is_file():
        return False
    # requirements.txt, requirements-dev.txt, dev-requirements.txt, pip-tools' requirements.in...
    if "requirements" in name or name.startswith("constraints"):
        return True
    if path.parent.name.lower() == "requirements":
        return True
    if not name.endswith(".txt"):
        return False
    try:
        with path.open("rb") as f:
            head = f.read(PEEK_BYTES)
    except OSError:
        return False
    return b"\x00" not in head and looks_like_requirements(head.decode("utf-8", "replace"))


def read_limited(file: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, up to `limit`; TreeError for anything else (a FIFO, /dev/zero...)."""
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise TreeError(f"{file}: cannot open ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise TreeError(f"{file}: not a regular file")
        if st.st_size > limit:
            raise TreeError(f"{file}: {st.st_size} bytes, over the {limit}-byte limit")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise TreeError(f"{file}: cannot read ({e.strerror})") from None
    if len(data) > limit:
        raise TreeError(f"{file}: over the {limit}-byte limit")
    return data


def _real(path: Path) -> Path:
    """The path with links resolved, to tell a file included twice; a link loop stays as written."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a symlink loop
        return path.absolute()


@dataclass
class _Walk:
    """The requirements files read so far; each is parsed once, whoever includes it."""

    base: Path
    seen: set[Path] = field(default_factory=set)
    entries: list[LockEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def label(self, file: Path) -> str:
        return Path(os.path.relpath(file, self.base)).as_posix()

    def visit(self, file: Path, depth: int) -> None:
        self.seen.add(_real(file))
        parsed = parse_requirements(read_limited(file), self.label(file))
        self.entries.extend(parsed.entries)
        self.findings.extend(parsed.findings)
        for include in parsed.includes:
            self.include(file, include, depth + 1)

    def include(self, parent: Path, inc: Include, depth: int) -> None:
        where = self.label(parent)
        if "://" in inc.target:
            self.findings.append(
                Finding(
                    rule="lock-vcs-or-url",
                    severity=Severity.LOW,
                    package=None,
                    version=None,
                    path=where,
                    line=inc.line,
                    message="includes a remote requirements file, which is not pinned here and was not read",
                    evidence=inc.evidence,
                )
            )
            return
        target = parent.parent / inc.target
        if not target.name.lower().endswith((".txt", ".in")):
            # Only requirement-like names: a hostile file could otherwise pull any file (a key,
            # a credentials file) into a report's evidence with `-r ~/.ssh/id_rsa`.
            self.findings.append(
                malformed(where, inc.line, "include is not a .txt or .in file; not read", inc.evidence)
            )
            return
        if depth > MAX_INCLUDE_DEPTH:
            self.findings.append(
                malformed(where, inc.line, "includes nest too deep; not followed", inc.evidence)
            )
            return
        if _real(target) in self.seen:
            return
        try:
            self.visit(target, depth)
        except TreeError as e:
            self.findings.append(malformed(where, inc.line, f"include not read: {e}", inc.evidence))


def read_lockfile(path: Path) -> tuple[list[LockEntry], list[Finding]]:
    """Every entry of a lock file (and, for requirements, of its includes) plus parse findings."""
    fmt = lock_format(path.name)
    if fmt is LockFormat.REQUIREMENTS:
        walk = _Walk(base=path.parent)
        walk.visit(path, 0)
        return walk.entries, walk.findings
    parser = {
        LockFormat.PYLOCK: parse_pylock,
        LockFormat.UV: parse_uv_lock,
        LockFormat.POETRY: parse_poetry_lock,
    }
    parsed = parser[fmt](read_limited(path), path.name)
    return list(parsed.entries), list(parsed.findings)


def _default_matcher() -> RequirementMatcher:
    """The bundled landmark records plus the local advisory database, when there is one."""
    # Imported here: the advisory database is only opened when a lock file is actually scanned.
    from chainproof.deps.advisories.match import match_requirements  # noqa: PLC0415

    return match_requirements


def scan_lockfile(path: Path, *, matcher: RequirementMatcher | None = None) -> ScanResult:
    """Read a lock or requirements file; nothing it names is downloaded, built or installed.

    Every named entry is also checked for a look-alike of a popular project's name.

    `matcher` matches the requirements against advisories; by default the bundled records and the
    local database (`chainproof.deps.advisories.match.match_requirements`).
    Raises TreeError when the file itself cannot be read; every problem inside it is a finding.
    """
    if not path.is_file():
        raise TreeError(f"{path}: not a file")
    try:
        entries, findings = read_lockfile(path)
    except TreeError as e:
        # The top file over the size limit or unreadable after all: report it as what it is.
        entries, findings = [], [malformed(path.name, None, str(e))]
    findings.extend(judge(entries))
    findings.extend(name_findings(entries))
    requirements = to_requirements(entries)
    findings.extend((matcher or _default_matcher())(requirements))
    findings.sort(key=lambda f: (-f.severity, f.path, f.line or 0, f.rule))
    return ScanResult(target=str(path), requirements=requirements, findings=findings)


__all__ = [
    "RULE_DESCRIPTIONS",
    "LockEntry",
    "LockFormat",
    "ParsedLock",
    "ParsedRequirements",
    "SourceKind",
    "is_lockfile",
    "judge",
    "parse_poetry_lock",
    "parse_pylock",
    "parse_requirements",
    "read_lockfile",
    "scan_lockfile",
]
