"""Code rules: what a package's Python files would do, read from their syntax tree alone.

Every file is only ever parsed (`ast.parse`), never imported, compiled to bytecode or run. The
analyser (`analysis.py`) walks each scope in source order and records what it sees as `Hit`s; the
rules of `code_findings.py` turn hits into findings, graded by where the file sits (`FileRole`) and
when the code runs. This module parses files, hands them to both, and holds the scan's file jobs and
the binary rules. The startup-hook rules reuse the same analysis on `.pth` lines.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from chainproof.deps.files import TargetKind, TreeError
from chainproof.deps.model import Distribution, Finding, Severity
from chainproof.deps.rules.analysis import MAX_NESTED_BYTES, MAX_NESTING, _Analyzer
from chainproof.deps.rules.base import FileRole, ScanContext
from chainproof.deps.rules.calls import (
    CREDENTIAL_PATTERNS,
    DECODERS,
    ENCODERS,
    EXEC_SINKS,
    NETWORK_CALLS,
    PROCESS_CALLS,
)
from chainproof.deps.rules.code_findings import (
    EVIDENCE_CHARS,
    Where,
    _has_blank_run,
    contextual,
    findings_for,
    hidden_whitespace,
    snippet,
)
from chainproof.deps.rules.hits import Analysis, Hit, HitKind
from chainproof.deps.rules.parallel import map_items
from chainproof.deps.rules.prefilter import Depth, depth_for, signs
from chainproof.deps.rules.roles import classify, installed_path, startup_modules
from chainproof.deps.rules.syntax import WHITESPACE_RUN, _Budget

__all__ = [
    "CREDENTIAL_PATTERNS",
    "DECODERS",
    "ENCODERS",
    "EVIDENCE_CHARS",
    "EXEC_SINKS",
    "MAX_NESTED_BYTES",
    "MAX_NESTING",
    "MAX_PARSE_BYTES",
    "NETWORK_CALLS",
    "PROCESS_CALLS",
    "WHITESPACE_RUN",
    "Analysis",
    "FileJob",
    "Hit",
    "HitKind",
    "Where",
    "analyze_source",
    "binary_rules",
    "code_rules",
    "contextual",
    "file_findings",
    "findings_for",
    "hidden_whitespace",
    "parse_source",
    "scan_python_file",
    "snippet",
    "where_of",
]

MAX_PARSE_BYTES = 4 * 1024 * 1024
"""Larger .py files are reported as unanalysed instead of parsed (parsing is linear but not free)."""


def parse_source(data: bytes) -> ast.Module | None:
    """The syntax tree of untrusted source, or None when it is not Python we can safely parse.

    Hostile input can make the parser recurse deeply or allocate a lot; both are contained here.
    """
    if len(data) > MAX_PARSE_BYTES:
        return None
    try:
        # The parser's warnings (invalid escapes, `1if`) are about someone else's style, not ours to print.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def analyze_source(
    data: bytes,
    *,
    depth: int = 0,
    nested: _Budget | None = None,
    module_only: bool = False,
    skip_quiet: bool = False,
    found: int | None = None,
) -> Analysis | None:
    """What one file's code does.

    `nested` bounds the bytes of nested code analysed below it; `module_only` skips function
    bodies (for files where only import-time behaviour can matter); `skip_quiet` skips the bodies
    of functions whose source names nothing any code rule keys on (for the scan's findings; the
    calls and imports it records are then incomplete). `found`: the file's `prefilter.signs`, when
    already known.
    """
    tree = parse_source(data)
    if tree is None:
        return None
    try:
        found = signs(data) if found is None else found
        analyzer = _Analyzer(tree, depth, data, nested or _Budget(MAX_NESTED_BYTES), found, analyze_source)
        analyzer.module_only = module_only
        analyzer.skip_quiet = skip_quiet and not analyzer.want_starts
        return analyzer.run()
    except RecursionError:
        return None


# --- the rules -------------------------------------------------------------------------------


def _owner(ctx: ScanContext, path: str) -> Distribution | None:
    return ctx.owners.get(path)


def where_of(ctx: ScanContext, path: str, role: FileRole, data: bytes) -> Where:
    dist = _owner(ctx, path)
    return Where(
        path, role, dist.name if dist else None, dist.version if dist else None, tuple(data.splitlines())
    )


def _unparsed(where: Where, why: str) -> Finding:
    return Finding(
        "code-unparsed",
        contextual(Severity.LOW, where.role),
        where.package,
        where.version,
        where.path,
        None,
        f"not analysed: {why}; review by hand if the package is not trusted",
    )


def _depth_of(role: FileRole, data: bytes, found: int) -> Depth:
    """How deep the code rules look at a file of this role (hooks and setup scripts: always fully)."""
    if role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT) or _has_blank_run(data):
        return Depth.FULL
    return depth_for(found)


_QUIET_ROLES = frozenset({FileRole.MODULE, FileRole.TEST, FileRole.OTHER})
"""Roles whose quiet function bodies are skipped; hooks and install scripts are always read whole."""


def scan_python_file(where: Where, data: bytes, found: int | None = None) -> Iterator[Finding]:
    """Every code finding for one .py file's bytes (`found`: its `prefilter.signs`, when known)."""
    if len(data) > MAX_PARSE_BYTES:
        yield _unparsed(where, f"{len(data)} bytes, over the {MAX_PARSE_BYTES}-byte parse limit")
        yield from hidden_whitespace(where, None)
        return
    found = signs(data) if found is None else found
    depth = _depth_of(where.role, data, found)
    if depth is Depth.NONE:
        yield from hidden_whitespace(where, None)
        return
    analysis = analyze_source(
        data, module_only=depth is Depth.MODULE, skip_quiet=where.role in _QUIET_ROLES, found=found
    )
    if _has_blank_run(data):  # without a long run of blanks no line can hide code: skip the line loop
        yield from hidden_whitespace(where, analysis)
    if analysis is not None:
        yield from findings_for(where, analysis)


