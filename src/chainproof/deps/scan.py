"""A scan: target -> trees -> inventory -> every registered rule -> one sorted `ScanResult`.

This is the only place that wires the parts together; each part stays testable on its own. A rule
that fails on one file is recorded as an error of the scan, never allowed to stop the other rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from functools import partial
from itertools import islice
from pathlib import Path

from chainproof.deps.advisories import sources
from chainproof.deps.files import FileTree, TargetKind, TreeError
from chainproof.deps.inventory import read_inventory
from chainproof.deps.model import Finding, ScanResult, Severity
from chainproof.deps.rules import registry
from chainproof.deps.rules.base import Rule, ScanContext
from chainproof.deps.rules.parallel import MIN_PARALLEL_ITEMS, Beside, map_items
from chainproof.deps.targets import locks
from chainproof.deps.targets.archive import PROBLEM_RULE, ArchiveTree, archive_kind, open_archive
from chainproof.deps.targets.directory import DirectoryTree
from chainproof.deps.targets.environment import (
    Environment,
    current_environment,
    environment_of_directory,
    environment_of_python,
)
from chainproof.deps.watch import Watch, unwatched
from chainproof.errors import UsageError


def sort_key(finding: Finding) -> tuple[int, str, int, str]:
    return (-finding.severity, finding.path, finding.line or 0, finding.rule)


def _rule_name(rule: Rule) -> str:
    return getattr(rule, "__name__", type(rule).__name__)


def run_rules(
    ctx: ScanContext, rules: Iterable[Rule], beside: Collection[Rule] = frozenset()
) -> tuple[list[Finding], list[str]]:
    """Findings of every rule, and one error line for each rule that stopped early, in rule order.

    Rules in `beside` run one after another in a forked child process while the others run here.
    """
    ordered = list(rules)
    aside = [i for i, r in enumerate(ordered) if r in beside]
    child = Beside(partial(_run_each, ctx, [ordered[i] for i in aside])) if aside else None
    done = {i: _run_rule(ctx, r) for i, r in enumerate(ordered) if i not in aside}
    if child is not None:
        done.update(zip(aside, child.result(), strict=True))
    findings: list[Finding] = []
    errors: list[str] = []
    for i in range(len(ordered)):
        found, error = done[i]
        findings += found
        errors += error
    return findings, errors


def _run_each(ctx: ScanContext, rules: list[Rule]) -> list[tuple[list[Finding], list[str]]]:
    return [_run_rule(ctx, r) for r in rules]


def _run_rule(ctx: ScanContext, rule: Rule) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    try:
        findings.extend(rule(ctx))
    except TreeError as e:
        return findings, [f"{ctx.tree.label}: {_rule_name(rule)}: {e}"]
    except Exception as e:  # noqa: BLE001 - reported as the scan's error, whatever it is
        # A defect in one rule on hostile input must not hide what the others find: what the rule
        # found before it stopped is kept, and the scan goes on with the next rule.
        return findings, [f"{ctx.tree.label}: {_rule_name(rule)} failed: {type(e).__name__}: {e}"[:300]]
    return findings, []


def scan_tree(
    tree: FileTree,
    rules: Iterable[Rule] | None = None,
    fallback: tuple[str, str] | None = None,
    *,
    watch: Watch = unwatched,
) -> ScanResult:
    """Inventory and every rule over one tree; `watch` is shown the files the code rules analyse."""
    if rules is None:
        rules = registry.RULES
    inventory = read_inventory(tree, fallback)
    ctx = ScanContext(tree, inventory.distributions, inventory.owners, watch)
    findings, errors = run_rules(ctx, rules, registry.BESIDE if _large_environment(tree) else ())
    result = ScanResult(target=tree.label, packages=list(inventory.distributions))
    result.findings = [*inventory.findings, *findings]
    result.errors = [*getattr(tree, "errors", ()), *inventory.errors, *errors]
    result.findings.sort(key=sort_key)
    return result


def _large_environment(tree: FileTree) -> bool:
    """Worth a child process for the rules that run beside: an installed tree of many files."""
    return tree.kind is TargetKind.ENVIRONMENT and len(list(islice(tree.paths(), MIN_PARALLEL_ITEMS))) >= (
        MIN_PARALLEL_ITEMS
    )


def _archive_findings(tree: ArchiveTree) -> list[Finding]:
    name, version = tree.declared if tree.declared else (None, None)
    return [Finding(PROBLEM_RULE, p.severity, name, version, p.path, None, p.message) for p in tree.problems]


def scan_archive(path: Path, *, watch: Watch = unwatched) -> ScanResult:
    tree = open_archive(path)
    result = scan_tree(tree, fallback=tree.declared, watch=watch)
    result.findings = sorted([*result.findings, *_archive_findings(tree)], key=sort_key)
    return result


def scan_environment(env: Environment, *, watch: Watch = unwatched) -> ScanResult:
    parts = [scan_tree(DirectoryTree(site, TargetKind.ENVIRONMENT), watch=watch) for site in env.site_dirs]
    return combine(parts, env.label)


def scan(target: str | Path, *, watch: Watch = unwatched) -> ScanResult:
    """Scan one target: a venv, a site-packages directory, a wheel, an sdist, or a lock file; the
    result names the advisory sources it was matched against."""
    return _with_sources(_scan(target, watch=watch))


def _with_sources(result: ScanResult) -> ScanResult:
    result.advisory_sources, result.notes = sources.describe(sources.releases_of(result))
    return result


def _scan(target: str | Path, *, watch: Watch) -> ScanResult:
    path = Path(target)
    if path.is_dir():
        return scan_environment(environment_of_directory(path), watch=watch)
    if not path.exists():
        raise UsageError(f"{target}: no such file or directory")
    if archive_kind(path) is not None:
        return scan_archive(path, watch=watch)
    if locks.is_lockfile(path):
        return locks.scan_lockfile(path)
    raise UsageError(f"{target}: not a directory, wheel, sdist, lock or requirements file")


def _scan_archive_item(path: Path) -> list[ScanResult]:
    return [scan_archive(path)]


def _file_size(path: Path) -> int:
    return path.stat().st_size


def scan_targets(targets: Sequence[str | Path], *, watch: Watch = unwatched) -> list[ScanResult]:
    """`scan` of each target, in order. Several archives (a download directory's wheels) are
    scanned side by side in worker processes, one archive per task: most are too small to spread
    their own files over the cores. `watch` is shown those archives, or each target's files."""
    paths = [Path(t) for t in targets]
    archives = [i for i, p in enumerate(paths) if p.is_file() and archive_kind(p) is not None]
    results: dict[int, ScanResult] = {}
    if len(archives) >= 2:
        items = [paths[i] for i in archives]
        scanned = map_items(_scan_archive_item, items, _file_size, min_items=2)
        for i, found in zip(archives, watch(scanned, len(items), f"{len(items)} archives"), strict=True):
            results[i] = found[0]
    return [results[i] if i in results else scan(p, watch=watch) for i, p in enumerate(paths)]


def scan_python(exe: str | None, *, watch: Watch = unwatched) -> ScanResult:
    """The environment of interpreter `exe`, or of the running interpreter."""
    env = current_environment() if exe is None else environment_of_python(exe)
    return scan_environment(env, watch=watch)


def scan_all(
    targets: Sequence[str | Path], *, python: str | None = None, watch: Watch = unwatched
) -> ScanResult:
    """`targets` as one report, as `deps scan` gives it: with interpreter `python`'s environment
    first when one is named, and with no target the environment of `python` (by default the
    running interpreter) alone."""
    results = scan_targets(targets, watch=watch)
    if python is not None or not targets:
        results.insert(0, scan_python(python, watch=watch))
    return results[0] if len(results) == 1 else combine(results)


def combine(results: Sequence[ScanResult], target: str | None = None) -> ScanResult:
    """Several scans as one report: packages, findings and errors together, findings re-sorted."""
    combined = ScanResult(target=target if target is not None else ", ".join(r.target for r in results))
    for r in results:
        combined.packages += r.packages
        combined.requirements += r.requirements
        combined.findings += r.findings
        combined.errors += r.errors
    combined.findings.sort(key=sort_key)
    return _with_sources(combined)


def fails(result: ScanResult, level: Severity) -> bool:
    return bool(result.at_or_above(level))
