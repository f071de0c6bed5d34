"""Independent references for the manifest tests: imports nothing from chainproof.

- `mth`: RFC 9162 section 2.1's Merkle Tree Hash, transcribed as the recursion it is;
- `path`: its audit path PATH(m, D[n]), the same way;
- `leaf`: an entry's leaf encoding built with the `rfc8785` package from the documented object;
- `manifest_of`: a directory's manifest from `os.walk`, `hashlib` and `os.readlink`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import rfc8785


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf data."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = _split(len(leaves))
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), leaf end first."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def entry_object(rel: str, data: bytes, target: str | None = None) -> dict[str, object]:
    obj: dict[str, object] = {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if target is not None:
        obj |= {"type": "symlink", "target": target}
    return obj


def leaf(obj: dict[str, object]) -> bytes:
    encoded: bytes = rfc8785.dumps(obj)
    return encoded


def manifest_of(top: Path) -> tuple[list[dict[str, object]], bytes]:
    """The entries (sorted by UTF-8 path bytes) and root of directory `top`, the slow way."""
    entries: list[dict[str, object]] = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / name
            rel = full.relative_to(top).as_posix()
            if full.is_symlink():
                text = os.readlink(full)  # noqa: PTH115 -- the text as stored, not normalised
                entries.append(entry_object(rel, text.encode(), text))
            else:
                entries.append(entry_object(rel, full.read_bytes()))
    entries.sort(key=lambda e: str(e["path"]).encode("utf-8"))
    return entries, mth([leaf(e) for e in entries])
