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

from chainproof.deps.rules.folding import fold_str
from chainproof.deps.rules.syntax import _Budget, _literal_str

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


_TEXT_CODECS = frozenset({"ascii", "utf-8", "utf8", "latin-1", "latin1", "iso-8859-1", "utf_8"})


def _text_codec(node: ast.Call) -> bool:
    """`x.decode()`, `x.encode('ascii')`: bytes and text of the same characters, no decoding layer."""
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("decode", "encode"):
        return False
    if not node.args:
        return True
    codec = _literal_str(node.args[0])
    return codec is not None and codec.lower() in _TEXT_CODECS


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
    if isinstance(node, (ast.BinOp, ast.Subscript, ast.Call)):
        text = fold_str(node, an.qualname, _Budget(budget * 256))
        if text is not None:
            return text.encode("utf-8", "replace")
    if not isinstance(node, ast.Call):
        return None
    q = an.qualname(node.func) or ""
    if _text_codec(node) and isinstance(node.func, ast.Attribute):
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
