"""Words for counts in messages people read."""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 entry`, `2 entries`: the count with its noun, in the plural unless it is one.

    `nouns` is the plural when adding an s is wrong."""
    return f"{n} {noun}" if n == 1 else f"{n} {nouns or noun + 's'}"
