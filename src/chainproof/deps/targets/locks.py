"""Lock and requirement files as scan targets, read as text and never resolved or installed.

Four formats: pip's `requirements*.txt`, PEP 751 `pylock.toml`, `uv.lock` and `poetry.lock`.
Each parser is pure (bytes in, `LockEntry` values and findings out); one policy, `judge`, turns
entries into the `lock-*` findings for every format alike, so the formats cannot drift apart. Only
`scan_lockfile` and the requirements include walker touch the file system, and neither follows a
URL: a remote include is reported, not fetched.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import (
    canonicalize_name,
)

from chainproof._internal.untrusted_json import MAX_INT_DIGITS
from chainproof.deps.files import MAX_FILE_BYTES, TreeError
from chainproof.deps.model import Finding, Requirement, ScanResult, Severity
from chainproof.deps.targets.lock_model import (
    ARCHIVE_SUFFIXES,
    COMMIT_ID,
    RULE_DESCRIPTIONS,
    URL_START,
    VCS_SCHEMES,
    Include,
    LockEntry,
    LockFormat,
    ParsedLock,
    ParsedRequirements,
    SourceKind,
    classify_url,
    decode_lines,
    evidence_text,
    judge,
    malformed,
    name_from_url,
    normal_hash,
    to_requirements,
    url_hashes,
)
from chainproof.deps.targets.lock_names import name_findings

MAX_INCLUDE_DEPTH = 10
"""How deep `-r`/`-c` includes are followed; real projects use two or three levels."""
PEEK_BYTES = 64 * 1024
"""How much of an arbitrary `*.txt` is read to decide whether it is a requirements file."""
RequirementMatcher = Callable[[Sequence[Requirement]], Iterable[Finding]]
"""Matches requirements against advisories; the scan orchestrator passes the real one."""

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
    return "/" in text or "\\" in text or text.startswith(".") or text.lower().endswith(ARCHIVE_SUFFIXES)


def _direct_entry(text: str, path: str, line: int, hashes: tuple[str, ...], evidence: str) -> LockEntry:
    """A requirement given as a URL or path (`-e .`, `git+https://...`, `./dist/x.whl`)."""
    kind, detail = classify_url(text)
    name, version = name_from_url(text)
    return LockEntry(
        name=name,
        version=version,
        kind=kind,
        path=path,
        line=line,
        pinned=False,
        hashes=hashes + url_hashes(text),
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
    bare_url = URL_START.match(text) is not None or text.lower().startswith(VCS_SCHEMES)
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
            hashes=hashes + url_hashes(req.url),
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
        evidence = evidence_text(line)
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
        where = f"at commit {commit[:12]}" if COMMIT_ID.match(commit) else "with no commit recorded"
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
        where = f"at commit {commit[:12]}" if COMMIT_ID.match(commit) else "with no commit recorded"
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
