"""The parts of a file that parse, when the whole does not.

One statement in a syntax the parser here refuses (Python 2's `print 'x'`, a later Python's
`type X = int`, a line nested too deeply) used to leave a whole file unanalysed: a payload only
had to be followed by one bad line. The file is cut at the lines where a top-level statement can
start; each piece that parses (alone, or joined to the next few) is kept, the others are blanked.
Line numbers never move: blanked lines stay as empty lines, so findings on the kept code point
into the real file, and what was blanked can be searched as text at its real lines.
"""

from __future__ import annotations

import ast
import re
import warnings
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

MAX_JOIN = 8
"""How many pieces a statement may span (a decorator, a docstring with lines at column 0)."""
MAX_RECOVER_BYTES = 1024 * 1024
"""Larger files are only searched as text: recovering one costs a few parses of its length."""
MAX_PARSES = 4000
"""How many times one file is parsed in all; what is left when they run out is not analysed."""


_STARTS = re.compile(rb"[^\s#)\]}]")
"""A line that can start a top-level statement: at column 0 and not a comment or a closing bracket."""
_CONTINUES = re.compile(rb"(?:else|elif|except|finally)\b")
"""Clauses that belong to the statement above them."""
_TRIPLE = re.compile(rb'"""|\'\'\'')


@dataclass(frozen=True)
class Recovered:
    kept: bytes
    """The file with the lines that do not parse blanked."""
    dropped: bytes
    """The file with the lines that parse blanked: what could not be analysed, at its lines."""


def recover(data: bytes) -> Recovered | None:
    """The parsable part of `data` and the rest, or None when nothing (or everything) parses."""
    if len(data) > MAX_RECOVER_BYTES:
        return None
    lines = data.splitlines(keepends=True)
    keep = [False] * len(lines)
    for first, last in _Cutter(lines).parsable():
        keep[first:last] = [True] * (last - first)
    if not any(keep) or all(keep):
        return None
    kept = b"".join(line if k else _blank(line) for line, k in zip(lines, keep, strict=True))
    if not _parses(kept):
        return None
    dropped = b"".join(_blank(line) if k else line for line, k in zip(lines, keep, strict=True))
    return Recovered(kept, dropped)


class _Cutter:
    """Finds runs of pieces that parse. A run grows while it parses; when it does not, the parser's
    error line says which piece to stop before, so a few bad statements among thousands cost a few
    parses of the file's length."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.starts = _statement_starts(lines)
        self.parses = MAX_PARSES

    def parsable(self) -> Iterator[tuple[int, int]]:
        """(first line, end line) of each run of lines that parses."""
        pieces = len(self.starts) - 1
        i, span = 0, pieces
        while i < pieces and self.parses > 0:
            end = min(i + span, pieces)
            bad = self._bad_piece(i, end)
            if bad is None:
                yield self.starts[i], self.starts[end]
                i, span = end, span * 2
            elif bad > i and self._bad_piece(i, bad) is None:
                yield self.starts[i], self.starts[bad]
                i, span = bad, 1
            elif span > 1:
                span = 1 if bad == i else span // 2
            else:
                joined = self._joined(i, pieces)
                # A piece nothing rescues is dropped.
                if joined is not None:
                    yield self.starts[i], self.starts[joined]
                i = joined if joined is not None else i + 1

    def _joined(self, i: int, pieces: int) -> int | None:
        """The end of the shortest run from piece `i` (a statement cut in pieces) that parses."""
        for j in range(i + 2, min(i + MAX_JOIN, pieces) + 1):
            if self._bad_piece(i, j) is None:
                return j
        return None

    def _bad_piece(self, i: int, j: int) -> int | None:
        """None when pieces i..j-1 parse; else the piece the parser stopped in (i when unknown)."""
        self.parses -= 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(b"".join(self.lines[self.starts[i] : self.starts[j]]))
        except SyntaxError as e:
            line = self.starts[i] + max((e.lineno or 1) - 1, 0)
            return max(i, min(bisect_right(self.starts, line) - 1, j - 1))
        except (ValueError, RecursionError, MemoryError, OverflowError):
            return i
        return None


def _statement_starts(lines: list[bytes]) -> list[int]:
    """Indexes of the lines a top-level statement can start on (outside triple-quoted strings),
    and the end."""
    starts = [0]
    in_string = False
    for index, line in enumerate(lines):
        if index and not in_string and _STARTS.match(line) and not _CONTINUES.match(line):
            starts.append(index)
        # Good enough for cutting: quotes in comments or escaped only make a piece fail to parse.
        if len(_TRIPLE.findall(line)) % 2:
            in_string = not in_string
    starts.append(len(lines))
    return starts


def _blank(line: bytes) -> bytes:
    """An empty line with the same line ending (so every line keeps its number)."""
    return line[len(line.rstrip(b"\r\n")) :]


def _parses(source: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True
