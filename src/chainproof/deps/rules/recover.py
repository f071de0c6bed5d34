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
from dataclasses import dataclass

MAX_JOIN = 8
"""How many pieces a statement may span (a decorator, a docstring with lines at column 0)."""
MAX_PARSED_FACTOR = 16
"""The parsing spent on one file is bounded by this many times its size."""

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
    lines = data.splitlines(keepends=True)
    starts = _statement_starts(lines)
    keep = [False] * len(lines)
    budget = max(len(data), 1) * MAX_PARSED_FACTOR
    i = 0
    while i < len(starts) - 1 and budget > 0:
        for j in range(i + 1, min(i + 1 + MAX_JOIN, len(starts))):
            piece = b"".join(lines[starts[i] : starts[j]])
            budget -= len(piece)
            if _parses(piece):
                keep[starts[i] : starts[j]] = [True] * (starts[j] - starts[i])
                i = j
                break
        else:
            i += 1  # this piece parses with none of the next ones: it is dropped
    if not any(keep) or all(keep):
        return None
    kept = b"".join(line if k else _blank(line) for line, k in zip(lines, keep, strict=True))
    if not _parses(kept):
        return None
    dropped = b"".join(_blank(line) if k else line for line, k in zip(lines, keep, strict=True))
    return Recovered(kept, dropped)


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
