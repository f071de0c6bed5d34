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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainproof.deps.rules.folding import fold_str
from chainproof.deps.rules.syntax import _Budget, _literal_str, _Scope

if TYPE_CHECKING:
    from chainproof.deps.rules.resolve import _Resolver

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


MAX_DECODER_STATEMENTS = 8
"""A wrapper this short around a decoder is a decoder; longer functions do other work too."""


@dataclass(frozen=True)
class LocalDecoder:
    """A decoder a package defines for itself: `def b64d(s): return base64.b64decode(s).decode()`,
    `unpack = lambda s: zlib.decompress(base64.b64decode(s))`. Calls to it are decoding layers, and a
    literal handed to it is decoded by reading its body with the parameter bound to the argument."""

    params: tuple[str, ...]
    assigns: tuple[tuple[str, ast.expr], ...]
    result: ast.expr

    def bind(self, call: ast.Call, scope: _Scope) -> _Scope:
        inner = _Scope(scope)
        for name, arg in zip(self.params, call.args, strict=False):
            inner.assigns[name] = arg
        inner.assigns.update(self.assigns)
        return inner


def local_decoder(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> LocalDecoder | None:
    """The shape of a short function whose result is computed by straight-line code, or None.

    Whether that code decodes is the analyser's question (it knows the file's imports)."""
    params = tuple(a.arg for a in node.args.args)
    if not params:
        return None
    if isinstance(node, ast.Lambda):
        return LocalDecoder(params, (), node.body)
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or len(body) > MAX_DECODER_STATEMENTS or not isinstance(body[-1], ast.Return):
        return None
    result = body[-1].value
    assigns: list[tuple[str, ast.expr]] = []
    for stmt in body[:-1]:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        if not isinstance(target, ast.Name) or not isinstance(stmt, ast.Assign):
            return None
        assigns.append((target.id, stmt.value))
    return LocalDecoder(params, tuple(assigns), result) if result is not None else None


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


def _static_decode(node: ast.AST, scope: _Scope, an: _Resolver, budget: int) -> bytes | None:
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
    return _decode_call(node, scope, an, budget) if isinstance(node, ast.Call) else None


def _decode_call(node: ast.Call, scope: _Scope, an: _Resolver, budget: int) -> bytes | None:
    q = an.qualname(node.func) or ""
    if _text_codec(node) and isinstance(node.func, ast.Attribute):
        return _static_decode(node.func.value, scope, an, budget - 1)
    if not node.args:
        return None
    local = an.local_decoders.get(q)
    if local is not None:
        return _static_decode(local.result, local.bind(node, scope), an, budget - 1)
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
