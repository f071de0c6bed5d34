"""`chainproof deps diff`: what a release can do that the one before it could not.

A compromised release is rarely a new package: it is the next version of a trusted one, with a
startup hook (LiteLLM 1.82.8's `litellm_init.pth`), a payload added to a module that runs on import
(LiteLLM 1.82.7's `litellm/proxy/proxy_server.py`), or a download-and-run added to code every user
imports (ultralytics 8.3.41's miner). Scanning the new release alone has to judge all of its code;
diffing it against the previous release only has to judge what changed, which is far smaller and
far more telling.

`diff_trees` compares two trees' capabilities (`capabilities.py`), file by file, and reports each
capability the new release has and the old one did not, each that now runs earlier (moved out of a
function to module level), and, as `info`, the ones removed or moved to another file. Files whose
bytes and context are the same in both releases are not analysed at all: their capabilities cannot
differ.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from rich.console import Console

from chainproof._internal.text import plural
from chainproof.deps.capabilities import (
    Capability,
    Kind,
    TreeView,
    When,
    is_metadata,
    plan,
    pyc_source,
    run_plans,
)
from chainproof.deps.files import FileTree, TreeError
from chainproof.deps.model import Finding, ScanResult, Severity
from chainproof.deps.report.json_report import finding_obj, severity_counts
from chainproof.deps.report.table import findings_table
from chainproof.deps.rules.base import FileRole
from chainproof.deps.rules.roles import classify, installed_path

RULE_STARTUP_HOOK = "diff-new-startup-hook"
RULE_BINARY = "diff-new-binary"
RULE_NETWORK = "diff-new-network"
RULE_PROCESS = "diff-new-process"
RULE_EXEC = "diff-new-exec"
RULE_CREDENTIALS = "diff-new-credential-access"
RULE_INSTALL_HOOK = "diff-new-install-hook"
RULE_UNANALYSED = "diff-unanalysed"
RULE_EARLIER = "diff-runs-earlier"
RULE_MOVED = "diff-moved-capability"
RULE_REMOVED = "diff-removed-capability"

_BASE = {When.STARTUP: Severity.CRITICAL, When.INSTALL: Severity.MEDIUM, When.IMPORT: Severity.HIGH}
"""A new process, network, exec or credential capability, by when it runs (else low)."""


@dataclass(frozen=True)
class DiffResult:
    name: str
    old_version: str
    new_version: str
    old_label: str
    new_label: str
    findings: tuple[Finding, ...]
    added_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    changed_files: tuple[str, ...]
    unchanged_files: int
    notes: tuple[str, ...] = ()
    """Caveats for a person (comparing a wheel with an sdist lines up fewer files)."""

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def at_or_above(self, level: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= level]


# --- lining up files -----------------------------------------------------------------------------


def _digest(tree: FileTree, path: str) -> str:
    try:
        return hashlib.sha256(tree.read(path)).hexdigest()
    except TreeError:
        # Too large to read: its capabilities come from its name alone, and so does this.
        return f"size:{tree.size(path)}"


def _context(view: TreeView, path: str) -> str:
    """What besides a file's bytes decides its capabilities: its role, whether a hook imports it."""
    role = classify(path, view.tree.kind)
    early = installed_path(path, view.tree.kind) in view.early
    extra = ",".join(sorted(view.present)) if role is FileRole.STARTUP_HOOK else ""
    if path.endswith((".pyc", ".pyo")):
        extra = str(pyc_source(path) in view.sources)
    return f"{role.value}|{early}|{extra}"


def _files(view: TreeView, only: Iterable[str] | None) -> dict[str, list[str]]:
    """Key path -> the tree's paths with that key (usually one), of `only` when given."""
    out: dict[str, list[str]] = {}
    for path in sorted(view.sources if only is None else view.sources & set(only)):
        out.setdefault(view.key(path), []).append(path)
    return out


def _signature(view: TreeView, paths: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((_digest(view.tree, p), _context(view, p)) for p in paths))


# --- grading -------------------------------------------------------------------------------------


