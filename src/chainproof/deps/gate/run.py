"""The pre-install gate, end to end: resolve, check the index, download, scan, diff, decide, install.

Every step's facts become findings in one report; `policy.blocking` decides. Only when nothing
blocks are the exact files that were scanned installed, by hash, without an index.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof._internal.text import plural
from chainproof.deps import diff, scan
from chainproof.deps import index as idx
from chainproof.deps.files import TargetKind
from chainproof.deps.gate import pip
from chainproof.deps.gate.policy import (
    RULE_HASH_MISMATCH,
    Candidate,
    Policy,
    blocking,
    check_index_facts,
    integrity_finding,
    needs_build_finding,
    too_new_versions,
)
from chainproof.deps.model import Finding, ScanResult, Severity
from chainproof.deps.rules.hooks import hook_rules
from chainproof.deps.rules.names import IndexAnswer, dependency_confusion
from chainproof.deps.scan import sort_key
from chainproof.deps.targets.archive import open_archive
from chainproof.deps.targets.directory import DirectoryTree
from chainproof.deps.targets.environment import Environment, current_environment, environment_of_python
from chainproof.errors import ChainproofError, VerificationError

MAX_COOLDOWN_ROUNDS = 3
"""Re-resolutions that exclude too-new versions; dependencies of the older picks can bring more."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GateRequest:
    pip_args: Sequence[str]
    """Requirements and resolver options as pip takes them (`-r FILE`, `name>=1`, `-U`...)."""
    python: str = sys.executable
    index_url: str | None = idx.PYPI_SIMPLE
    """None: no index (pip's `--no-index`), so no file's age or yank state can be known."""
    extra_index_urls: Sequence[str] = ()
    min_age: timedelta = timedelta(days=7)
    fail_on: Severity = Severity.HIGH
    install: bool = False
    install_args: Sequence[str] = ()
    """Where and how to install (`--user`, `--target DIR`...), passed to the final install only."""
    fresh: bool = True
    """Resolve as for an empty environment (check everything), not only what would change."""
    diff: bool = True
    keep: Path | None = None
    """Keep the downloaded files here instead of a private temp dir removed afterwards."""
    now: datetime | None = None
    quiet: bool = False
    """Ask pip to say only what goes wrong while it installs (`pip install --quiet`)."""


@dataclass
class Artifact:
    candidate: Candidate
    listed: idx.IndexFile | None = None
    path: Path | None = None
    sha256: str | None = None
    previous: str | None = None
    """The version installed in the target environment, when this is an upgrade or downgrade."""


@dataclass
class GateResult:
    artifacts: list[Artifact] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    excluded: dict[str, list[str]] = field(default_factory=dict)
    """Versions left out of resolution for being inside the cooldown."""
    blocked: list[Finding] = field(default_factory=list)
    installed: bool = False
    unresolved: str = ""

    def scan_result(self, target: str) -> ScanResult:
        """The findings in a ScanResult, for the reporters the scan uses."""
        return ScanResult(
            target=target, findings=sorted(self.findings, key=sort_key), errors=list(self.errors)
        )


