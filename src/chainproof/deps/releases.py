"""The two releases `deps diff` compares: each an archive on disk, or a version downloaded from the
index into a private directory that is gone once both are read.

Nothing downloaded is imported, built or run: archives are read into memory (`open_archive`) and
compared by `diff.diff_trees`.
"""

from __future__ import annotations

import dataclasses
import importlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainproof.deps.diff import DiffResult, diff_trees
from chainproof.deps.targets.archive import open_archive
from chainproof.errors import UsageError

_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


@dataclass(frozen=True, kw_only=True)
class ReleaseDiff:
    """A diff of two releases, and what a person should be told beside the report."""

    result: DiffResult
    warnings: tuple[str, ...] = ()
    """A release that declares another project's name than the one asked for (not a finding: the
    report is about the files, whatever they call themselves)."""


def looks_like_path(text: str) -> bool:
    """Whether `text` names a file rather than a version: it has a separator or an archive suffix."""
    return "/" in text or "\\" in text or text.lower().endswith(_ARCHIVE_SUFFIXES)


def resolve(name: str, spec: str, which: str, workdir: Path, index_url: str | None) -> tuple[Path, str]:
    """The archive that `spec` names (an existing file, or release `spec` of `name` downloaded
    into `workdir`), and how the report calls it. `which` (OLD, NEW) names `spec` in errors."""
    path = Path(spec)
    if path.is_dir():
        raise UsageError(f"{which} {spec}: a directory; give a wheel, an sdist or a version")
    if path.exists():
        return path, spec
    if looks_like_path(spec):
        raise UsageError(f"{which} {spec}: no such file")
    try:
        Version(spec)
    except InvalidVersion:
        raise UsageError(f"{which} {spec!r} is neither an existing wheel or sdist nor a version") from None
    target = workdir / which.lower()
    target.mkdir()
    downloaded = _download(name, spec, target, index_url)
    return downloaded, f"{downloaded.name} (from {index_url or 'the index'})"


def _download(name: str, version: str, dest: Path, index_url: str | None) -> Path:
    # Imported here: diffing two local archives never needs the index client.
    try:
        index = importlib.import_module("chainproof.deps.index")
    except ModuleNotFoundError as e:
        if e.name != "chainproof.deps.index":
            raise
        raise UsageError("downloading releases is not available in this build; give archive paths") from None
    path: Path = index.download_release(name, version, dest, index_url)
    return path


def _name_warning(name: str, declared: tuple[str, str] | None, which: str) -> str | None:
    if declared is not None and canonicalize_name(declared[0]) != canonicalize_name(name):
        return f"{which} is a release of {declared[0]!r}, not {name!r}"
    return None


def diff_releases(name: str, old: str, new: str, *, index_url: str | None = None) -> ReleaseDiff:
    """What release `new` of `name` can do that `old` could not; each a wheel or sdist path, or a
    version downloaded from `index_url` (default: the index pip would use)."""
    workdir = Path(tempfile.mkdtemp(prefix="chainproof-diff-"))
    try:
        old_path, old_label = resolve(name, old, "OLD", workdir, index_url)
        new_path, new_label = resolve(name, new, "NEW", workdir, index_url)
        old_tree, new_tree = open_archive(old_path), open_archive(new_path)
    finally:
        # The archives are read into memory when opened; nothing downloaded outlives the call.
        shutil.rmtree(workdir, ignore_errors=True)
    warnings = (_name_warning(name, old_tree.declared, "OLD"), _name_warning(name, new_tree.declared, "NEW"))
    result = diff_trees(
        name,
        old_tree,
        new_tree,
        old_version=old_tree.declared[1] if old_tree.declared else None,
        new_version=new_tree.declared[1] if new_tree.declared else None,
    )
    return ReleaseDiff(
        result=dataclasses.replace(result, old_label=old_label, new_label=new_label),
        warnings=tuple(w for w in warnings if w is not None),
    )