def own_directories(name: str, keys: Iterable[str]) -> frozenset[str]:
    """Top-level directories that hold the package's Python code (and auditwheel's `<x>.libs`)."""
    tops = {k.split("/", 1)[0] for k in keys if "/" in k and k.endswith(".py")}
    tops.discard("<data>")
    owners = tops | {canonicalize_name(name).replace("-", "_")}
    libs = {f"{t}{suffix}" for t in owners for suffix in (".libs", ".dylibs")}
    return frozenset(tops | libs | {".dylibs"})


def _outside(cap: Capability, own: frozenset[str]) -> bool:
    top, sep, _ = cap.key_path.partition("/")
    return not sep or top not in own


def grade(cap: Capability, outside: bool = False) -> Severity:
    """How bad it is that a release gained this capability."""
    if cap.kind is Kind.STARTUP_HOOK:
        if cap.grade is not None:
            return cap.grade
        if cap.weak:
            return Severity.LOW
        return Severity.CRITICAL if cap.key_path.endswith("customize.py") else Severity.HIGH
    if cap.kind is Kind.BINARY:
        return Severity.HIGH if cap.strong or outside else Severity.MEDIUM
    if cap.kind is Kind.INSTALL_HOOK:
        return Severity.HIGH if cap.strong else Severity.MEDIUM
    if cap.kind is Kind.UNANALYSED:
        return Severity.MEDIUM if cap.when >= When.INSTALL else Severity.LOW
    if cap.weak:
        return Severity.MEDIUM if cap.when is When.STARTUP else Severity.LOW
    base = _BASE.get(cap.when, Severity.LOW)
    return base.raised() if cap.strong else base


_PHRASES = {
    Kind.PROCESS: "runs a process",
    Kind.NETWORK: "network",
    Kind.EXEC: "runs code built at run time",
    Kind.CREDENTIALS: "credential access",
    Kind.BINARY: "ships a binary",
    Kind.STARTUP_HOOK: "startup hook",
    Kind.INSTALL_HOOK: "install hook",
    Kind.UNANALYSED: "could not be analysed",
}


def describe(cap: Capability, outside: bool = False) -> str:
    text = f"{_PHRASES[cap.kind]}: {cap.detail}"
    if cap.kind is Kind.BINARY:
        if outside:
            text += " outside the package's own directories"
    elif cap.timed and cap.kind not in (Kind.STARTUP_HOOK, Kind.UNANALYSED):
        text += f" {cap.when}"
    if cap.note:
        text += f" ({cap.note})"
    return text


# --- comparing -----------------------------------------------------------------------------------


def _rank(cap: Capability) -> tuple[When, bool, int]:
    return (cap.when, cap.strong, -(cap.line or 0))


def _merged(caps: Iterable[Capability]) -> dict[tuple[str, str, str], Capability]:
    """One capability per key: the earliest-running, strongest occurrence in the file."""
    out: dict[tuple[str, str, str], Capability] = {}
    for cap in caps:
        seen = out.get(cap.key)
        if seen is None or _rank(cap) > _rank(seen):
            out[cap.key] = cap
    return out


@dataclass(frozen=True)
class _Side:
    version: str
    caps: Mapping[tuple[str, str, str], Capability]


_MOVABLE = frozenset({Kind.PROCESS, Kind.NETWORK, Kind.EXEC, Kind.CREDENTIALS})


def _move_key(cap: Capability) -> tuple[str, str, str]:
    return (cap.kind.value, cap.module, cap.detail)


def _findings(name: str, old: _Side, new: _Side, own: frozenset[str]) -> list[Finding]:
    removed = [c for k, c in old.caps.items() if k not in new.caps]
    # Only code moves: a binary's detail is its format, so a "moved" binary may be another binary.
    moved_from = {_move_key(c): c for c in removed if c.kind in _MOVABLE and c.module}
    moved: set[tuple[str, str, str]] = set()
    out: list[Finding] = []
    for key, cap in sorted(new.caps.items()):
        before = old.caps.get(key)
        origin = moved_from.get(_move_key(cap))
        if before is None and origin is not None and cap.when <= origin.when:
            moved.add(origin.key)
            out.append(_moved(name, new.version, cap, origin))
        elif before is None:
            out.append(_added(name, old.version, new.version, cap, _outside(cap, own)))
        elif cap.timed and cap.when > before.when and cap.when >= When.IMPORT:
            out.append(_earlier(name, old.version, new.version, cap, before))
    for cap in removed:
        if cap.key not in moved:
            out.append(_removed(name, old.version, new.version, cap))
    return out