class _Indexes:
    """Project pages fetched once per run, from the main index and any extra ones."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(dict.fromkeys(urls))
        self._pages: dict[tuple[str, str], idx.Project | None] = {}

    def project(self, name: str, url: str | None = None) -> idx.Project | None:
        if not self.urls:
            return None
        key = (url or self.urls[0], str(canonicalize_name(name)))
        if key not in self._pages:
            self._pages[key] = idx.fetch_project(name, key[0])
        return self._pages[key]

    def listing(self, c: Candidate) -> idx.IndexFile | None:
        for url in self.urls:
            page = self.project(c.name, url)
            found = page.file(c.filename) if page else None
            if found is not None:
                return found
        return None


def run_gate(request: GateRequest, progress: Progress = lambda _: None) -> GateResult:
    pip.refuse_source_requirements(request.pip_args)
    target = _target_environment(request.python)
    if target is not None:
        _refuse_hooked_interpreter(request.python, target)
    policy = Policy(request.min_age, request.now or datetime.now(UTC))
    indexes = _Indexes([u for u in (request.index_url, *request.extra_index_urls) if u])
    work = Path(tempfile.mkdtemp(prefix="chainproof-gate-"))
    try:
        result = GateResult()
        candidates = _resolve(request, policy, indexes, work, result=result, progress=progress)
        if candidates is None:
            return _finish(result, request)
        installed = _installed_versions(target) if target is not None else {}
        result.artifacts = [
            Artifact(c, indexes.listing(c), previous=_previous(c, installed)) for c in candidates
        ]
        for a in result.artifacts:
            result.findings += check_index_facts(a.candidate, a.listed, policy)
        result.findings += _confusion(result.artifacts, indexes)
        store = request.keep or work / "files"
        store.mkdir(parents=True, exist_ok=True)
        _download_all(result, store, progress)
        _scan_all(result, progress)
        if request.diff:
            _diff_upgrades(result, indexes, work / "previous", progress)
        _finish(result, request)
        if request.install and not result.blocked:
            _install(result, request, work, progress)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _target_environment(python: str) -> Environment | None:
    """The target interpreter's site-packages, found without starting it normally; None when it is
    not an environment chainproof can read (pip's own error will then say why)."""
    try:
        return current_environment() if python == sys.executable else environment_of_python(python)
    except ChainproofError:
        return None


def _refuse_hooked_interpreter(python: str, env: Environment) -> None:
    """pip runs in the target interpreter, and a normal start runs every `.pth` hook of its
    environment: look at those hooks first (without starting it) and refuse a compromised one."""
    for site in env.site_dirs:
        hooks = scan.scan_tree(DirectoryTree(site, TargetKind.ENVIRONMENT), rules=[hook_rules])
        bad = hooks.at_or_above(Severity.HIGH)
        if bad:
            raise VerificationError(
                f"refusing to start {python}: its environment has a startup hook that would run with "
                f"pip ({bad[0].path}: {bad[0].message}); see `chainproof deps scan --python {python}`"
            )


def _finish(result: GateResult, request: GateRequest) -> GateResult:
    result.blocked = blocking(result.findings, request.fail_on)
    return result


def _pip_args(request: GateRequest) -> list[str]:
    args = ["--index-url", request.index_url] if request.index_url else ["--no-index"]
    for url in request.extra_index_urls:
        args += ["--extra-index-url", url]
    return [*args, *request.pip_args]


def _resolve(
    request: GateRequest,
    policy: Policy,
    indexes: _Indexes,
    work: Path,
    *,
    result: GateResult,
    progress: Progress,
) -> list[Candidate] | None:
    """pip's picks, re-resolved without versions inside the cooldown while older ones exist."""
    constraints = work / "cooldown-constraints.txt"
    constraints.write_text("")
    chosen: list[Candidate] | None = None
    for round_ in range(MAX_COOLDOWN_ROUNDS + 1):
        progress(
            "resolving (wheels only)"
            if round_ == 0
            else "resolving again without versions inside the cooldown"
        )
        try:
            found = pip.resolve(
                request.python, _pip_args(request), work / "report.json", constraints, request.fresh
            )
        except pip.ResolveError:
            if chosen is None:
                raise
            found = pip.Resolution(unresolved=["(cooldown)"])
        if found.unresolved and chosen is not None:
            return chosen  # the exclusions left no solution (a pin inside the cooldown): report the picks
        if found.unresolved:
            result.unresolved = found.message
            where = request.index_url or "the --find-links sources"
            result.findings += [needs_build_finding(n, indexes.project(n), where) for n in found.unresolved]
            return None
        chosen = found.candidates
        if (
            not request.min_age
            or round_ == MAX_COOLDOWN_ROUNDS
            or not _exclude_too_new(chosen, policy, indexes, result)
        ):
            return chosen
        constraints.write_text(
            "".join(f"{name}!={v}\n" for name, versions in result.excluded.items() for v in versions)
        )
    return chosen


def _exclude_too_new(
    chosen: Sequence[Candidate], policy: Policy, indexes: _Indexes, result: GateResult
) -> bool:
    """Add each too-new pick's too-new versions to the exclusions; whether any were new."""
    added = False
    for c in chosen:
        listed = indexes.listing(c)
        if listed is None or listed.upload_time is None or policy.now - listed.upload_time >= policy.min_age:
            continue
        project = indexes.project(c.name)
        versions = too_new_versions(project, policy) if project else []
        known = result.excluded.setdefault(c.key, [])
        fresh = [v for v in versions if v not in known]
        known += fresh
        added = added or bool(fresh)
    return added


def _previous(c: Candidate, installed: dict[str, str]) -> str | None:
    version = installed.get(c.key)
    return version if version is not None and version != c.version else None


def _installed_versions(env: Environment) -> dict[str, str]:
    """Name -> version of what the target environment has, from its `*.dist-info` directory names."""
    versions: dict[str, str] = {}
    for site in env.site_dirs:
        for meta in site.glob("*.dist-info"):
            name, sep, version = meta.name.removesuffix(".dist-info").partition("-")
            if sep:
                versions[str(canonicalize_name(name))] = version
    return versions


def _confusion(artifacts: Sequence[Artifact], indexes: _Indexes) -> list[Finding]:
    """Projects served by more than one of the configured indexes: the private one (any but PyPI)
    against the public one (PyPI when configured, else the next index that has it)."""
    if len(indexes.urls) < 2:
        return []
    found: list[Finding] = []
    for a in artifacts:
        present = [
            IndexAnswer(url, page.versions())
            for url in indexes.urls
            if (page := indexes.project(a.candidate.name, url)) is not None and page.files
        ]
        if len(present) < 2:
            continue
        present.sort(key=lambda ans: _is_pypi(ans.index))
        finding = dependency_confusion(a.candidate.name, present[0], present[-1])
        if finding is not None:
            found.append(finding)
    return found


def _is_pypi(url: str) -> bool:
    return url.rstrip("/") == idx.PYPI_SIMPLE.rstrip("/")


def _download_all(result: GateResult, store: Path, progress: Progress) -> None:
    for n, a in enumerate(result.artifacts, 1):
        c = a.candidate
        progress(f"downloading {n}/{len(result.artifacts)}: {c.filename}")
        expected = a.listed.sha256 if a.listed is not None and a.listed.sha256 else c.sha256
        try:
            a.path = idx.download(c.url, store, c.filename, expected)
        except idx.IntegrityError as e:
            result.findings.append(
                Finding(RULE_HASH_MISMATCH, Severity.CRITICAL, c.name, c.version, c.filename, None, str(e))
            )
            continue
        except ChainproofError as e:
            result.errors.append(str(e))
            continue
        a.sha256 = _sha256(a.path)
        mismatch = integrity_finding(c, a.sha256)
        if mismatch is not None:
            result.findings.append(mismatch)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _scan_all(result: GateResult, progress: Progress) -> None:
    for n, a in enumerate(result.artifacts, 1):
        if a.path is None:
            continue
        progress(f"scanning {n}/{len(result.artifacts)}: {a.path.name}")
        scanned = scan.scan_archive(a.path)
        result.findings += scanned.findings
        result.errors += scanned.errors


def _diff_upgrades(result: GateResult, indexes: _Indexes, store: Path, progress: Progress) -> None:
    """For each upgrade, what the new release can do that the installed one could not."""
    for a in result.artifacts:
        if a.previous is None or a.path is None:
            continue
        project = indexes.project(a.candidate.name)
        old = idx.best_file(project.release(a.previous)) if project else None
        if old is None:
            result.errors.append(f"{a.candidate.name}: installed {a.previous} is not on the index; no diff")
            continue
        progress(f"comparing {a.candidate.name} {a.previous} -> {a.candidate.version}")
        store.mkdir(parents=True, exist_ok=True)
        try:
            old_path = idx.download(old.url, store, old.filename, old.sha256)
        except ChainproofError as e:
            result.errors.append(f"{a.candidate.name} {a.previous}: {e}")
            continue
        compared = diff.diff_trees(a.candidate.name, open_archive(old_path), open_archive(a.path))
        result.findings += compared.findings


def _install(result: GateResult, request: GateRequest, work: Path, progress: Progress) -> None:
    files = [(a.path, a.sha256) for a in result.artifacts if a.path is not None and a.sha256 is not None]
    if len(files) < len(result.artifacts):
        result.errors.append("not installing: some files could not be downloaded")
        return
    if not files:
        result.installed = True
        return
    pinned = work / "gated-requirements.txt"
    pinned.write_text(pip.pinned_requirements(files))
    progress(f"installing {plural(len(files), 'gated file')} with --no-index --require-hashes")
    pip.install(request.python, pinned, request.install_args, quiet=request.quiet)
    result.installed = True
