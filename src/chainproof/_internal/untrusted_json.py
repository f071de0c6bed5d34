"""JSON from untrusted input, parsed the one way everything in chainproof parses it.

Python's `json.loads`, with two corners closed:

- an object that names a key twice is refused (unless `unique_keys=False`): JSON leaves duplicates
  undefined and parsers differ (Python keeps the last value, others the first), so a signed
  statement holding one could say one thing to chainproof and another to the next reader;
- an integer of more digits than Python converts to an int (4,300) is refused with our own
  message, where Python's advises raising the limit with `sys.set_int_max_str_digits()`.

Both raise `JsonInputError`, a ValueError as `json.loads`'s own errors are, so that callers who
turn those into messages of their own keep doing so.
"""

from __future__ import annotations

import json
from typing import Any

MAX_INT_DIGITS = 4300
"""Python's default limit for int(str): an integer in JSON may have this many digits, no more."""


class JsonInputError(ValueError):
    """JSON that chainproof refuses to read: an object with a key twice, an integer too long."""


def loads(data: bytes | str, *, unique_keys: bool = True) -> Any:
    """`json.loads(data)`, raising JsonInputError on a duplicate key or an integer too long."""
    return json.loads(data, object_pairs_hook=_unique if unique_keys else None, parse_int=_int)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonInputError(f"the key {_shown(key)} appears twice in one object")
            seen.add(key)
    return obj


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise JsonInputError(f"an integer of {digits:,} digits (chainproof reads at most {MAX_INT_DIGITS:,})")
    return int(text)


def _shown(key: str) -> str:
    return repr(key if len(key) <= 80 else key[:80] + "...")