_NEW_RULES = {
    Kind.STARTUP_HOOK: RULE_STARTUP_HOOK,
    Kind.BINARY: RULE_BINARY,
    Kind.NETWORK: RULE_NETWORK,
    Kind.PROCESS: RULE_PROCESS,
    Kind.EXEC: RULE_EXEC,
    Kind.CREDENTIALS: RULE_CREDENTIALS,
    Kind.INSTALL_HOOK: RULE_INSTALL_HOOK,
    Kind.UNANALYSED: RULE_UNANALYSED,
}


def _added(name: str, old: str, new: str, cap: Capability, outside: bool) -> Finding:
    message = f"new in {new}: {describe(cap, outside)}; {old} did not have it"
    return Finding(
        _NEW_RULES[cap.kind], grade(cap, outside), name, new, cap.path, cap.line, message, cap.evidence
    )


def _earlier(name: str, old: str, new: str, cap: Capability, before: Capability) -> Finding:
    message = f"{_PHRASES[cap.kind]}: {cap.detail} now runs {cap.when}; in {old} it ran {before.when}"
    return Finding(RULE_EARLIER, grade(cap), name, new, cap.path, cap.line, message, cap.evidence)


def _moved(name: str, new: str, cap: Capability, origin: Capability) -> Finding:
    message = f"{_PHRASES[cap.kind]}: {cap.detail} moved here from {origin.key_path}"
    return Finding(RULE_MOVED, Severity.INFO, name, new, cap.path, cap.line, message, cap.evidence)


def _removed(name: str, old: str, new: str, cap: Capability) -> Finding:
    was = f" (was {cap.when})" if cap.timed and cap.kind not in (Kind.BINARY, Kind.STARTUP_HOOK) else ""
    message = f"removed in {new}: {_PHRASES[cap.kind]}: {cap.detail}{was}"
    return Finding(RULE_REMOVED, Severity.INFO, name, old, cap.path, cap.line, message, cap.evidence)


