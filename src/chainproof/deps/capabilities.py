"""What a package can do, file by file: the capabilities `chainproof deps diff` compares.

A capability is something a release's files give it the power to do: run code at every interpreter
start (a startup hook), ship native code (a binary), use the network, spawn processes, run code it
builds at run time, reach for credentials, or replace a setup.py command. Each one is keyed so that
moving code between lines of a file does not change it: (kind, path as installed, detail such as
the host or the called function). Versions in paths (`pkg-1.0/` of an sdist, `pkg-1.0.dist-info/`)
and the build hashes auditwheel adds to vendored libraries are normalised away, so two releases of
the same package line up file by file.

Everything here only reads bytes: Python files are parsed with the code rules' analysis
(`rules.code.analyze_source`), `.pth` lines are judged with the hook rules' judgement, binaries are
told by suffix and magic bytes. Nothing is imported, built or executed.
"""

from __future__ import annotations

import ast
import enum
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from chainproof.deps.files import MAX_FILE_BYTES, FileTree, TargetKind, TreeError
from chainproof.deps.model import Severity
from chainproof.deps.rules import hooks
from chainproof.deps.rules.base import FileRole
from chainproof.deps.rules.code import (
    MAX_PARSE_BYTES,
    Analysis,
    HitKind,
    analyze_source,
    parse_source,
    snippet,
)
from chainproof.deps.rules.parallel import map_items
from chainproof.deps.rules.prefilter import Depth, parse_depth
from chainproof.deps.rules.roles import (
    MAX_HOOK_BYTES,
    classify,
    installed_path,
    is_pth,
    is_start_file,
    pth_exec_lines,
    startup_modules,
)


class Kind(enum.StrEnum):
    STARTUP_HOOK = "startup-hook"
    BINARY = "binary"
    NETWORK = "network"
    PROCESS = "process"
    EXEC = "exec"
    """Code built at run time: exec/eval/compile of non-literals, marshal, dynamic imports."""
    CREDENTIALS = "credential-access"
    INSTALL_HOOK = "install-hook"
    """A setup.py `cmdclass` override: code that runs when the sdist is built or installed."""
    UNANALYSED = "unanalysed"
    """A file whose capabilities could not be read (too large, does not parse)."""


class When(enum.IntEnum):
    """When the code holding a capability runs; higher is earlier and less avoidable."""

    CALL = 0
    """Inside a function (or a test, or under `if __name__ == "__main__"`): only when called."""
    IMPORT = 1
    """Module level: as soon as the module is imported."""
    INSTALL = 2
    """A setup script: on every build or source install."""
    STARTUP = 3
    """A startup hook, or a module one imports: at every interpreter start."""

    def __str__(self) -> str:
        return {0: "when called", 1: "at import time", 2: "at install time", 3: "at interpreter start"}[
            self.value
        ]


