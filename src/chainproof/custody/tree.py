"""Reading a dataset from disk: walk a tree, hash its files (`hashing`), build its manifest.

The I/O side of `chainproof.custody.manifests`. A walk records regular files and symbolic links,
never follows a link (a link to a directory is not descended, one pointing outside the tree is
recorded as it is), and refuses what it cannot hash faithfully, with a one-line `DatasetError`
naming the path: an unreadable file or directory, a fifo, socket or device (reading a fifo would
hang), a name that is not valid UTF-8, a symlink loop, a directory reached twice (a bind mount of
an ancestor), and a file that changes while it is hashed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from chainproof.custody.hashing import (
    CHUNK,
    DatasetError,
    Found,
    ProgressCallback,
    hash_files,
    hash_found,
    shown,
)
from chainproof.custody.manifests import (
    EntryKind,
    FileEntry,
    FileProof,
    Manifest,
    ManifestError,
    format_digest,
    parse_digest,
    verify_entry,
)

# -- the walk --------------------------------------------------------------------------------


def _checked_name(top: str, rel: str) -> str:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(
            f"{shown(str(Path(top, rel)))}: the name is not valid UTF-8 (manifest paths are UTF-8)"
        ) from None
    return rel


def _kind_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _symlink(top: str, rel: str, abspath: str) -> FileEntry:
    """A link's entry, from its text alone. The link is resolved only to tell a loop (ELOOP), which
    is refused, from a dangling link or one leading outside the tree, which are recorded."""
    where = shown(str(Path(top, rel)))
    try:
        target = os.readlink(abspath)  # noqa: PTH115 -- Path.readlink normalises the text ("a//b/")
    except OSError as e:
        raise DatasetError(f"{where}: cannot read the link: {e.strerror}") from None
    try:
        Path(abspath).stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DatasetError(f"{where}: a symlink loop") from None
    try:
        return FileEntry.symlink(path=rel, target=target)
    except ManifestError:
        raise DatasetError(f"{where}: the link's target is not valid UTF-8") from None


def _scan_dir(absdir: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(absdir) as it:
            return list(it)
    except OSError as e:
        raise DatasetError(f"{shown(absdir)}: cannot read the directory: {e.strerror}") from None


def walk(top: str) -> tuple[list[Found], list[FileEntry]]:
    """The regular files under directory `top` (to hash) and its symlinks' entries.

    Iterative, so that depth is bounded by memory, not by the interpreter's recursion limit.
    """
    root_st = Path(top).stat()
    seen = {(root_st.st_dev, root_st.st_ino)}
    files: list[Found] = []
    links: list[FileEntry] = []
    stack = [("", top)]
    while stack:
        prefix, absdir = stack.pop()
        for entry in _scan_dir(absdir):
            rel = _checked_name(top, prefix + entry.name)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                raise DatasetError(f"{shown(entry.path)}: cannot stat: {e.strerror}") from None
            mode = st.st_mode
            if stat.S_ISREG(mode):
                files.append(Found(rel, entry.path, st.st_size, st.st_dev, st.st_ino, st.st_mtime_ns))
            elif stat.S_ISDIR(mode):
                if (st.st_dev, st.st_ino) in seen:
                    raise DatasetError(f"{shown(entry.path)}: a directory reached twice (a loop in the tree)")
                seen.add((st.st_dev, st.st_ino))
                stack.append((rel + "/", entry.path))
            elif stat.S_ISLNK(mode):
                links.append(_symlink(top, rel, entry.path))
            else:
                raise DatasetError(
                    f"{shown(entry.path)}: {_kind_name(mode)}, not a regular file, directory or symlink"
                )
    return files, links


# -- the public entry points -----------------------------------------------------------------


def _stat_top(path: Path) -> os.stat_result:
    """The dataset's own path is followed when it is a link: the user named it."""
    try:
        return path.stat()
    except FileNotFoundError:
        raise DatasetError(f"{shown(str(path))}: no such file or directory") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DatasetError(f"{shown(str(path))}: a symlink loop") from None
        raise DatasetError(f"{shown(str(path))}: cannot read: {e.strerror}") from None


