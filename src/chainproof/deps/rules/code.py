"""Code rules: what a package's Python files would do, read from their syntax tree alone.

Every file is only ever parsed (`ast.parse`), never imported, compiled to bytecode or run. The
analyser (`analysis.py`) walks each scope in source order and records what it sees as `Hit`s; the
rules of `code_findings.py` turn hits into findings, graded by where the file sits (`FileRole`) and
when the code runs. This module parses files, hands them to both, and holds the scan's file jobs and
the binary rules. The startup-hook rules reuse the same analysis on `.pth` lines.
"""

from __future__ import annotations

import ast
import posixpath
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainproof.deps.files import CHUNK_BYTES, FileTree, TargetKind, TreeError, read_chunks
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
from chainproof.deps.rules.install_calls import MAX_SCRIPT_BYTES, called_modules
from chainproof.deps.rules.parallel import map_items
from chainproof.deps.rules.prefilter import Depth, depth_for, signs
from chainproof.deps.rules.roles import classify, installed_path, startup_modules
from chainproof.deps.rules.source_text import as_read, as_utf8, ascii_compatible, encoding_of, repaired
from chainproof.deps.rules.syntax import WHITESPACE_RUN, _Budget

if TYPE_CHECKING:
    from chainproof.deps.rules.stream_search import Seen

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
    Source the parser refuses only for an over-long integer literal or a null byte is parsed with
    those replaced in place; source in an encoding its bytes do not spell ASCII in (UTF-16 without
    a cookie) is parsed from its text.
    """
    if len(data) > MAX_PARSE_BYTES:
        return None
    tree = _parse(data)
    if tree is None and encoding_of(data[:4096]) is not None:
        data = as_utf8(data)[0]
        tree = _parse(data)
    if tree is None:
        fixed = repaired(data)
        tree = _parse(fixed) if fixed != data else None
    return tree


def _parse(data: bytes) -> ast.Module | None:
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
    called_elsewhere: frozenset[str] = frozenset(),
) -> Analysis | None:
    """What one file's code does.

    `nested` bounds the bytes of nested code analysed below it; `module_only` skips function
    bodies (for files where only import-time behaviour can matter); `skip_quiet` skips the bodies
    of functions whose source names nothing any code rule keys on (for the scan's findings; the
    calls and imports it records are then incomplete). `found`: the file's `prefilter.signs`, when
    already known. `called_elsewhere`: module functions another file runs (its setup script's calls,
    `install_calls.py`): they are walked as code that runs, like module-level code.
    """
    tree = parse_source(data)
    if tree is None:
        return None
    try:
        found = signs(data) if found is None else found
        analyzer = _Analyzer(tree, depth, data, nested or _Budget(MAX_NESTED_BYTES), found, analyze_source)
        analyzer.module_only = module_only
        analyzer.called_elsewhere = called_elsewhere
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


def _unparsed(where: Where, why: str, seen: Seen | None = None) -> Finding:
    """A file the code rules could not fully analyse: `high` (before the role lowers it) when what
    its text names carries a dangerous capability, since the payload may be in what went unread."""
    if seen is None or not _looks_dangerous(where.role, seen):
        return Finding(
            "code-unparsed",
            contextual(Severity.LOW, where.role),
            where.package,
            where.version,
            where.path,
            None,
            f"not analysed: {why}; review by hand if the package is not trusted",
        )
    from chainproof.deps.rules.stream_search import capability_names  # noqa: PLC0415 - see search_text

    names = ", ".join(capability_names(seen.found))
    first = seen.close or seen.first_line(seen.found)
    line, text = first if first is not None else (None, b"")
    return Finding(
        "code-unparsed-capability",
        contextual(Severity.HIGH, where.role),
        where.package,
        where.version,
        where.path,
        line,
        f"not fully analysed ({why}), and its text names {names}: a payload can hide in what the "
        "analysis could not read; review by hand",
        snippet(text),
    )


def _looks_dangerous(role: FileRole, seen: Seen) -> bool:
    """Whether the text of a file that could not be analysed names a payload's shape: anywhere in
    an install script or a startup hook (which rarely fail to parse), within a few lines elsewhere
    (a large library module names exec and a decoder far apart; a newer Python's syntax the parser
    here refuses must not make that a finding)."""
    from chainproof.deps.rules.stream_search import dangerous  # noqa: PLC0415 - see search_text

    if role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT):
        return dangerous(seen.found)
    return seen.close is not None


def _depth_of(role: FileRole, data: bytes, found: int) -> Depth:
    """How deep the code rules look at a file of this role (hooks and setup scripts: always fully)."""
    if role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT) or _has_blank_run(data):
        return Depth.FULL
    return depth_for(found)


_QUIET_ROLES = frozenset({FileRole.MODULE, FileRole.TEST, FileRole.OTHER})
"""Roles whose quiet function bodies are skipped; hooks and install scripts are always read whole."""


def scan_python_file(
    where: Where, data: bytes, found: int | None = None, called_elsewhere: frozenset[str] = frozenset()
) -> Iterator[Finding]:
    """Every code finding for one .py file's bytes (`found`: its `prefilter.signs`, when known).

    What cannot be analysed (over the parse limit, refused by the parser, too deep for the
    analysis) is still searched as text, and reported by `_unparsed`.
    """
    if len(data) > MAX_PARSE_BYTES:
        seen = search_text(data)
        yield _unparsed(where, f"{len(data)} bytes, over the {MAX_PARSE_BYTES}-byte parse limit", seen)
        yield from hidden_whitespace(where, None)
        return
    found = signs(data) if found is None else found
    depth = _depth_of(where.role, data, found)
    if depth is Depth.NONE:
        yield from hidden_whitespace(where, None)
        return
    analysis = analyze_source(
        data,
        module_only=depth is Depth.MODULE,
        skip_quiet=where.role in _QUIET_ROLES,
        found=found,
        called_elsewhere=called_elsewhere,
    )
    if _has_blank_run(data):  # without a long run of blanks no line can hide code: skip the line loop
        yield from hidden_whitespace(where, analysis)
    if analysis is not None:
        yield from findings_for(where, analysis)
        return
    # Not one tree: what parses is analysed all the same, and the rest is searched as text.
    from chainproof.deps.rules.recover import recover  # noqa: PLC0415 - see search_text

    recovered = recover(data)
    partial = None if recovered is None else analyze_source(recovered.kept)
    if recovered is None or partial is None:
        yield _unparsed(where, "the parser refuses it or it nests too deeply", search_text(data))
        return
    yield from findings_for(where, partial)
    dropped = recovered.dropped
    first = dropped[: len(dropped) - len(dropped.lstrip())].count(b"\n") + 1
    why = f"statements from line {first} on are not Python the parser here reads; the rest was analysed"
    yield _unparsed(where, why, search_text(dropped))


def search_text(data: bytes) -> Seen:
    """The streamed search over a file already in memory.

    The search and the recovery of parsable statements are imported where a file needs them:
    few do, and every command line start would pay for them otherwise.
    """
    from chainproof.deps.rules.stream_search import search  # noqa: PLC0415 - only for such files

    return search((data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)), MAX_PARSE_BYTES)


@dataclass(frozen=True)
class FileJob:
    """One .py file to analyse: everything `file_findings` needs, so it can run in a worker."""

    path: str
    data: bytes
    role: FileRole
    package: str | None
    version: str | None
    seen: Seen | None = None
    """A file too large to read whole: what its streamed search found (`data` is then its text
    with comment-only lines blanked, when that fits the parse limit, else empty)."""
    unread: str = ""
    """Why the file could not be read at all."""
    called_elsewhere: frozenset[str] = frozenset()
    """Its functions the package's setup script calls: they run at install."""