@dataclass(frozen=True)
class Capability:
    kind: Kind
    key_path: str
    """The path as installed, versions normalised: what lines two releases up."""
    detail: str
    """What exactly: `subprocess.Popen`, `host evil.example`, `import socket`, `ELF`, ..."""
    when: When
    path: str
    """The path in the tree it was read from (for the finding)."""
    line: int | None = None
    evidence: str = ""
    strong: bool = False
    """A stronger signal of the same kind: a payload-launcher command, an embedded decoded payload,
    a hard-coded host, data sent out, a download that gets executed."""
    weak: bool = False
    """A weaker one: an import of a network module, a host literal, a credential location named
    but not read, a dynamic import."""
    note: str = ""
    """What the diff's message adds (a hook's verdict, a binary's place)."""
    grade: Severity | None = None
    """A severity fixed by the hook judgement, where it applies."""
    timed: bool = True
    """False for what is only named in the file (a host, a credential location): `when` is moot."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.key_path, self.detail)

    @property
    def module(self) -> str:
        """The top-level name the file belongs to (`litellm` for `litellm/proxy/x.py`); `` at root."""
        head, sep, _ = self.key_path.partition("/")
        if sep:
            return head
        return head.split(".")[0] if head.endswith((".py", ".so", ".pyd")) else ""


# --- paths ---------------------------------------------------------------------------------------

_META_DIR = re.compile(r"^[^/]+\.(dist-info|egg-info)(/|$)")
_DATA_DIR = re.compile(r"^[^/]+\.data/")
_EXT_TAG = re.compile(r"^([^/]*?)\.(cpython|cp|pypy|abi3|graalpy)[^/]*?\.(so|pyd)$")
_VENDORED_HASH = re.compile(r"-[0-9a-f]{8}(?=\.(so|dylib|dll)(\.|$))")
_PYTHON = (".py", ".pyw")


def key_path(path: str, kind: TargetKind, sdist_root: str = "") -> str:
    """`path` as it would be installed, with the versions and build hashes in names normalised."""
    if kind is TargetKind.SDIST and sdist_root and path.startswith(sdist_root + "/"):
        path = path[len(sdist_root) + 1 :]
        if path.startswith("src/"):
            path = path[len("src/") :]
    else:
        path = installed_path(path, kind)
    path = _META_DIR.sub(lambda m: f"<{m.group(1)}>{m.group(2)}", path, count=1)
    path = _DATA_DIR.sub("<data>/", path, count=1)
    parts = path.split("/")
    parts[-1] = _EXT_TAG.sub(r"\1.<abi>.\3", parts[-1])
    if len(parts) > 1 and parts[-2].endswith((".libs", ".dylibs")):
        parts[-1] = _VENDORED_HASH.sub("", parts[-1])
    return "/".join(parts)


def sdist_root(tree: FileTree) -> str:
    """The `name-version` directory every member of an sdist sits in, or ``."""
    if tree.kind is not TargetKind.SDIST:
        return ""
    roots = {p.split("/", 1)[0] for p in tree.paths() if "/" in p}
    return roots.pop() if len(roots) == 1 else ""


def is_metadata(key: str) -> bool:
    return key.startswith(("<dist-info>", "<egg-info>")) or key == "PKG-INFO"


# --- binaries ------------------------------------------------------------------------------------

_MAGIC = (
    (b"\x7fELF", "ELF"),
    (b"\xfe\xed\xfa\xce", "Mach-O"),
    (b"\xfe\xed\xfa\xcf", "Mach-O"),
    (b"\xce\xfa\xed\xfe", "Mach-O"),
    (b"\xcf\xfa\xed\xfe", "Mach-O"),
    (b"\xca\xfe\xba\xbe", "Mach-O"),
)
_NATIVE = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|exe)$", re.IGNORECASE)
MAX_PROBE = 8 * 1024 * 1024
"""Larger files are not read for magic bytes (their suffix still counts)."""


def binary_format(head: bytes) -> str | None:
    """ELF, PE or Mach-O from a file's first bytes (a PE file must carry `PE\\0\\0` too)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith(b"MZ") and len(head) >= 0x40:
        offset = int.from_bytes(head[0x3C:0x40], "little")
        if head[offset : offset + 4] == b"PE\0\0":
            return "PE"
    return None


def pyc_source(path: str) -> str:
    """The `.py` a bytecode file was compiled from (`__pycache__/x.cpython-311.pyc` -> `x.py`)."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        return "/".join([*parts[:-2], parts[-1].split(".")[0] + ".py"])
    return path.rsplit(".", 1)[0] + ".py"


# --- code ----------------------------------------------------------------------------------------

NETWORK_MODULES = frozenset(
    {"socket", "urllib", "urllib.request", "urllib2", "http.client", "httplib", "requests", "httpx"}
    | {"aiohttp", "urllib3", "ftplib", "smtplib", "telnetlib", "websocket", "websockets", "paramiko"}
)
_BULK_ENV = frozenset({"os.environ.copy", "os.environ.items", "os.environ.values", "os.environ.keys"})
_LOOPBACK = ("127.", "localhost", "0.0.0.0", "[::1]", "::1")  # noqa: S104 - compared against, never bound
_EXEC_HITS = {
    HitKind.EXEC_DECODED: "exec of decoded data",
    HitKind.EXEC_DYNAMIC: "exec of built code",
    HitKind.DOWNLOAD_EXEC: "download and execute",
    HitKind.DYNAMIC_IMPORT: "dynamic import",
    HitKind.DROPPED_EXEC: "runs a file it wrote",
}


@dataclass(frozen=True)
class _Where:
    path: str
    key: str
    lines: tuple[bytes, ...]

    def evidence(self, line: int | None) -> str:
        if line is None or not 0 < line <= len(self.lines):
            return ""
        return snippet(self.lines[line - 1])


def _when(import_time: bool, base: When) -> When:
    """A hit's time: module-level code runs when the file does (import, install or start)."""
    return base if import_time else When.CALL


