"""A directory on disk as a FileTree (a site-packages directory), read without following links."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from chainproof.deps.files import CHUNK_BYTES, MAX_FILE_BYTES, TargetKind, TreeError


class DirectoryTree:
    def __init__(self, root: Path, kind: TargetKind = TargetKind.ENVIRONMENT) -> None:
        if not root.is_dir():
            raise TreeError(f"{root} is not a directory")
        self.root = root
        self._prefix = f"{root}{os.sep}"
        self._kind = kind
        self.errors: list[str] = []
        """Subdirectories that could not be listed, for the scan report."""
        self._files: dict[str, int] = {}
        self._links: list[tuple[str, str]] = []
        self._walk()

    @property
    def label(self) -> str:
        return str(self.root)

    @property
    def kind(self) -> TargetKind:
        return self._kind

    def _walk(self) -> None:
        pending = [""]
        while pending:
            rel = pending.pop()
            try:
                entries = list(os.scandir(self.root / rel))
            except OSError as e:
                self.errors.append(f"{rel or '.'}: cannot list ({e.strerror})")
                continue
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as e:
                    self.errors.append(f"{path}: cannot stat ({e.strerror})")
                    continue
                if stat.S_ISLNK(st.st_mode):
                    self._links.append((path, str(Path(entry.path).readlink())))
                elif stat.S_ISDIR(st.st_mode):
                    pending.append(path)
                elif stat.S_ISREG(st.st_mode):
                    self._files[path] = st.st_size

    def paths(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def size(self, path: str) -> int:
        return self._files[path]

    def _open(self, path: str, limit: int | None = None) -> int:
        """A descriptor on one of the tree's regular files, of at most `limit` bytes if given."""
        if path not in self._files:
            raise TreeError(f"{path}: not a regular file of {self.root}")
        if limit is not None and self._files[path] > limit:
            raise TreeError(f"{path}: {self._files[path]} bytes, over the {limit}-byte limit")
        try:
            # O_NOFOLLOW: a file swapped for a link since the walk is not followed either.
            return os.open(self._prefix + path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            raise TreeError(f"{path}: cannot read ({e.strerror})") from None

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        fd = self._open(path, limit)
        try:
            return _read_all(fd, self._files[path], limit)
        except OSError as e:
            raise TreeError(f"{path}: cannot read ({e.strerror})") from None
        finally:
            os.close(fd)

    def chunks(self, path: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The file's bytes in pieces of at most `size`, for files too large to `read` whole."""
        fd = self._open(path)
        try:
            while chunk := os.read(fd, size):
                yield chunk
        except OSError as e:
            raise TreeError(f"{path}: cannot read ({e.strerror})") from None
        finally:
            os.close(fd)

    def links(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self._links))


def _read_all(fd: int, expected: int, limit: int) -> bytes:
    """Up to `limit` bytes of an open regular file, in one read when it is still `expected` long.

    Plain reads on the descriptor: a scan reads tens of thousands of files, and a file object per
    read costs more than the read of most of them. A short read of a regular file is its end.
    """
    parts: list[bytes] = []
    left = limit + 1
    ask = min(expected + 1, left)
    while left > 0:
        chunk = os.read(fd, ask)
        parts.append(chunk)
        left -= len(chunk)
        if len(chunk) < ask:
            break
        ask = min(1 << 20, left)
    return b"".join(parts)[:limit]
