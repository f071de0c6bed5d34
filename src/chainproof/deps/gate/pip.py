"""pip as the gate's resolver and installer; the gate never lets it build or fetch on its own.

Resolution is `pip install --dry-run --only-binary :all: --report`: pip's own resolver, markers
and configuration, but wheels only, so no sdist's build backend runs to learn its metadata, and
nothing is installed. The install is `pip install --no-index --no-deps --require-hashes` of the
exact files the gate downloaded and scanned, each pinned to the hash it was scanned with.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chainproof._internal import untrusted_json
from chainproof.deps.gate.policy import Candidate
from chainproof.errors import ChainproofError, UsageError

RESOLVE_TIMEOUT = 900.0
INSTALL_TIMEOUT = 1800.0

_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|satisfies the requirement)\s+([A-Za-z0-9][A-Za-z0-9._-]*)"
)
_SOURCE_ONLY = ("-e", "--editable")
_VALUED_OPTIONS = frozenset(
    {
        "-f",
        "--find-links",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--python-version",
        "--platform",
        "--abi",
        "--implementation",
        "--progress-bar",
        "--src",
        "--upgrade-strategy",
        "--report",
        "--log",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--only-binary",
        "--no-binary",
        "-C",
        "--config-settings",
        "--global-option",
    }
)
"""pip install options that take the next word as their value (`--opt=value` needs no help)."""
_VCS = re.compile(r"^(?:git|hg|svn|bzr)\+", re.IGNORECASE)
_SDIST = re.compile(r"\.(?:tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$", re.IGNORECASE)


class ResolveError(ChainproofError):
    """pip could not resolve the requirements (its last error line says why)."""


@dataclass
class Resolution:
    candidates: list[Candidate] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    """Requirements no wheel satisfies (pip's "No matching distribution" names)."""
    message: str = ""


def parse_report(data: bytes | str) -> list[Candidate]:
    """The artifacts of a pip installation report (`--report`, format version 1)."""
    try:
        report = untrusted_json.loads(data, unique_keys=False)
        items = report["install"]
    except (ValueError, KeyError, TypeError) as e:
        raise ResolveError(
            f"pip wrote an installation report chainproof cannot read ({type(e).__name__})"
        ) from None
    return [_candidate(item) for item in items]


def _candidate(item: object) -> Candidate:
    if not isinstance(item, dict):
        raise ResolveError("pip's installation report has an entry that is not an object")
    meta = item.get("metadata")
    info = item.get("download_info")
    if not isinstance(meta, dict) or not isinstance(info, dict) or not isinstance(info.get("url"), str):
        raise ResolveError("pip's installation report has an entry without metadata or download_info")
    name, version = str(meta.get("name")), str(meta.get("version"))
    if "archive_info" not in info:
        # dir_info / vcs_info: a local tree or a checkout, which pip would build.
        raise UsageError(
            f"{name} {version} comes from {info['url']}, a source tree pip would build; the gate "
            "installs only wheels from an index"
        )
    archive = info["archive_info"]
    hashes = archive.get("hashes") if isinstance(archive, dict) else None
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if sha256 is None and isinstance(archive, dict) and str(archive.get("hash", "")).startswith("sha256="):
        sha256 = str(archive["hash"]).split("=", 1)[1]
    return Candidate(name, version, info["url"], sha256, bool(item.get("requested")))


def refuse_source_requirements(args: Sequence[str]) -> None:
    """Stop before pip sees a requirement it could only satisfy by building (editable, VCS, a
    local tree or sdist), in the arguments or in a requirements file they name."""
    for arg, where in _requirement_words(args):
        if arg in _SOURCE_ONLY or arg.startswith("--editable=") or _VCS.match(arg) or _is_local_source(arg):
            raise UsageError(
                f"{where}: {arg!r} needs a build from source; the gate installs only wheels from an "
                "index (build it yourself, scan the wheel with `chainproof deps scan`, and install that)"
            )


def _requirement_words(args: Sequence[str]) -> list[tuple[str, str]]:
    words: list[tuple[str, str]] = []
    it = iter(args)
    for arg in it:
        if arg in ("-r", "--requirement", "-c", "--constraint"):
            path = next(it, "")
            words += _file_words(Path(path), depth=0)
        elif arg.startswith(("--requirement=", "--constraint=")):
            words += _file_words(Path(arg.split("=", 1)[1]), depth=0)
        elif arg in _VALUED_OPTIONS:
            next(it, None)  # a value, not a requirement
        else:
            words.append((arg, "arguments"))
    return words


def _file_words(path: Path, depth: int) -> list[tuple[str, str]]:
    if depth > 8:
        raise UsageError(f"{path}: requirements files nest more than 8 deep")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read requirements file {path}: {e.strerror or e}") from None
    except UnicodeError:
        raise UsageError(f"cannot read requirements file {path}: not UTF-8") from None
    words: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        first = line.split("#", 1)[0].strip().split(" ", 1)[0] if line.strip() else ""
        if first in ("-r", "--requirement", "-c", "--constraint"):
            nested = line.split(None, 2)[1] if len(line.split()) > 1 else ""
            words += _file_words(path.parent / nested, depth + 1)
        elif first:
            words.append((first, f"{path}:{number}"))
    return words


def _is_local_source(arg: str) -> bool:
    if arg.startswith("-"):
        return False
    if arg.startswith("file:") or os.sep in arg or arg.startswith("."):
        local = Path(arg.removeprefix("file://"))
        return local.is_dir() or bool(_SDIST.search(arg))
    return False


def _pip(python: str) -> list[str]:
    return [python, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def resolve(
    python: str, args: Sequence[str], report: Path, constraints: Path | None = None, fresh: bool = True
) -> Resolution:
    """What pip would install for `args`, wheels only, nothing installed and nothing built."""
    command = [*_pip(python), "install", "--dry-run", "--only-binary", ":all:", "--report", str(report), "-q"]
    if fresh:
        command.append("--ignore-installed")
    if constraints is not None:
        command += ["-c", str(constraints)]
    command += list(args)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT, check=False)
    except FileNotFoundError:
        raise UsageError(f"cannot run {python!r}: no such interpreter") from None
    except subprocess.TimeoutExpired:
        raise ResolveError(f"pip did not finish resolving within {RESOLVE_TIMEOUT:.0f} s") from None
    if done.returncode == 0:
        return Resolution(parse_report(report.read_bytes()))
    unresolved = sorted(set(_NOT_FOUND.findall(done.stderr)))
    message = _last_error(done.stderr) or f"pip exited with status {done.returncode}"
    if not unresolved:
        raise ResolveError(f"pip could not resolve the requirements: {message}")
    return Resolution([], unresolved, message)


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or [""])[-1].removeprefix("ERROR:").strip()[:300]


