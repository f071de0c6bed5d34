"""How entries are laid out in storage: bundles of 256, as C2SP tlog-tiles groups them.

Bundle k holds entries 256k to 256k + 255. Only the last bundle of a log is partial, and only it
is ever rewritten, as the last tile of each level is. A bundle is stored as three byte strings:
`body`, its entries one after another; `ends`, the offset in `body` where each entry ends, as
big-endian 32-bit integers; and `outside`, the positions (one byte each, ascending) of the entries
of LARGE bytes or more, which the store keeps in rows of their own and which take no bytes in
`body`. tlog-tiles prefixes each entry with a 16-bit length instead; ours may be longer than
64 KiB, and offsets find one entry without walking the ones before it.

One row per 256 entries rather than one per entry: most of what a database spends on a short row
is the row itself, so appends, scans and the bytes on disk all shrink (docs/adr/0008).

Pure functions: the store decides where the bytes live.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import accumulate, pairwise
from typing import NamedTuple, cast

WIDTH = 256
LARGE = 1 << 16
"""Entries of this many bytes or more live outside their bundle, so that a bundle's body stays
under 16 MiB: reading one entry never loads more, and 256 large entries never add up past
SQLite's limit on a single value."""
_END = struct.Struct(">I")


class BundleError(ValueError):
    """A stored bundle whose parts do not describe each other."""


class Bundle(NamedTuple):
    ends: bytes
    body: bytes
    outside: bytes


def is_large(entry: bytes) -> bool:
    return len(entry) >= LARGE


def encode(entries: Sequence[bytes | None]) -> Bundle:
    """The stored form of a bundle of `entries`; a large entry, or None (one already kept
    outside), is marked outside and takes no bytes in the body."""
    if len(entries) > WIDTH:
        raise ValueError(f"a bundle holds at most {WIDTH} entries, not {len(entries)}")
    try:
        lengths = list(map(len, cast("Sequence[bytes]", entries)))
    except TypeError:  # a None: an entry already kept outside
        lengths = [LARGE]
    if max(lengths, default=0) < LARGE:
        inside, outside = cast("Sequence[bytes]", entries), b""  # as nearly every bundle is
    else:
        inside = [b"" if e is None or is_large(e) else e for e in entries]
        outside = bytes(p for p, e in enumerate(entries) if e is None or is_large(e))
        lengths = list(map(len, inside))
    return Bundle(struct.pack(f">{len(lengths)}I", *accumulate(lengths)), b"".join(inside), outside)


def _ends(ends: bytes, body: bytes, width: int) -> tuple[int, ...]:
    _check_offsets(ends, width, len(body))
    offsets = struct.unpack(f">{width}I", ends)
    if any(a > b for a, b in pairwise(offsets)):
        raise BundleError("its entry offsets go backwards")
    return offsets


def _check_offsets(ends: bytes, width: int, body_size: int) -> None:
    """That a bundle has an offset for each of its entries, the last at its body's end."""
    if not 0 < width <= WIDTH or len(ends) != width * _END.size:
        raise BundleError(f"{len(ends)} bytes of offsets for {width} entries")
    last = _END.unpack_from(ends, (width - 1) * _END.size)[0]
    if last != body_size:
        raise BundleError(f"its entries end at byte {last} of a body of {body_size} bytes")


def decode(bundle: Bundle, width: int) -> list[bytes | None]:
    """The entries of a stored bundle, None where one is kept outside; BundleError if its parts do
    not fit together."""
    offsets = _ends(bundle.ends, bundle.body, width)
    entries: list[bytes | None] = [bundle.body[a:b] for a, b in pairwise((0, *offsets))]
    if bundle.outside:
        if any(a >= b for a, b in pairwise(bundle.outside)) or bundle.outside[-1] >= width:
            raise BundleError(f"its positions of entries kept outside are out of order or past {width}")
        for p in bundle.outside:
            if entries[p]:
                raise BundleError(f"entry {p} is kept outside but has bytes in the body")
            entries[p] = None
    return entries


def span(ends: bytes, width: int, position: int, body_size: int) -> tuple[int, int]:
    """Where entry `position` of a bundle with no entry kept outside lies in its body of
    `body_size` bytes: read from its offsets alone, so that one entry is read without the rest
    of the body (a bundle's body is 256 entries long). BundleError if the offsets around it do
    not fit the body; IndexError past the bundle's last entry."""
    _check_offsets(ends, width, body_size)
    if not 0 <= position < width:
        raise IndexError(position)
    start = _END.unpack_from(ends, (position - 1) * _END.size)[0] if position else 0
    end = _END.unpack_from(ends, position * _END.size)[0]
    if start > end:
        raise BundleError("its entry offsets go backwards")
    return start, end