def _found_top(path: Path, st: os.stat_result, name: str) -> Found:
    # The top path may be a link; open it through the link, as the user named it.
    real = os.path.realpath(path)
    return Found(name, real, st.st_size, st.st_dev, st.st_ino, st.st_mtime_ns)


def build(
    path: str | Path, *, jobs: int | None = None, on_progress: ProgressCallback | None = None
) -> Manifest:
    """The manifest of a directory (every file under it) or of one file (one entry, its name).

    `jobs` threads hash the files (default: every core); `on_progress(done_bytes, total_bytes)`
    reports progress. DatasetError (a UsageError) names the first path that cannot be hashed.
    """
    top = Path(path)
    st = _stat_top(top)
    if stat.S_ISREG(st.st_mode):
        files: list[Found]
        links: list[FileEntry]
        files, links = [_found_top(top, st, _checked_name(str(top.parent), top.name))], []
    elif stat.S_ISDIR(st.st_mode):
        files, links = walk(str(top))
    else:
        raise DatasetError(f"{shown(str(top))}: {_kind_name(st.st_mode)}, not a file or directory")
    digests = hash_files(files, jobs=jobs, on_progress=on_progress)
    entries = [FileEntry(path=f.path, size=f.size, sha256=d) for f, d in zip(files, digests, strict=True)]
    return Manifest.of(entries + links)


def file_sha256(path: str | Path) -> tuple[int, bytes]:
    """The size and SHA-256 of one file (through a link, if `path` is one), streamed."""
    top = Path(path)
    st = _stat_top(top)
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"{shown(str(top))}: not a regular file")
    found = _found_top(top, st, top.name)
    return found.size, hash_found(found, bytearray(CHUNK))


def artifact_digest(path: str | Path, *, jobs: int | None = None) -> str:
    """`sha256:<hex>` naming an artifact: a file's own SHA-256 (what `sha256sum` prints), a
    directory's manifest root."""
    top = Path(path)
    if stat.S_ISDIR(_stat_top(top).st_mode):
        return build(top, jobs=jobs).digest
    return format_digest(file_sha256(top)[1])


def load(
    path: str | Path, *, jobs: int | None = None, on_progress: ProgressCallback | None = None
) -> Manifest:
    """A directory's manifest, built; or a manifest JSON file, read and checked (`from_json`)."""
    top = Path(path)
    if stat.S_ISDIR(_stat_top(top).st_mode):
        return build(top, jobs=jobs, on_progress=on_progress)
    try:
        data = top.read_bytes()
    except OSError as e:
        raise DatasetError(f"{shown(str(top))}: cannot read: {e.strerror}") from None
    return Manifest.loads(data, shown(str(top)))


def entry_for(source: bytes | str | Path, *, path: str, kind: EntryKind = EntryKind.FILE) -> FileEntry:
    """The entry `source` would have at `path`: bytes as a file's content; a file on disk read
    (streamed), or for a symlink entry its link text read."""
    if isinstance(source, bytes):
        return FileEntry(path=path, size=len(source), sha256=hashlib.sha256(source).digest())
    if kind is EntryKind.SYMLINK:
        try:
            return FileEntry.symlink(path=path, target=os.readlink(source))  # noqa: PTH115 -- as in _symlink
        except OSError as e:
            raise DatasetError(f"{shown(str(source))}: cannot read the link: {e.strerror}") from None
    size, digest = file_sha256(source)
    return FileEntry(path=path, size=size, sha256=digest)


def verify_file(
    source: bytes | str | Path, *, path: str | None = None, proof: FileProof, root: bytes | str
) -> FileEntry:
    """Raise FileProofError unless `source` (bytes, or a file read from disk) is the file at
    `path` (default: the path the proof names) in the dataset named by `root` (`sha256:<hex>` or
    32 bytes); return its entry. Only `root` is trusted; the proof is checked against it."""
    anchor = root if isinstance(root, bytes) else parse_digest(root, "the root", bare_ok=True)
    entry = entry_for(source, path=path if path is not None else proof.entry.path, kind=proof.entry.kind)
    verify_entry(entry, proof=proof, root=anchor)
    return entry
