"""What every lock format is read into, and the one policy that judges it.

`LockEntry` is one package a lock or requirements file asks for, as written there; `judge` turns
entries into the `lock-*` findings for every format alike, so the formats cannot drift apart. The
helpers the parsers share (hashes, URLs, decoding) live here too. Parsing is in `locks`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from chainproof.deps.model import Finding, Requirement, Severity

EVIDENCE_CHARS = 200

RULE_DESCRIPTIONS: Mapping[str, str] = {
    "lock-unpinned": "A requirement is not pinned to one exact version.",
    "lock-no-hash": "A pinned requirement carries no hash, so the artifact installed is not pinned.",
    "lock-vcs-or-url": "A requirement comes from a direct URL, a VCS checkout or a local path.",
    "lock-malformed": "A lock or requirements file (or one entry of it) could not be read.",
}
"""The rules this module reports, for reports that describe their rules (SARIF)."""


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


def evidence_text(text: str) -> str:
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
        evidence=evidence_text(evidence),
    )


def entry_finding(entry: LockEntry, rule: str, severity: Severity, message: str) -> Finding:
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
                    entry_finding(
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
                    entry_finding(e, "lock-no-hash", severity, f"{name}=={e.version} has no hash {why}")
                )
        elif not e.is_project:
            severity = Severity.INFO if e.kind is SourceKind.LOCAL else Severity.LOW
            findings.append(
                entry_finding(
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


VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar")
URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|/)")
COMMIT_ID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _vcs_detail(url: str) -> str:
    """Whether a VCS URL names a commit (immutable) or a branch or tag (which can move)."""
    scheme = url.split("+", 1)[0].split(":", 1)[0]
    path = urlsplit(url).path
    ref = path.rsplit("@", 1)[1] if "@" in path.rsplit("/", 1)[-1] else ""
    if COMMIT_ID.match(ref):
        return f"{scheme} at commit {ref[:12]}"
    return (
        f"{scheme} at {ref!r}, a ref that can move" if ref else f"{scheme}, at whatever the default branch is"
    )


def classify_url(url: str) -> tuple[SourceKind, str]:
    lowered = url.lower()
    if lowered.startswith(VCS_SCHEMES):
        return SourceKind.VCS, _vcs_detail(url)
    if lowered.startswith("file:"):
        return SourceKind.LOCAL, "a local file"
    if "://" in lowered:
        scheme = lowered.split("://", 1)[0]
        clear = " over plain http" if scheme == "http" else ""
        return SourceKind.URL, f"a direct URL{clear}"
    return SourceKind.LOCAL, "a local path"


def url_hashes(url: str) -> tuple[str, ...]:
    """A `#sha256=...` fragment pins a direct URL's content just like `--hash`."""
    fragment = urlsplit(url).fragment
    found = (normal_hash(part) for part in fragment.split("&") if not part.startswith("egg="))
    return tuple(h for h in found if h)


def name_from_url(url: str) -> tuple[str | None, str | None]:
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
