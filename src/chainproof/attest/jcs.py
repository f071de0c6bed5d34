"""RFC 8785 (JCS) canonical JSON, fast for what chainproof itself writes.

Statements are signed over their JCS bytes, so every byte matters. The `rfc8785` package is the
reference, but it serialises in Python: about 270 us for a training record with 40 packages, most
of the cost of recording one. For values of the common shape (object keys in ASCII; no floats;
integers within IEEE 754's exact range) JCS is exactly what the C `json` encoder writes with
sorted keys, no spaces and no ASCII escaping, and what orjson writes with sorted keys: UTF-16 and
code-point key order agree on ASCII, and all three escape strings the same way (the tests hold
them to each other on generated values).
Anything else goes to `rfc8785`, which also raises for what JCS cannot represent.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import rfc8785

_EXACT = 2**53 - 1  # beyond this an integer has no exact IEEE 754 double, and JCS refuses it
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


def _plain(value: Any) -> bool:
    """Whether `value` is of the shape the C encoder writes exactly as JCS does. A loop over a
    stack, by exact type for values (a subclass, an enum say, goes the reference's way): a
    training record's walk is about a third of its serialisation this way, and three times that
    recursively. A dict's keys are checked at once, joined: one C call instead of one per key."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is dict:
            try:
                if not "".join(v).isascii():
                    return False
            except TypeError:  # a key that is not a string
                return False
            push(v.values())
        elif t is list or t is tuple:
            push(v)
        elif t is int:
            if not -_EXACT <= v <= _EXACT:
                return False
        else:
            return False
    return True


def dumps(value: Any) -> bytes:
    """The RFC 8785 bytes of `value`; raises `rfc8785.CanonicalizationError` (or `UnicodeEncodeError`
    for a lone surrogate) for what has none."""
    if _plain(value):
        try:
            # orjson writes the plain shape as the C encoder does (sorted keys, no spaces, UTF-8,
            # the same escapes), in a fifth of its time; it refuses a lone surrogate, which the
            # encoder's path then reports as it always did.
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            return _encode(value).encode("utf-8")
    result: bytes = rfc8785.dumps(value)
    return result
