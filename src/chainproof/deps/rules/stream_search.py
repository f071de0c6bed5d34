"""What a file the code rules cannot parse still shows: a search of its text, streamed.

A file too large to parse (a payload followed by megabytes of comment), or one the parser refuses
(an old syntax, nesting too deep for it), would otherwise pass unseen. Its text is read in pieces,
in whatever encoding it was written, and searched for every word the pre-filter marks (exec,
decoders, processes, network, credential locations); memory stays bounded by the piece size
whatever the file's length. On the way its comment-only lines are blanked: when what is left fits
the parse limit, the file is analysed like any other, with its line numbers unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from chainproof.deps.rules.prefilter import (
    CRED,
    DECODE,
    ENV_OUT,
    ENVIRON,
    EXEC,
    NET,
    PROCESS,
    RUNS_FILE,
    sign_offsets,
)
from chainproof.deps.rules.source_text import Transcoder, encoding_of

WINDOW_BYTES = 1024 * 1024
"""A line longer than this is searched in pieces (with an overlap, so no word is cut in two)."""
OVERLAP = 256
EVIDENCE_BYTES = 240
NEAR_LINES = 16
"""How close (in lines) two capabilities must be named to count as one payload in a file that is
otherwise ordinary code (a module of a large library names exec and a decoder far apart)."""

_COMMENT_LINES = re.compile(rb"^[ \t\f]*#[^\n]*", re.MULTILINE)

_CAPABILITIES = (
    (EXEC, "exec"),
    (PROCESS, "processes"),
    (DECODE, "decoding"),
    (NET, "the network"),
    (CRED, "credential locations"),
    (ENVIRON, "the environment"),
    (RUNS_FILE, "running files"),
)
_DANGEROUS = (
    (EXEC | PROCESS, DECODE),
    (NET, EXEC | PROCESS | RUNS_FILE),
    (CRED, NET),
)
"""Pairs of capabilities (one bit of each side) that together make a payload's shape: decoded data
run as code, a download run, credentials sent away. Any one alone is ordinary in a large file."""


def dangerous(found: int) -> bool:
    """Whether what a file names carries a dangerous capability (see `_DANGEROUS`)."""
    if found & ENVIRON and found & ENV_OUT and found & NET:
        return True  # the environment, encoded, sent out
    return any(found & a and found & b for a, b in _DANGEROUS)


def _single_bits(bits: int) -> Iterator[int]:
    while bits:
        bit = bits & -bits
        yield bit
        bits ^= bit


def _line_at(text: bytes, offset: int) -> bytes:
    start = text.rfind(b"\n", 0, offset) + 1
    end = text.find(b"\n", offset)
    return text[start : end if end >= 0 else len(text)][:EVIDENCE_BYTES]


def capability_names(found: int) -> list[str]:
    return [name for bit, name in _CAPABILITIES if found & bit]


@dataclass(frozen=True)
class Seen:
    """What the streamed search of one file found."""

    found: int
    """The pre-filter's bits (`prefilter.signs`) over the whole text."""
    marks: tuple[tuple[int, int, bytes], ...]
    """(bit, line number, line text) of the first line naming each capability."""
    close: tuple[int, bytes] | None
    """(line number, line text) where a dangerous pair of capabilities is first named within a
    few lines of each other (see `NEAR_LINES`), if anywhere."""
    compact: bytes | None
    """The text with comment-only lines blanked (line numbers kept), or None when it did not fit."""
    size: int
    """Bytes read."""
    encoding: str | None
    """What the file was decoded from, when not searched as it is."""

    def first_line(self, bits: int) -> tuple[int, bytes] | None:
        """The earliest line that names one of `bits`."""
        lines = [(line, text) for bit, line, text in self.marks if bit & bits]
        return min(lines) if lines else None


