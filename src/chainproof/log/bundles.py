"""How entries are laid out in storage: bundles of 256, as C2SP tlog-tiles groups them.

Bundle k holds entries 256k to 256k + 255. Only the last bundle of a log is partial, and only it
is ever rewritten, as the last tile of each level is. A bundle is stored as two byte strings:
`body`, its entries one after another, and `ends`, the offset in `body` where each entry ends, as
big-endian 32-bit integers. tlog-tiles prefixes each entry with a 16-bit length instead; ours may
be longer than 64 KiB, and offsets find one entry without walking the ones before it.

One row per 256 entries rather than one per entry: most of what a database spends on a short row
is the row itself, so appends, scans and the bytes on disk all shrink (docs/adr/0008).

Pure functions: the store decides where the bytes live.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import accumulate, pairwise

WIDTH = 256
_END = struct.Struct(">I")
MAX_BODY = (1 << 32) - 1
"""The most bytes a bundle's entries can add up to, so that every end fits in 32 bits."""


class BundleError(ValueError):
    """A stored bundle whose offsets do not describe its body."""


def encode(entries: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(ends, body) of a bundle holding `entries`."""
    if len(entries) > WIDTH:
        raise ValueError(f"a bundle holds at most {WIDTH} entries, not {len(entries)}")
    ends = list(accumulate(map(len, entries)))
    if ends and ends[-1] > MAX_BODY:
        raise ValueError(f"a bundle's entries may add up to {MAX_BODY:,} bytes, not {ends[-1]:,}")
    return struct.pack(f">{len(ends)}I", *ends), b"".join(entries)


def _ends(ends: bytes, body: bytes, width: int) -> tuple[int, ...]:
    if not 0 < width <= WIDTH or len(ends) != width * _END.size:
        raise BundleError(f"{len(ends)} bytes of offsets for {width} entries")
    offsets = struct.unpack(f">{width}I", ends)
    if offsets[-1] != len(body):
        raise BundleError(f"its entries end at byte {offsets[-1]} of a body of {len(body)} bytes")
    if any(a > b for a, b in pairwise(offsets)):
        raise BundleError("its entry offsets go backwards")
    return offsets


def decode(ends: bytes, body: bytes, width: int) -> list[bytes]:
    """The entries of a stored bundle; BundleError if its parts do not fit together."""
    offsets = _ends(ends, body, width)
    return [body[a:b] for a, b in pairwise((0, *offsets))]
