"""Static decoding: the bytes a chain of pure decoding calls over a literal produces.

Only data transforms (base64, hex, zlib with an output ceiling) are ever applied; nothing decoded is
executed or unmarshalled.
"""

from __future__ import annotations

import ast
import base64
import binascii
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainproof.deps.rules.analysis import _Analyzer, _Scope

MAX_DECODED = 256 * 1024


def _fromhex(data: bytes) -> bytes:
    return bytes.fromhex(data.decode("ascii"))


_STATIC_DECODERS: Mapping[str, Callable[[bytes], bytes]] = {
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.decodebytes": base64.decodebytes,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode,
    "base64.a85decode": base64.a85decode,
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.unhexlify": binascii.unhexlify,
    "bytes.fromhex": _fromhex,
}


def _inflate(data: bytes) -> bytes:
    """zlib with a ceiling on the output: a decompression bomb stops at MAX_DECODED."""
    return zlib.decompressobj().decompress(data, MAX_DECODED)


def _static_decode(node: ast.AST, scope: _Scope, an: _Analyzer, budget: int) -> bytes | None:
    """The bytes a chain of pure decoding calls over a literal produces, or None."""
    if budget <= 0:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        raw = node.value.encode("utf-8", "replace") if isinstance(node.value, str) else node.value
        return raw if len(raw) <= MAX_DECODED else None
    if isinstance(node, ast.Name):
        value = scope.lookup(node.id)
        return None if value is None else _static_decode(value, scope, an, budget - 1)
    if not isinstance(node, ast.Call):
        return None
    q = an.qualname(node.func) or ""
    if isinstance(node.func, ast.Attribute) and node.func.attr in ("decode", "encode") and not node.args:
        return _static_decode(node.func.value, scope, an, budget - 1)
    if not node.args:
        return None
    inner = _static_decode(node.args[0], scope, an, budget - 1)
    if inner is None:
        return None
    try:
        if q in _STATIC_DECODERS:
            return _STATIC_DECODERS[q](inner)[:MAX_DECODED]
        if q == "zlib.decompress":
            return _inflate(inner)
    except (ValueError, TypeError, binascii.Error, zlib.error):
        return None
    return None