class StreamSearch:
    """Fed a file's bytes piece by piece, `result()` is what it names and where."""

    def __init__(self, compact_limit: int) -> None:
        self._limit = compact_limit
        self._transcoder: Transcoder | None = None
        self._encoding: str | None = None
        self._started = False
        self._pending = b""
        self._line = 1
        """The line number `_pending` starts on."""
        self._found = 0
        self._marks: dict[int, tuple[int, bytes]] = {}
        self._blocks: dict[tuple[int, int], int] = {}
        self._close: tuple[int, bytes] | None = None
        self._compact: list[bytes] | None = []
        self._compact_size = 0
        self._mid_line = False
        """The last window ended inside a line longer than a window."""
        self._comment_line = False
        """That line is a comment (the rest of it is dropped)."""
        self._size = 0

    def feed(self, raw: bytes) -> None:
        if not self._started:
            self._started = True
            self._encoding = encoding_of(raw[:4096])
            if self._encoding is not None:
                self._transcoder = Transcoder(self._encoding)
        self._size += len(raw)
        data = self._transcoder.feed(raw) if self._transcoder is not None else raw
        self._take(self._pending + data, final=False)

    def result(self) -> Seen:
        tail = self._transcoder.feed(b"", final=True) if self._transcoder is not None else b""
        self._take(self._pending + tail, final=True)
        compact = b"".join(self._compact) if self._compact is not None else None
        marks = tuple((bit, line, text) for bit, (line, text) in sorted(self._marks.items()))
        return Seen(self._found, marks, self._close, compact, self._size, self._encoding)

    def _take(self, buf: bytes, final: bool) -> None:
        """Search the complete lines of `buf` and keep the rest for the next piece; a line longer
        than a window is searched in pieces, each overlapping the next so no word is cut in two."""
        cut = len(buf) if final else buf.rfind(b"\n") + 1
        if cut == 0 and len(buf) > WINDOW_BYTES:
            self._search(buf)
            self._keep(buf[:-OVERLAP], whole_lines=False)
            self._pending = buf[-OVERLAP:]
            return
        if cut:
            self._search(buf[:cut])
            self._keep(buf[:cut], whole_lines=True)
            self._line += buf.count(b"\n", 0, cut)
        self._pending = buf[cut:]

    def _search(self, text: bytes) -> None:
        line, at = self._line, 0
        for bits, offset in sorted(sign_offsets(text), key=lambda m: m[1]):
            self._found |= bits
            line += text.count(b"\n", at, offset)  # offsets in order: each newline counted once
            at = offset
            for bit in _single_bits(bits):
                if bit not in self._marks:
                    self._marks[bit] = (line, _line_at(text, offset))
            self._near(bits, line, text, offset)

    def _near(self, bits: int, line: int, text: bytes, offset: int) -> None:
        """Bits per block of `NEAR_LINES` lines, in two staggered tilings, so any two marks at most
        half a block apart share a block: a dangerous pair in one block is a payload's shape."""
        for tiling in (0, NEAR_LINES // 2):
            block = (tiling, (line + tiling) // NEAR_LINES)
            now = self._blocks.get(block, 0) | bits
            self._blocks[block] = now
            if self._close is None and dangerous(now):
                self._close = (line, _line_at(text, offset))
        if len(self._blocks) > 4096:  # only blocks near the current line can still grow
            low = line // NEAR_LINES - 2
            self._blocks = {k: v for k, v in self._blocks.items() if k[1] >= low}

    def _keep(self, text: bytes, whole_lines: bool) -> None:
        """Add `text` to the compacted copy, comment-only lines blanked; `whole_lines` is False
        for the first pieces of a line longer than a window."""
        if self._compact is None:
            return
        head = b""
        if self._mid_line:  # the rest of a line cut at the last window: a comment's rest is dropped
            newline = text.find(b"\n")
            rest = text if newline < 0 else text[:newline]
            text = b"" if newline < 0 else text[newline:]
            head = b"" if self._comment_line else rest
        elif not whole_lines:
            self._comment_line = text.lstrip(b" \t\f").startswith(b"#")
        self._mid_line = not whole_lines
        kept = head + _COMMENT_LINES.sub(b"", text)
        self._compact_size += len(kept)
        if self._compact_size > self._limit:
            self._compact = None  # too large even without comments: only the search's result stays
            return
        self._compact.append(kept)


def search(pieces: Iterable[bytes], compact_limit: int) -> Seen:
    """The streamed search of a file given as pieces of bytes."""
    stream = StreamSearch(compact_limit)
    for piece in pieces:
        stream.feed(piece)
    return stream.result()