_BODIES = ("body", "orelse", "finalbody", "handlers")


def _module_scan(tree: ast.Module) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import statement.

    Imports are statements, so only statement bodies are walked (expressions are most of a tree).
    """
    todo: deque[tuple[ast.AST, bool]] = deque((n, True) for n in tree.body)
    while todo:
        node, top = todo.popleft()
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, top
            continue
        if isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                yield node.module, node.lineno, top
                for alias in node.names:
                    yield f"{node.module}.{alias.name}", node.lineno, top
            continue
        inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for field in _BODIES:
            children = getattr(node, field, None)
            if isinstance(children, list):
                todo.extend((c, inner) for c in children if isinstance(c, (ast.stmt, ast.excepthandler)))
        if isinstance(node, ast.Match):
            todo.extend((c, inner) for case in node.cases for c in case.body)


_NET_TOKENS = (
    *(b"socket", b"urllib", b"http", b"requests", b"aiohttp", b"ftplib", b"smtplib"),
    *(b"telnetlib", b"websocket", b"paramiko"),
)
# Tokens without which a file can have no capability `code_capabilities` reports (beyond what
# `rules.prefilter.parse_depth` already rules in): a cheap test that spares most files a parse.
_CODE_TOKENS = (
    *(b"://", b"environ", b"import_module", b"__import__", b"marshal", b"exec", b"eval"),
    *(b"compile", b"loads", b"cmdclass"),
)


def worth_analysing(data: bytes) -> bool:
    return parse_depth(data) is not Depth.NONE or any(t in data for t in _CODE_TOKENS + _NET_TOKENS)


def _network_imports(where: _Where, where_data: bytes, base: When) -> Iterator[Capability]:
    if not any(t in where_data for t in _NET_TOKENS):
        return
    tree = parse_source(where_data)
    if tree is None:
        return
    seen: set[str] = set()
    for module, line, top in _module_scan(tree):
        if module not in NETWORK_MODULES or module in seen:
            continue
        seen.add(module)
        yield Capability(
            Kind.NETWORK,
            where.key,
            f"import {module}",
            _when(top, base),
            where.path,
            line,
            where.evidence(line),
            weak=True,
        )


def _hit_capabilities(where: _Where, a: Analysis, base: When) -> Iterator[Capability]:
    for h in a.hits:
        when = _when(h.import_time, base)
        ev = where.evidence(h.line)
        if h.kind is HitKind.PROCESS:
            yield Capability(
                Kind.PROCESS, where.key, h.detail, when, where.path, h.line, ev, strong=h.suspicious
            )
        elif h.kind is HitKind.NETWORK:
            host = h.suspicious and not h.detail.startswith(_LOOPBACK)
            detail = f"contacts {h.detail}" if h.suspicious else h.detail
            yield Capability(
                Kind.NETWORK, where.key, detail, when, where.path, h.line, ev, strong=host or h.layers > 0
            )
        elif h.kind in _EXEC_HITS:
            strong = h.kind in (HitKind.DOWNLOAD_EXEC, HitKind.DROPPED_EXEC) or (
                h.kind is HitKind.EXEC_DECODED and h.suspicious
            )
            detail = f"{_EXEC_HITS[h.kind]} via {h.detail}" if h.detail else _EXEC_HITS[h.kind]
            yield Capability(
                Kind.EXEC,
                where.key,
                detail,
                when,
                where.path,
                h.line,
                ev,
                strong=strong,
                weak=h.kind is HitKind.DYNAMIC_IMPORT,
            )
        elif h.kind is HitKind.DECODE and h.detail == "marshal.loads":
            yield Capability(Kind.EXEC, where.key, "marshal.loads", when, where.path, h.line, ev)
        elif h.kind is HitKind.ENV_EXFIL:
            yield Capability(
                Kind.CREDENTIALS,
                where.key,
                "sends the environment out" if h.suspicious else "dumps the environment",
                when,
                where.path,
                h.line,
                ev,
                strong=h.suspicious,
            )
        elif h.kind is HitKind.CREDENTIAL_READ:
            yield Capability(
                Kind.CREDENTIALS, where.key, "reads a credential file", when, where.path, h.line, ev
            )


def _literal_capabilities(where: _Where, a: Analysis, base: When) -> Iterator[Capability]:
    """Hosts, credential locations and bulk environment reads named anywhere in the file."""

    def named(kind: Kind, detail: str, line: int | None) -> Capability:
        return Capability(
            kind, where.key, detail, base, where.path, line, where.evidence(line), weak=True, timed=False
        )

    contacted = {h.detail for h in a.hits if h.kind is HitKind.NETWORK and h.suspicious}
    for host in a.hosts:
        if host.startswith(_LOOPBACK) or host in contacted:
            continue
        line = next((n for n, raw in enumerate(where.lines, 1) if host.encode() in raw), None)
        yield named(Kind.NETWORK, f"names host {host}", line)
    for category, line in sorted(a.credentials.items()):
        yield named(Kind.CREDENTIALS, f"names {category} credentials", line)
    if a.calls & _BULK_ENV:
        yield Capability(
            Kind.CREDENTIALS,
            where.key,
            "reads the whole environment",
            base,
            where.path,
            weak=True,
            timed=False,
        )


_RISKY = frozenset(
    {HitKind.PROCESS, HitKind.NETWORK, HitKind.EXEC_DECODED, HitKind.EXEC_DYNAMIC}
    | {HitKind.DOWNLOAD_EXEC, HitKind.ENV_EXFIL}
)


def _cmdclass_capabilities(where: _Where, a: Analysis) -> Iterator[Capability]:
    for command, cls in sorted(a.cmdclass.items()):
        span = a.class_spans.get(cls)
        first = span[1] if span else None
        inside = [h for h in a.hits if span and span[1] <= h.line <= span[2]]
        risky = sorted({h.detail or h.kind.value for h in inside if h.kind in _RISKY})
        note = f"; it runs {', '.join(risky)[:100]}" if risky else ""
        yield Capability(
            Kind.INSTALL_HOOK,
            where.key,
            f"cmdclass {command}",
            When.INSTALL,
            where.path,
            first,
            where.evidence(first),
            strong=bool(risky),
            note=f"setup.py replaces the `{command}` command with {cls}{note}",
        )


@dataclass(frozen=True)
class CodeJob:
    """One Python file to analyse: a plain value, so the analysis can run in a worker process."""

    path: str
    key: str
    data: bytes
    base: When
    """When its module-level code runs."""
    install: bool = False
    """A setup script: its `cmdclass` overrides count too."""


def _job_size(job: CodeJob) -> int:
    return len(job.data)


def run_code_job(job: CodeJob) -> list[Capability]:
    """What one Python file can do (only parsed, never run)."""
    data, key, path, base = job.data, job.key, job.path, job.base
    where = _Where(path, key, tuple(data.splitlines()))
    analysis = analyze_source(data)
    if analysis is None:
        why = "over the parse limit" if len(data) > MAX_PARSE_BYTES else "does not parse"
        return [Capability(Kind.UNANALYSED, key, why, base, path)]
    found = list(_hit_capabilities(where, analysis, base))
    found += _literal_capabilities(where, analysis, base)
    if any(m in NETWORK_MODULES or m.split(".")[0] in NETWORK_MODULES for m in analysis.imports):
        found += _network_imports(where, data, base)
    if job.install:
        found += _cmdclass_capabilities(where, analysis)
    return found


def code_capabilities(
    path: str, key: str, data: bytes, base: When, install: bool = False
) -> list[Capability]:
    """What one Python file can do; `base` is when its module-level code runs."""
    if not install and base is not When.STARTUP and not worth_analysing(data):
        return []
    return run_code_job(CodeJob(path, key, data, base, install))


# --- startup hooks -------------------------------------------------------------------------------


def _pth_capabilities(path: str, key: str, text: str, present: frozenset[str]) -> Iterator[Capability]:
    lines = pth_exec_lines(text)
    if not lines:
        yield Capability(
            Kind.STARTUP_HOOK, key, "adds directories to sys.path", When.STARTUP, path, weak=True
        )
        return
    verdicts: list[Severity] = []
    notes: list[str] = []
    for number, line in lines:
        analysis = analyze_source(line.encode("utf-8", "replace"))
        if analysis is None:
            verdicts.append(Severity.LOW)
            notes.append("an import line that does not parse")
            continue
        template = hooks.recognise(analysis)
        if template is not None:
            verdicts.append(Severity.MEDIUM)
            notes.append(f"the content of {template.name}")
        else:
            verdict = hooks.judge(analysis, present)
            # A hook that only imports code this package ships hands the risk to that module,
            # which is diffed as startup code; anything else is new code at every start.
            verdicts.append(Severity.HIGH if verdict.severity <= Severity.MEDIUM else Severity.CRITICAL)
            notes.append(verdict.why)
        where = _Where(path, key, tuple([b""] * (number - 1) + [line.encode("utf-8", "replace")]))
        for cap in _hit_capabilities(where, analysis, When.STARTUP):
            yield cap
        for cap in _literal_capabilities(where, analysis, When.STARTUP):
            yield cap
    first, text_line = lines[0]
    yield Capability(
        Kind.STARTUP_HOOK,
        key,
        "executes code at interpreter start",
        When.STARTUP,
        path,
        first,
        snippet(text_line),
        note="; ".join(dict.fromkeys(notes)),
        grade=max(verdicts),
    )


def _start_file_capabilities(path: str, key: str, text: str) -> Iterator[Capability]:
    entries = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    yield Capability(
        Kind.STARTUP_HOOK,
        key,
        "calls entry points at interpreter start",
        When.STARTUP,
        path,
        1 if entries else None,
        snippet(", ".join(entries)),
        weak=not entries,
    )


def hook_capabilities(path: str, key: str, data: bytes, present: frozenset[str]) -> list[Capability]:
    """What a startup hook (`.pth`, `.start`, sitecustomize/usercustomize) does at every start."""
    text = data.decode("utf-8", "replace")
    if is_pth(path):
        return list(_pth_capabilities(path, key, text, present))
    if is_start_file(path):
        return list(_start_file_capabilities(path, key, text))
    name = path.rsplit("/", 1)[-1]
    hook = Capability(Kind.STARTUP_HOOK, key, f"{name} runs at interpreter start", When.STARTUP, path, 1)
    return [hook, *code_capabilities(path, key, data, When.STARTUP)]


# --- a whole tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeView:
    """What the capability reading needs to know about a tree besides one file's bytes."""

    tree: FileTree
    root: str
    """An sdist's `name-version` directory."""
    present: frozenset[str]
    """Top-level names importable from the tree (what a `.pth` may import without going outside)."""
    early: frozenset[str]
    """Installed paths of modules that startup hooks import."""
    sources: frozenset[str]
    """Every path, for telling bytecode with its source from bytecode without."""

    @classmethod
    def of(cls, tree: FileTree) -> TreeView:
        return cls(
            tree,
            sdist_root(tree),
            hooks.top_level_modules(tree),
            startup_modules(tree),
            frozenset(tree.paths()),
        )

    def key(self, path: str) -> str:
        return key_path(path, self.tree.kind, self.root)


