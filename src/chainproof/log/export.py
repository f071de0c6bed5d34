"""The export file: a whole log in one self-contained text file that audits offline.

    {"checkpoint_vkey":…,"format":"chainproof-log-export/1","origin":…,"tree_size":N}
    <leaf hash, 64 lowercase hex> SP <leaf bytes>        one line per entry, in index order
    "<signed checkpoint note as a JSON string>"          right after the entry completing its size

The header and checkpoint lines are RFC 8785 JSON, every line ends with LF, and leaves (canonical
envelopes) hold no LF. Reading is strict: whatever does not re-encode to the very same bytes is an
error, so that a change to any byte of the file is either a format error or a change the
signatures, hashes and checkpoints catch.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import rfc8785

from chainproof._internal import untrusted_json
from chainproof.errors import FormatError, UsageError
from chainproof.log import tiles
from chainproof.log.merkle import HASH_SIZE
from chainproof.log.store import LogReader

FORMAT = "chainproof-log-export/1"
_HEADER_KEYS = {"checkpoint_vkey", "format", "origin", "tree_size"}


@dataclass(frozen=True)
class Header:
    origin: str
    checkpoint_vkey: str
    tree_size: int

    def encode(self) -> bytes:
        obj: dict[str, str | int] = {
            "checkpoint_vkey": self.checkpoint_vkey,
            "format": FORMAT,
            "origin": self.origin,
            "tree_size": self.tree_size,
        }
        data: bytes = rfc8785.dumps(obj)
        return data + b"\n"


class EntryLine(NamedTuple):
    """One per entry of a log; a named tuple because a whole log streams through these."""

    leaf: bytes
    claimed: bytes | None


class EntryBatch(NamedTuple):
    """Consecutive entries, as a store streams them: the same lines as that many EntryLines."""

    leaves: list[bytes]
    claims: list[bytes | None]


@dataclass(frozen=True)
class CheckpointLine:
    note: str


Event = EntryLine | EntryBatch | CheckpointLine


def entry_count(ev: Event) -> int:
    """How many entries an event carries (for progress)."""
    if isinstance(ev, EntryBatch):
        return len(ev.leaves)
    return 1 if isinstance(ev, EntryLine) else 0


def stored_leaf_hashes(reader: LogReader, size: int) -> Iterator[bytes]:
    """The leaf hashes the store committed to, from its level-0 tiles."""
    return itertools.chain.from_iterable(_stored_tile_bases(reader, size))


def _stored_tile_bases(reader: LogReader, size: int) -> Iterator[tuple[bytes, ...]]:
    left = size
    for _, width, encoded in reader.tile_level(0):
        if not left:
            return
        yield tiles.base_of(encoded, width)[:left]
        left -= min(width, left)


def events(reader: LogReader, size: int) -> Iterator[Event]:
    """A log as the auditor reads it: entries, each checkpoint after the entry completing it.

    Entries come in batches (`EntryBatch`), cut where a checkpoint falls. A stored checkpoint that
    no entry completes (its size exceeds `size`, the store's size) comes last, where the auditor
    reports it: a store must not serve a checkpoint it cannot back.
    """
    notes = iter(reader.checkpoints())
    pending = next(notes, None)
    # None once the stored hashes run out: the auditor has no claim to compare those entries with.
    claims = itertools.chain(stored_leaf_hashes(reader, size), itertools.repeat(None))
    count = 0  # entries yielded so far
    for leaves in reader.entry_chunks(0, size):
        batch_claims: list[bytes | None] = list(itertools.islice(claims, len(leaves)))
        start, end = 0, len(leaves)
        while pending is not None and count < pending[0] <= count + end:
            cut = pending[0] - count
            if cut > start:
                yield EntryBatch(leaves[start:cut], batch_claims[start:cut])
                start = cut
            while pending is not None and pending[0] == count + cut:
                yield CheckpointLine(pending[1])
                pending = next(notes, None)
        if start < end:
            yield EntryBatch(leaves[start:] if start else leaves, batch_claims[start:])
        count += end
    while pending is not None:
        yield CheckpointLine(pending[1])
        pending = next(notes, None)


def write(path: Path, header: Header, stream: Iterable[Event]) -> None:
    """Write atomically: a complete file appears at `path`, or nothing does."""
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header.encode())
            for ev in stream:
                if isinstance(ev, EntryBatch):
                    f.writelines(
                        _encode(EntryLine(leaf, c)) for leaf, c in zip(ev.leaves, ev.claims, strict=True)
                    )
                else:
                    f.write(_encode(ev))
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except OSError as e:  # a full disk, say
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _encode(ev: EntryLine | CheckpointLine) -> bytes:
    if isinstance(ev, CheckpointLine):
        data: bytes = rfc8785.dumps(ev.note)
        return data + b"\n"
    if b"\n" in ev.leaf:
        raise UsageError("an entry holds a line feed; only canonical envelopes can be exported")
    claimed = ev.claimed if ev.claimed is not None else b"\0" * HASH_SIZE
    return claimed.hex().encode("ascii") + b" " + ev.leaf + b"\n"


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(f, start=1):
        if not line.endswith(b"\n"):
            raise FormatError(f"line {number}: the export does not end with a line feed")
        yield number, line[:-1]


def read_header(line: bytes) -> Header:
    try:
        obj = untrusted_json.loads(line)
    except untrusted_json.JsonInputError as e:
        raise FormatError(f"line 1: {e}") from None
    except ValueError:
        raise FormatError("line 1: the export header is not JSON") from None
    if not isinstance(obj, dict) or set(obj) != _HEADER_KEYS or obj.get("format") != FORMAT:
        raise FormatError(f"line 1: not a {FORMAT} header")
    header = Header(obj["origin"], obj["checkpoint_vkey"], obj["tree_size"])
    if not (
        isinstance(header.origin, str)
        and isinstance(header.checkpoint_vkey, str)
        and type(header.tree_size) is int
        and header.encode() == line + b"\n"
    ):
        raise FormatError("line 1: the export header is not in canonical form")
    return header


def read(f: BinaryIO) -> tuple[Header, Iterator[Event]]:
    """Parse an export: its header now, its events as they are read."""
    lines = _lines(f)
    first = next(lines, None)
    if first is None:
        raise FormatError("the export is empty")
    return read_header(first[1]), _events(lines)


def _events(lines: Iterator[tuple[int, bytes]]) -> Iterator[Event]:
    for number, line in lines:
        if line.startswith(b'"'):
            yield CheckpointLine(_checkpoint_line(number, line))
            continue
        hex_hash, space, leaf = line.partition(b" ")
        try:
            claimed = bytes.fromhex(hex_hash.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            claimed = b""
        if not space or len(claimed) != HASH_SIZE or claimed.hex().encode() != hex_hash:
            raise FormatError(f"line {number}: not '<leaf hash hex> <leaf>' nor a checkpoint")
        yield EntryLine(leaf, claimed)


def _checkpoint_line(number: int, line: bytes) -> str:
    try:
        note = untrusted_json.loads(line)
    except ValueError:
        note = None
    if not isinstance(note, str) or rfc8785.dumps(note) != line:
        raise FormatError(f"line {number}: the checkpoint is not a canonical JSON string")
    return note