def pinned_requirements(files: Sequence[tuple[Path, str]]) -> str:
    """A requirements file naming each exact file with the sha256 it was scanned with."""
    return "".join(f"{path.resolve()} --hash=sha256:{sha256}\n" for path, sha256 in files)


def install(python: str, requirements: Path, extra: Sequence[str] = (), *, quiet: bool = False) -> None:
    """Install exactly the pinned files: no index, no dependencies resolved anew, hashes required.

    pip's own output goes to stderr (stdout holds the gate's report), only its errors when `quiet`."""
    command = [
        *_pip(python),
        "install",
        "--no-index",
        "--no-deps",
        "--require-hashes",
        *(["--quiet"] if quiet else []),
        "-r",
        str(requirements),
        *extra,
    ]
    try:
        done = subprocess.run(
            command, stdout=sys.stderr, stderr=sys.stderr, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ChainproofError(f"pip did not finish installing within {INSTALL_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise ChainproofError(
            f"pip failed to install the gated files (exit {done.returncode}); see its output above"
        )


_INSTALL_FLAGS = frozenset(
    {"--user", "--break-system-packages", "--no-warn-script-location", "--no-compile", "--compile"}
)
_INSTALL_VALUED = frozenset({"-t", "--target", "--prefix", "--root"})
_INDEX_VALUED = frozenset({"-i", "--index-url", "--extra-index-url"})


@dataclass
class PipArgs:
    """`pip install` arguments sorted by who needs them."""

    resolve: list[str] = field(default_factory=list)
    install: list[str] = field(default_factory=list)
    """Where and how to install: also given to the resolver, which must see the same target."""
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    no_index: bool = False


def split_pip_args(args: Sequence[str]) -> PipArgs:
    """Sort `pip install` arguments: index options the gate checks itself, install-location
    options the final install needs, everything else for the resolver."""
    out = PipArgs()
    it = iter(args)
    for arg in it:
        option, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option in _INDEX_VALUED or option in _INSTALL_VALUED:
            value = inline if eq else next(it, None)
            if value is None:
                raise UsageError(f"{option} needs a value")
            if option in ("-i", "--index-url"):
                out.index_url = value
            elif option == "--extra-index-url":
                out.extra_index_urls.append(value)
            else:
                out.install += [option, value]
                out.resolve += [option, value]
        elif arg == "--no-index":
            out.no_index = True
        elif arg in _INSTALL_FLAGS:
            out.install.append(arg)
            out.resolve.append(arg)
        else:
            out.resolve.append(arg)
    return out