def _binary_capability(view: TreeView, path: str, key: str) -> Capability | None:
    if path.endswith((".pyc", ".pyo")):
        if pyc_source(path) in view.sources:
            return None
        return Capability(Kind.BINARY, key, "bytecode without source", When.CALL, path, strong=True)
    suffix = _NATIVE.search(path)
    head = b""
    try:
        if 4 <= view.tree.size(path) <= MAX_PROBE:
            head = view.tree.read(path, MAX_PROBE)[:4096]
    except (TreeError, KeyError):
        head = b""
    fmt = binary_format(head)
    if fmt is not None:
        return _native(path, key, fmt, disguised=suffix is None and bool(_TEXT_NAME.search(path)))
    if suffix is not None:
        return _native(path, key, f".{suffix.group(1).split('.')[0].lower()} file", disguised=False)
    return None


_TEXT_NAME = re.compile(
    r"\.(pyi?|pyw|pth|txt|md|rst|json|toml|cfg|ini|ya?ml|html?|csv|xml|png|jpe?g|gif|svg)$"
)


def _native(path: str, key: str, detail: str, *, disguised: bool) -> Capability:
    note = f"{detail} executable under a text or data file name" if disguised else ""
    return Capability(Kind.BINARY, key, detail, When.CALL, path, strong=disguised, note=note)