def tree_version(tree: FileTree, only: Iterable[str] | None = None) -> str | None:
    """The `Version:` of a tree's METADATA (wheel) or PKG-INFO (sdist), read as text."""
    for path in tree.paths() if only is None else sorted(only):
        if path.count("/") == 1 and path.endswith((".dist-info/METADATA", "/PKG-INFO")):
            try:
                text = tree.read(path, 1024 * 1024).decode("utf-8", "replace")
            except TreeError:
                continue
            for line in text.splitlines():
                if line.lower().startswith("version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    return None


def _version(tree: FileTree, files: Mapping[str, list[str]], restricted: bool) -> str | None:
    return tree_version(tree, [p for ps in files.values() for p in ps] if restricted else None)


def diff_trees(
    name: str,
    old_tree: FileTree,
    new_tree: FileTree,
    *,
    old_version: str | None = None,
    new_version: str | None = None,
    old_paths: Iterable[str] | None = None,
    new_paths: Iterable[str] | None = None,
) -> DiffResult:
    """What `new_tree` (a release of `name`) can do that `old_tree` (an earlier one) could not.

    Versions default to the trees' own metadata. `old_paths`/`new_paths` restrict a side to some
    of its files: the RECORD of the installed distribution when `old_tree` is a whole
    site-packages directory. Only files that differ (in bytes or in context) are analysed.
    Nothing is imported, built or run.
    """
    old_view, new_view = TreeView.of(old_tree), TreeView.of(new_tree)
    old_files, new_files = _files(old_view, old_paths), _files(new_view, new_paths)
    added = sorted(k for k in new_files if k not in old_files)
    removed = sorted(k for k in old_files if k not in new_files)
    both = sorted(k for k in new_files if k in old_files)
    changed = [k for k in both if _signature(old_view, old_files[k]) != _signature(new_view, new_files[k])]
    old_read = [p for k in [*removed, *changed] for p in old_files[k]]
    new_read = [p for k in [*added, *changed] for p in new_files[k]]
    old_v = old_version or _version(old_tree, old_files, old_paths is not None) or "the old release"
    new_v = new_version or _version(new_tree, new_files, new_paths is not None) or "the new release"
    # Both sides in one batch: enough files to be worth the worker processes sooner.
    found = run_plans([plan(old_view, p) for p in old_read] + [plan(new_view, p) for p in new_read])
    old_side = _Side(old_v, _merged(c for caps in found[: len(old_read)] for c in caps))
    new_side = _Side(new_v, _merged(c for caps in found[len(old_read) :] for c in caps))
    own = own_directories(name, [*old_files, *new_files])
    findings = _findings(name, old_side, new_side, own)
    findings.sort(key=lambda f: (-f.severity, f.path, f.line or 0, f.rule, f.message))
    notes: list[str] = []
    if old_tree.kind is not new_tree.kind:
        notes.append(
            f"comparing a {old_tree.kind.value} with a {new_tree.kind.value}: files only one kind "
            "of archive holds (setup.py, build scripts) show up as added or removed"
        )

    def shown(keys: list[str]) -> tuple[str, ...]:
        return tuple(k for k in keys if not is_metadata(k))

    return DiffResult(
        name=name,
        old_version=old_v,
        new_version=new_v,
        old_label=old_tree.label,
        new_label=new_tree.label,
        findings=tuple(findings),
        added_files=shown(added),
        removed_files=shown(removed),
        changed_files=shown(changed),
        unchanged_files=len(shown(both)) - len(shown(changed)),
        notes=tuple(notes),
    )


# --- reports -------------------------------------------------------------------------------------


def summary_obj(result: DiffResult) -> dict[str, Any]:
    worst = result.worst()
    return {
        "old_artifact": result.old_label,
        "new_artifact": result.new_label,
        "files": {
            "added": len(result.added_files),
            "removed": len(result.removed_files),
            "changed": len(result.changed_files),
            "unchanged": result.unchanged_files,
        },
        "findings": len(result.findings),
        "by_severity": severity_counts(result.findings),
        "worst": None if worst is None else str(worst),
        "notes": list(result.notes),
    }


def report_obj(result: DiffResult) -> dict[str, Any]:
    """The JSON report: `{"name", "old", "new", "findings", "added_files", "removed_files",
    "changed_files", "summary"}`, findings as `deps scan --format json` writes them."""
    return {
        "name": result.name,
        "old": result.old_version,
        "new": result.new_version,
        "findings": [finding_obj(f) for f in result.findings],
        "added_files": list(result.added_files),
        "removed_files": list(result.removed_files),
        "changed_files": list(result.changed_files),
        "summary": summary_obj(result),
    }


def render_json(result: DiffResult) -> str:
    return json.dumps(report_obj(result), indent=2) + "\n"


def summary_line(result: DiffResult) -> str:
    """`litellm 1.82.6 -> 1.82.8: 1 file added, ... ; 3 findings (2 critical, 1 info)`."""
    counts = [(s, sum(f.severity is s for f in result.findings)) for s in sorted(Severity, reverse=True)]
    parts = ", ".join(f"{n} {s}" for s, n in counts if n)
    files = ", ".join(
        plural(n, "file") + f" {what}"
        for n, what in (
            (len(result.added_files), "added"),
            (len(result.removed_files), "removed"),
            (len(result.changed_files), "changed"),
        )
    )
    text = f"{result.name} {result.old_version} -> {result.new_version}: {files}; "
    text += plural(len(result.findings), "finding") + (f" ({parts})" if parts else "")
    return text


def render_table(result: DiffResult, color: bool = False, shown_files: int = 20) -> str:
    """The report for people: the summary, the findings table, and the files added and removed."""
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=color, no_color=not color, highlight=False)
    console.print(f"diff {result.old_label} -> {result.new_label}", markup=False)
    console.print(summary_line(result), markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.findings:
        scan = ScanResult(target=result.new_label, findings=list(result.findings))
        console.print(findings_table(scan))
    for title, files in (("added", result.added_files), ("removed", result.removed_files)):
        if files:
            listed = ", ".join(files[:shown_files])
            more = f" (and {len(files) - shown_files} more)" if len(files) > shown_files else ""
            console.print(f"files {title}: {listed}{more}", markup=False)
    return out.getvalue()
