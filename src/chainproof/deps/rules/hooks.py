"""Startup-hook rules: code that runs at every interpreter start, before any import of the user's.

site.py executes every `.pth` line that starts with `import`, then imports `sitecustomize` and
`usercustomize`; PEP 829 `*.start` files name entry points to call. A package that plants one of
these runs on every `python`, `pip` or test run in that environment (LiteLLM 1.82.8's
`litellm_init.pth`). Hooks are judged by what their code does: a few well-known benign hooks are
recognised by their content (a malicious file can take a benign name, never a benign content), and
anything else is graded by the capabilities the code analysis finds in it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from chainproof.deps.files import FileTree, TreeError
from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.base import FileRole, ScanContext
from chainproof.deps.rules.code import (
    Analysis,
    HitKind,
    Where,
    analyze_source,
    findings_for,
    snippet,
    where_of,
)
from chainproof.deps.rules.roles import (
    MAX_HOOK_BYTES,
    classify,
    installed_path,
    is_pth,
    is_start_file,
    pth_exec_lines,
    pth_path_dirs,
)


@dataclass(frozen=True)
class Template:
    """A benign hook, described by everything its code is allowed to import and call."""

    name: str
    imports: tuple[str, ...]
    calls: tuple[str, ...]
    """fnmatch patterns over resolved call names (`exec` of a literal is analysed, not trusted)."""


TEMPLATES = (
    Template(
        "setuptools' distutils-precedence.pth",
        ("os", "_distutils_hack"),
        ("os.environ.get", "__import__", "_distutils_hack.add_shim"),
    ),
    Template("a setuptools editable install", ("__editable___*_finder",), ("__editable___*_finder.install",)),
    Template("virtualenv's _virtualenv.pth", ("_virtualenv",), ()),
    Template(
        "coverage's subprocess measurement hook",
        ("sys", "os", "coverage"),
        ("exec", "os.getenv", "os.environ.get", "coverage.process_startup"),
    ),
    Template(
        "pytest-cov's subprocess measurement hook",
        ("os", "sys", "pytest_cov.embed"),
        (
            "exec",
            "pytest_cov.embed.init",
            "sys.stderr.write",
            "<str>.format",
            "dict",
            "os.environ.items",
            "k.startswith",
        ),
    ),
    Template(
        "setuptools' namespace-package hook (-nspkg.pth)",
        ("sys", "types", "os", "importlib.util", "importlib.machinery"),
        (
            "os.path.join",
            "os.path.dirname",
            "sys._getframe",
            "__import__",
            "sys.modules.setdefault",
            "importlib.util.module_from_spec",
            "importlib.machinery.PathFinder.find_spec",
            "types.ModuleType",
            "m.__dict__.setdefault",
            "mp.append",
            "setattr",
        ),
    ),
)
_BENIGN_NAMES = re.compile(
    r"^(distutils-precedence|_virtualenv|a1_coverage|pytest-cov|coverage.*|__editable__.*|.*-nspkg)\.pth$"
)

# What a hook may do and how bad it is: these run on every start of every Python in the environment.
_CRITICAL = frozenset(
    {HitKind.PROCESS, HitKind.NETWORK, HitKind.EXEC_DECODED, HitKind.DOWNLOAD_EXEC, HitKind.CREDENTIAL_READ}
)
_HIGH = frozenset(
    {HitKind.EXEC_DYNAMIC, HitKind.DECODE, HitKind.FILE_WRITE, HitKind.DYNAMIC_IMPORT, HitKind.ENV_EXFIL}
)
_FLAG_READS = frozenset({"os.environ.get", "os.getenv", "exec", "__import__", "importlib.import_module"})
"""Calls a hook may make without raising its grade: reading one variable, exec of analysed literals,
importing a module by a literal name (a computed name is a dynamic-import hit, graded high)."""


def matches(template: Template, a: Analysis) -> bool:
    if a.assigns_state or any(h.kind in _CRITICAL | _HIGH for h in a.hits) or a.credentials:
        return False
    imports_ok = all(any(fnmatch.fnmatchcase(m, p) for p in template.imports) for m in a.imports)
    calls_ok = all(any(fnmatch.fnmatchcase(c, p) for p in template.calls) for c in a.calls)
    return imports_ok and calls_ok


def recognise(a: Analysis) -> Template | None:
    return next((t for t in TEMPLATES if matches(t, a)), None)


def top_level_modules(tree: FileTree, dirs: Iterable[str] = ("",)) -> frozenset[str]:
    """Names importable from the given directories of the tree (default: its root).

    `x.py`, `x/__init__.py` and `x.<abi>.so` count; paths are as installed (wheel `.data` dropped).
    """
    prefixes = tuple(f"{d.strip('/')}/" if d.strip("/") else "" for d in dirs)
    names: set[str] = set()
    for path in tree.paths():
        rel = installed_path(path, tree.kind)
        for prefix in prefixes:
            if not rel.startswith(prefix):
                continue
            head, _, rest = rel[len(prefix) :].partition("/")
            if not rest and head.endswith((".py", ".so", ".pyd")):
                names.add(head.split(".")[0])
            elif rest == "__init__.py":
                names.add(head)
    return frozenset(names)


@dataclass(frozen=True)
class Verdict:
    severity: Severity
    why: str


def judge(a: Analysis, present: frozenset[str]) -> Verdict:
    """How bad unrecognised startup code is, from what it does."""
    kinds = {h.kind for h in a.hits}
    if bad := kinds & _CRITICAL:
        names = ", ".join(sorted(k.value for k in bad))
        return Verdict(Severity.CRITICAL, f"runs at every interpreter start and does: {names}")
    if (bad := kinds & _HIGH) or a.assigns_state or a.credentials:
        names = ", ".join(sorted({k.value for k in bad} | ({"state-patching"} if a.assigns_state else set())))
        return Verdict(
            Severity.HIGH, f"runs unrecognised code at every interpreter start ({names or 'credentials'})"
        )
    roots = {m.split(".")[0] for m in a.imports}
    foreign = sorted(c for c in a.calls if c not in _FLAG_READS and c.split(".")[0] not in roots & present)
    missing = sorted(r for r in roots if r not in present and r not in ("os", "sys"))
    if foreign:
        return Verdict(
            Severity.HIGH,
            f"runs unrecognised code at every interpreter start (calls {', '.join(foreign)[:80]})",
        )
    if missing:
        return Verdict(
            Severity.HIGH,
            f"imports {', '.join(missing)[:80]} at every interpreter start, which this package does not ship",
        )
    # Only imports of modules shipped in this tree, and calls into them: the modules' own code is
    # analysed as startup code by the code rules, so this line itself is reported for review only.
    mods = ", ".join(sorted(roots))
    return Verdict(
        Severity.MEDIUM, f"imports {mods} at every interpreter start; that code is checked as a hook"
    )


def _pth_findings(ctx: ScanContext, path: str, text: str, present: frozenset[str]) -> Iterator[Finding]:
    data = text.encode("utf-8", "replace")
    where = where_of(ctx, path, FileRole.STARTUP_HOOK, data)
    name = path.rsplit("/", 1)[-1]
    # Directories the same file adds to sys.path are searched before its import lines run.
    present = present | top_level_modules(ctx.tree, pth_path_dirs(text))
    for number, line in pth_exec_lines(text):
        analysis = analyze_source(line.encode("utf-8", "replace"))
        if analysis is None:
            yield _hook_finding(
                where,
                "hook-pth-exec",
                Severity.LOW,
                (number, line),
                "executable .pth line that does not parse; site.py reports it and goes on",
            )
            continue
        if recognise(analysis) is not None:
            continue
        verdict = judge(analysis, present)
        why = verdict.why
        if _BENIGN_NAMES.match(name):
            why += f" (named like a well-known hook, but {name} does not hold its content)"
        yield _hook_finding(
            where, "hook-pth-exec", verdict.severity, (number, line), why, hosts=analysis.hosts
        )
        yield from findings_for(_at_line(where, number), analysis)


def _at_line(where: Where, number: int) -> Where:
    """A one-line analysis reports line 1; put its findings on the .pth line they came from."""
    line = where.lines[number - 1] if 0 < number <= len(where.lines) else b""
    padded = tuple([b""] * (number - 1) + [line])
    return Where(where.path, where.role, where.package, where.version, padded)


def _hook_finding(
    where: Where,
    rule: str,
    sev: Severity,
    at: tuple[int | None, str],
    why: str,
    *,
    hosts: tuple[str, ...] = (),
) -> Finding:
    """A hook finding at (line number, line text)."""
    line, text = at
    if hosts:
        why = f"{why} (hosts: {', '.join(hosts[:3])})"
    return Finding(rule, sev, where.package, where.version, where.path, line, why, snippet(text))


def _customize_findings(
    ctx: ScanContext, path: str, data: bytes, present: frozenset[str]
) -> Iterator[Finding]:
    where = where_of(ctx, path, FileRole.STARTUP_HOOK, data)
    analysis = analyze_source(data)
    name = path.rsplit("/", 1)[-1]
    if analysis is None:
        yield _hook_finding(
            where,
            "hook-sitecustomize",
            Severity.HIGH,
            (None, ""),
            f"{name} runs at every interpreter start and could not be analysed",
        )
        return
    verdict = judge(analysis, present)
    first = next((h.line for h in analysis.hits), None)
    text = where.lines[first - 1].decode("utf-8", "replace") if first and first <= len(where.lines) else ""
    yield _hook_finding(
        where,
        "hook-sitecustomize",
        verdict.severity,
        (first, text),
        f"{name}: {verdict.why}",
        hosts=analysis.hosts,
    )
    yield from findings_for(where, analysis)


_ENTRY_POINT = re.compile(r"^([A-Za-z_][\w.]*)(?::([A-Za-z_][\w.]*))?$")


def _start_findings(ctx: ScanContext, path: str, text: str, present: frozenset[str]) -> Iterator[Finding]:
    where = where_of(ctx, path, FileRole.STARTUP_HOOK, text.encode("utf-8", "replace"))
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _ENTRY_POINT.match(line)
        if m is None:
            yield _hook_finding(
                where,
                "hook-start-file",
                Severity.LOW,
                (number, line),
                "startup entry point that is not `module:callable`",
            )
            continue
        module = m.group(1).split(".")[0]
        if module in present:
            sev, why = (
                Severity.MEDIUM,
                f"calls {line} at every interpreter start; that module is checked as a hook",
            )
        else:
            sev, why = Severity.HIGH, f"calls {line} at every interpreter start, outside this package"
        yield _hook_finding(where, "hook-start-file", sev, (number, line), why)


def hook_rules(ctx: ScanContext) -> Iterator[Finding]:
    """Every startup hook in the tree: `.pth` import lines, sitecustomize/usercustomize, `.start`."""
    present = top_level_modules(ctx.tree)
    for path in ctx.tree.paths():
        if classify(path, ctx.tree.kind) is not FileRole.STARTUP_HOOK:
            continue
        try:
            data = ctx.tree.read(path, MAX_HOOK_BYTES)
        except TreeError as e:
            # Real hooks are a few hundred bytes; one too large to read is hiding something.
            yield _unreadable(path, f"could not be read: {e}")
            continue
        try:
            found = list(_hook_findings(ctx, path, data, present))
        except Exception as e:  # noqa: BLE001 - a hook the analysis trips on is reported, and the others go on
            # Real hooks are a line or two: one our own analysis cannot get through is hostile.
            found = [_unreadable(path, f"could not be analysed ({type(e).__name__})")]
        yield from found


def _unreadable(path: str, why: str) -> Finding:
    return Finding("hook-unreadable", Severity.HIGH, None, None, path, None, f"startup hook {why}")


def _hook_findings(ctx: ScanContext, path: str, data: bytes, present: frozenset[str]) -> Iterator[Finding]:
    text = data.decode("utf-8", "replace")
    if is_pth(path):
        yield from _pth_findings(ctx, path, text, present)
    elif is_start_file(path):
        yield from _start_findings(ctx, path, text, present)
    else:
        yield from _customize_findings(ctx, path, data, present)
