"""What a scan reads: a tree of files (a site-packages directory, a wheel, an sdist), read-only.

Every target is turned into a `FileTree`; rules see nothing else, so no rule can import, build or
execute what it scans. Trees never follow symbolic links and bound what they read.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Protocol

from chainproof.errors import ChainproofError

MAX_FILE_BYTES = 32 * 1024 * 1024
"""The most a rule reads of one file; larger files are reported, not read."""
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
"""The most an archive may expand to, in total (zip bombs stop here)."""
MAX_ARCHIVE_MEMBERS = 100_000
CHUNK_BYTES = 1024 * 1024
"""The piece size of a file read in a stream (`read_chunks`)."""
MAX_STREAM_BYTES = MAX_ARCHIVE_BYTES
"""The most of one file read in a stream: as much as a whole archive may hold."""


class TreeError(ChainproofError):
    """A target could not be read: corrupt or hostile archive, unreadable directory, over a limit."""


class TargetKind(enum.Enum):
    ENVIRONMENT = "environment"
    """An installed site-packages directory (of a venv or an interpreter)."""
    WHEEL = "wheel"
    SDIST = "sdist"


class FileTree(Protocol):
    @property
    def label(self) -> str:
        """What was scanned, for messages and reports (a path)."""

    @property
    def kind(self) -> TargetKind: ...

    def paths(self) -> Iterator[str]:
        """Every regular file, as a `/`-separated path relative to the root, in sorted order."""

    def size(self, path: str) -> int: ...

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The file's bytes; raise TreeError when it is larger than `limit` or unreadable."""

    def links(self) -> Iterator[tuple[str, str]]:
        """Symbolic links in the tree, as (path, target); never followed."""


def read_chunks(tree: FileTree, path: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """A file of any length in pieces, stopping after `MAX_STREAM_BYTES`: how a file too large to
    `read` whole is still searched. Trees that can stream (`chunks`) do; others are read whole."""
    chunks = getattr(tree, "chunks", None)
    if chunks is None:
        data = tree.read(path, MAX_STREAM_BYTES)
        source: Iterator[bytes] = (data[i : i + size] for i in range(0, len(data), size))
    else:
        source = chunks(path, size)
    left = MAX_STREAM_BYTES
    for chunk in source:
        yield chunk[:left]
        left -= len(chunk)
        if left <= 0:
            return