def _job_size(job: FileJob) -> int:
    return len(job.data)


def file_findings(job: FileJob) -> list[Finding]:
    """Every code finding for one .py file (a plain function of its bytes: runs in workers too).

    A defect of the analysis on one hostile file is reported as that file's finding, and never
    stops the analysis of the others.
    """
    where = Where(job.path, job.role, job.package, job.version, ())
    if job.unread:
        return [_unparsed(where, f"could not be read: {job.unread}")]
    try:
        return _file_findings(job)
    except Exception as e:  # noqa: BLE001 - whatever the analysis trips on, the file is reported
        seen = job.seen or search_text(job.data)
        return [_unparsed(where, f"the analysis failed ({type(e).__name__})", seen)]


def _file_findings(job: FileJob) -> list[Finding]:
    if job.seen is not None:
        return _oversized_findings(job, job.seen)
    kind_name = _binary_kind(job.data[:4096])
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
                snippet(repr(job.data[:16])),
            )
        ]
    # Whatever the file's encoding, the rules search and parse it as UTF-8: as the import system
    # decodes it. Where that text differs from the bytes read as they are (a cookie naming UTF-7 or
    # unicode_escape), the bytes are analysed too: a loader that reads the file as UTF-8 runs those.
    data, encoding = as_utf8(job.data)
    found = _text_findings(job, data)
    if encoding is not None and not ascii_compatible(encoding):
        found += [f for f in _text_findings(job, as_read(job.data)) if f not in found]
    return found


def _text_findings(job: FileJob, data: bytes) -> list[Finding]:
    # The pre-filter runs once: a file no code rule looks at is not even split into lines.
    found = None
    if len(data) <= MAX_PARSE_BYTES:
        found = signs(data)
        if _depth_of(job.role, data, found) is Depth.NONE:
            return []
    where = Where(job.path, job.role, job.package, job.version, tuple(data.splitlines()))
    return list(scan_python_file(where, data, found, job.called_elsewhere))