Planned = list[Capability] | CodeJob
"""A file's capabilities, or the analysis that will find them."""


def plan(view: TreeView, path: str) -> Planned:
    """Everything about one file that needs the tree; Python code is left to `run_code_job`."""
    key = view.key(path)
    if is_metadata(key):
        return []
    kind = view.tree.kind
    role = classify(path, kind)
    is_code = path.endswith(_PYTHON)
    if role is not FileRole.STARTUP_HOOK and not is_code:
        binary = _binary_capability(view, path, key)
        return [] if binary is None else [binary]
    limit = MAX_HOOK_BYTES if role is FileRole.STARTUP_HOOK and not is_code else MAX_FILE_BYTES
    try:
        data = view.tree.read(path, limit)
    except TreeError as e:
        return [Capability(Kind.UNANALYSED, key, "unreadable", When.CALL, path, note=str(e)[:160])]
    fmt = binary_format(data[:4096])
    if fmt is not None:
        return [_native(path, key, fmt, disguised=True)]
    if role is FileRole.STARTUP_HOOK:
        return hook_capabilities(path, key, data, view.present)
    if role is FileRole.INSTALL_SCRIPT:
        return CodeJob(path, key, data, When.INSTALL, install=True)
    if role is FileRole.TEST:
        # Tests run only when someone runs them: what they do counts as "when called", and a test
        # file that does not parse is no news.
        return [c for c in code_capabilities(path, key, data, When.CALL) if c.kind is not Kind.UNANALYSED]
    base = When.STARTUP if installed_path(path, kind) in view.early else When.IMPORT
    if base is not When.STARTUP and not worth_analysing(data):
        return []
    return CodeJob(path, key, data, base)


def run_plans(plans: Sequence[Planned]) -> list[list[Capability]]:
    """Each plan's capabilities, in order; the code jobs across worker processes when many."""
    jobs = [p for p in plans if isinstance(p, CodeJob)]
    results = map_items(run_code_job, jobs, _job_size)
    return [next(results) if isinstance(p, CodeJob) else p for p in plans]


def file_capabilities(view: TreeView, path: str) -> list[Capability]:
    """Every capability of one file of the tree."""
    return run_plans([plan(view, path)])[0]


def capabilities(tree: FileTree, paths: Iterable[str] | None = None) -> list[Capability]:
    """The capabilities of every file of `tree` (or of `paths` only), in path order."""
    view = TreeView.of(tree)
    chosen = sorted(view.sources if paths is None else set(paths))
    return [c for found in run_plans([plan(view, p) for p in chosen]) for c in found]