@dataclass(frozen=True)
class FileJob:
    """One .py file to analyse: everything `file_findings` needs, so it can run in a worker."""

    path: str
    data: bytes
    role: FileRole
    package: str | None
    version: str | None


def _job_size(job: FileJob) -> int:
    return len(job.data)


def file_findings(job: FileJob) -> list[Finding]:
    """Every code finding for one .py file (a plain function of its bytes: runs in workers too)."""
    data = job.data
    kind_name = _binary_kind(data[:4096])
    if kind_name is not None:
        return [
            Finding(
                "binary-unexpected",
                Severity.HIGH,
                job.package,
                job.version,
                job.path,
                None,
                f"{kind_name} executable disguised as a Python source file",
                snippet(repr(data[:16])),
            )
        ]
    # The pre-filter runs once: a file no code rule looks at is not even split into lines.
    found = None
    if len(data) <= MAX_PARSE_BYTES:
        found = signs(data)
        if _depth_of(job.role, data, found) is Depth.NONE:
            return []
    where = Where(job.path, job.role, job.package, job.version, tuple(data.splitlines()))
    return list(scan_python_file(where, data, found))


class _FileJobs:
    """Every .py file the code rules look at, with its role and owner, read by the tree as the
    analysis asks for it: workers start on the first files while the rest are still being read."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        kind = ctx.tree.kind
        early = startup_modules(ctx.tree)
        self.files: list[tuple[str, FileRole]] = []
        for path in ctx.tree.paths():
            if not path.endswith(".py"):
                continue
            role = classify(path, kind)
            if role is FileRole.STARTUP_HOOK:
                continue  # sitecustomize/usercustomize: the hook rules judge them
            if installed_path(path, kind) in early:
                role = FileRole.STARTUP_HOOK
            self.files.append((path, role))

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[FileJob]:
        for path, role in self.files:
            try:
                data = self.ctx.tree.read(path)
            except TreeError:
                continue
            dist = _owner(self.ctx, path)
            yield FileJob(path, data, role, dist.name if dist else None, dist.version if dist else None)


def code_rules(ctx: ScanContext) -> Iterator[Finding]:
    """The code rules over every .py file of the tree (startup-hook modules included).

    Files are read here and analysed by `file_findings`, across worker processes for large trees
    (`CHAINPROOF_JOBS` sets how many); findings come out in path order either way.
    """
    jobs = _FileJobs(ctx)
    # The analysis of every .py file is most of a scan's time: that is what progress counts.
    for found in ctx.watch(map_items(file_findings, jobs, _job_size), len(jobs), ctx.tree.label):
        yield from found


# --- shipped bytecode and binaries -----------------------------------------------------------

_BINARY_MAGIC = {
    b"\x7fELF": "ELF",
    b"MZ": "PE",
    b"\xfe\xed\xfa\xce": "Mach-O",
    b"\xfe\xed\xfa\xcf": "Mach-O",
    b"\xce\xfa\xed\xfe": "Mach-O",
    b"\xcf\xfa\xed\xfe": "Mach-O",
}
_NATIVE_SUFFIX = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|exe|a|lib|node|bin)$", re.IGNORECASE)
_NATIVE_DIRS = re.compile(
    r"(^|/)(bin|scripts|[^/]*\.libs|\.dylibs|lib|libs|[^/]+\.data/scripts|[^/]+\.data/data)/"
)
# A binary wearing a text or data name is disguised: nothing legitimate needs that.
_TEXT_SUFFIX = re.compile(
    r"\.(py|pyi|pth|txt|md|rst|json|toml|cfg|ini|ya?ml|html?|css|js|csv|xml|png|jpe?g|gif|svg|typed)$",
    re.IGNORECASE,
)
_SKIP_READ = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|pyc|pyo|py)$", re.IGNORECASE)
MAX_BINARY_PROBE = 8 * 1024 * 1024


def _binary_kind(head: bytes) -> str | None:
    for magic, name in _BINARY_MAGIC.items():
        if head.startswith(magic):
            # "MZ" alone is two common letters; a PE file also carries "PE\0\0" at e_lfanew.
            if name == "PE" and not _is_pe(head):
                continue
            return name
    return None


def _is_pe(data: bytes) -> bool:
    if len(data) < 0x40:
        return False
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return data[offset : offset + 4] == b"PE\0\0"


def _pyc_finding(ctx: ScanContext, path: str, paths: set[str]) -> Finding | None:
    parts = path.split("/")
    name = parts[-1]
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        stem = name.split(".")[0]
        source = "/".join([*parts[:-2], f"{stem}.py"])
        if source in paths:
            return None
        # Python ignores a __pycache__ file without its source, but a loader shipped beside it can
        # load it by path, which is how bytecode-only payloads run.
        sev = Severity.LOW if ctx.tree.kind is TargetKind.ENVIRONMENT else Severity.HIGH
        why = "compiled bytecode without its source: what runs cannot be reviewed"
    else:
        source = path[: -len(".pyc")] + ".py" if path.endswith(".pyc") else path[:-4] + ".py"
        if source in paths:
            sev, why = Severity.MEDIUM, "bytecode outside __pycache__ beside its source"
        else:
            sev = Severity.HIGH
            why = "importable bytecode shipped without source: it runs instead of reviewable code"
    dist = _owner(ctx, path)
    role = classify(path.replace(".pyc", ".py"), ctx.tree.kind)
    return Finding(
        "binary-pyc-without-source",
        contextual(sev, role),
        dist.name if dist else None,
        dist.version if dist else None,
        path,
        None,
        why,
    )


def _binary_finding(ctx: ScanContext, path: str) -> Finding | None:
    if _SKIP_READ.search(path):
        return None  # .py files are probed by the code rules, which read them anyway
    try:
        size = ctx.tree.size(path)
        if size < 4 or size > MAX_BINARY_PROBE:
            return None
        head = ctx.tree.read(path, MAX_BINARY_PROBE)
    except (TreeError, KeyError):
        return None
    kind = _binary_kind(head)
    if kind is None:
        return None
    disguised = bool(_TEXT_SUFFIX.search(path))
    if not disguised and (_NATIVE_SUFFIX.search(path) or _NATIVE_DIRS.search("/" + path)):
        return None
    if disguised:
        sev, why = Severity.HIGH, f"{kind} executable disguised under a text or data file name"
    else:
        sev = Severity.MEDIUM if ctx.tree.kind is not TargetKind.SDIST else Severity.HIGH
        why = f"{kind} executable where Python source or data is expected"
    dist = _owner(ctx, path)
    return Finding(
        "binary-unexpected",
        sev,
        dist.name if dist else None,
        dist.version if dist else None,
        path,
        None,
        why,
        snippet(repr(head[:16])),
    )


def binary_rules(ctx: ScanContext) -> Iterator[Finding]:
    """Bytecode without source and native executables in places meant for source or data."""
    paths = set(ctx.tree.paths())
    for path in sorted(paths):
        if path.endswith((".pyc", ".pyo")):
            found = _pyc_finding(ctx, path, paths)
        else:
            found = _binary_finding(ctx, path)
        if found is not None:
            yield found