def _oversized_findings(job: FileJob, seen: Seen) -> list[Finding]:
    """A file over the parse limit: analysed without its comments when that fits, else reported
    from its streamed search."""
    where = Where(job.path, job.role, job.package, job.version, tuple(job.data.splitlines()))
    if seen.compact is not None:
        # Comment-only lines were blanked, every line kept: findings point into the real file.
        return list(scan_python_file(where, seen.compact))
    why = f"{seen.size} bytes, over the {MAX_PARSE_BYTES}-byte parse limit even without its comments"
    return [_unparsed(where, why, seen)]


class _FileJobs:
    """Every .py file the code rules look at, with its role and owner, read by the tree as the
    analysis asks for it: workers start on the first files while the rest are still being read."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        kind = ctx.tree.kind
        self.early = startup_modules(ctx.tree)
        self.files: list[tuple[str, FileRole, str]] = []
        """(path, role, the path whose bytes it has: itself, or a link's target in the tree)"""
        for path in ctx.tree.paths():
            if not path.endswith(_SOURCE_SUFFIXES):
                continue
            if path.endswith(".py") and _role_of(path, kind) is FileRole.STARTUP_HOOK:
                continue  # sitecustomize/usercustomize: the hook rules judge them (not `.pyw`)
            self.files.append((path, self._role(path), path))
        if kind is not TargetKind.WHEEL:  # pip writes a wheel's link members as plain files
            self.files += [(p, self._role(p), t) for p, t in _linked_sources(ctx.tree)]
        self.called = self._called_at_install() if kind is TargetKind.SDIST else {}

    def _called_at_install(self) -> dict[str, frozenset[str]]:
        """{module path: its functions a setup script of the tree calls} (`install_calls.py`)."""
        tree = self.ctx.tree
        paths = [p for p, _, _ in self.files]
        called: dict[str, frozenset[str]] = {}
        for path, role, source in self.files:
            if role is not FileRole.INSTALL_SCRIPT or tree.size(source) > MAX_SCRIPT_BYTES:
                continue
            try:
                data = tree.read(source)
            except TreeError:
                continue  # reported with the script's own job
            for module, names in called_modules(path, data, paths).items():
                called[module] = called.get(module, frozenset()) | names
        return called

    def _role(self, path: str) -> FileRole:
        kind = self.ctx.tree.kind
        return FileRole.STARTUP_HOOK if installed_path(path, kind) in self.early else _role_of(path, kind)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[FileJob]:
        for path, role, source in self.files:
            dist = _owner(self.ctx, path) or _owner(self.ctx, source)
            package, version = (dist.name, dist.version) if dist else (None, None)
            try:
                yield self._job(path, role, source, (package, version))
            except TreeError as e:
                yield FileJob(path, b"", role, package, version, unread=str(e))

    def _job(self, path: str, role: FileRole, source: str, owner: tuple[str | None, str | None]) -> FileJob:
        tree = self.ctx.tree
        if tree.size(source) <= MAX_PARSE_BYTES:
            return FileJob(
                path, tree.read(source), role, *owner, called_elsewhere=self.called.get(path, frozenset())
            )
        # Too large to parse whole: searched here as it streams past, bounded in memory, and only
        # what is left without comments goes on to the analysis.
        from chainproof.deps.rules.stream_search import search  # noqa: PLC0415 - see search_text

        seen = search(read_chunks(tree, source), MAX_PARSE_BYTES)
        return FileJob(path, seen.compact or b"", role, owner[0], owner[1], seen)


def _linked_sources(tree: FileTree) -> Iterator[tuple[str, str]]:
    """(link path, target path) for every link named like source whose target is a regular file
    of the tree: extracted, `setup.py -> docs/notes.txt` runs the notes, so they are its code."""
    files = set(tree.paths())
    flat = getattr(tree, "flat_root", "")  # where a flat sdist's top-level members now are
    for path, target in tree.links():
        if not path.endswith(_SOURCE_SUFFIXES):
            continue
        top = path.partition("/")[0]
        # A symbolic link is relative to its folder; a hard link to the archive's root (which a
        # flat sdist's presentation moved under one folder).
        relative = posixpath.join(posixpath.dirname(path), target)
        for candidate in (relative, target, f"{top}/{target}", f"{flat}/{target}"):
            resolved = posixpath.normpath(candidate.replace("\\", "/"))
            if resolved in files:
                yield path, resolved
                break


_SOURCE_SUFFIXES = (".py", ".pyw")
"""What the import system loads as source (`.pyw` too, on Windows)."""


def _role_of(path: str, kind: TargetKind) -> FileRole:
    """The file's role, a `.pyw` judged as the `.py` it stands for; a path the classification
    trips on is still analysed, as importable code."""
    try:
        return classify(path.removesuffix("w") if path.endswith(".pyw") else path, kind)
    except (ValueError, IndexError):
        return FileRole.MODULE


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
