"""Constant folding of the string builders packers use: character codes, shifts, XOR, concatenation.

`''.join(map(chr, [104, 105]))`, `chr(0x68) + chr(105)` and `[(13 << 3) + 1, ...]` spell text no
reader sees and no word search finds. Folding them back (arithmetic on small integers and string
operations only, within a step budget; nothing is ever evaluated by Python) turns the text into
evidence like any literal, and the fact that a package hides its strings so is a signal of its own.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

from chainproof.deps.rules.syntax import _Budget, _literal_str

MIN_CODES = 4
"""Fewer character codes are a separator or a flag, not hidden text."""
MAX_FOLDED = 64 * 1024
"""Longer folded text is cut: enough to read hosts and paths from, bounded for hostile input."""
_MAX_INT = 1 << 64

_INT_OPS: Mapping[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
}


def fold_int(node: ast.AST, budget: _Budget) -> int | None:
    """The value of integer arithmetic over literals (`(13 << 3) + 1`, `0x68 ^ 7`), or None."""
    if not budget.spend():
        return None
    if isinstance(node, ast.Constant):
        value = node.value
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        inner = fold_int(node.operand, budget)
        if inner is None:
            return None
        if isinstance(node.op, ast.USub):
            return -inner
        return ~inner if isinstance(node.op, ast.Invert) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
        left = fold_int(node.left, budget)
        right = fold_int(node.right, budget) if left is not None else None
        if left is None or right is None:
            return None
        if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right < 64:
            return None
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            return None
        value = _INT_OPS[type(node.op)](left, right)
        return value if -_MAX_INT < value < _MAX_INT else None
    return None


def char_codes(node: ast.AST, budget: _Budget) -> str | None:
    """The text a list or tuple of character codes spells (at least MIN_CODES of them), or None."""
    if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) < MIN_CODES:
        return None
    out = []
    for element in node.elts[:MAX_FOLDED]:
        code = fold_int(element, budget)
        if code is None or not 0 <= code < 0x110000:
            return None
        out.append(chr(code))
    return "".join(out)


def _is_chr(node: ast.AST, resolve: Callable[[ast.AST], str | None]) -> bool:
    return resolve(node) == "chr"


def built_text(node: ast.AST, resolve: Callable[[ast.AST], str | None], budget: _Budget) -> str | None:
    """Text spelled by character codes: `''.join(map(F, CODES))`, `''.join(chr(c) for c in CODES)`,
    `chr(N) + chr(M) + ...`; `resolve` names a call target (through the file's aliases).

    The mapped function of `map` is not required to be `chr`: packers reach it through expressions
    no static reader resolves (`getattr(__builtins__, <computed name>)`); codes that all fold to
    characters are text whatever the name.
    """
    if isinstance(node, ast.Call) and _literal_str(getattr(node.func, "value", None)) is not None:
        if getattr(node.func, "attr", None) != "join" or len(node.args) != 1:
            return None
        arg = node.args[0]
        if isinstance(arg, ast.Call) and resolve(arg.func) == "map" and len(arg.args) == 2:
            return char_codes(arg.args[1], budget)
        if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) and len(arg.generators) == 1:
            element, gen = arg.elt, arg.generators[0]
            if (
                isinstance(element, ast.Call)
                and _is_chr(element.func, resolve)
                and len(element.args) == 1
                and isinstance(element.args[0], ast.Name)
                and isinstance(gen.target, ast.Name)
                and element.args[0].id == gen.target.id
                and not gen.ifs
            ):
                return char_codes(gen.iter, budget)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = _chr_sum(node, resolve, budget)
        if parts is not None and len(parts) >= MIN_CODES:
            return "".join(parts)
    return None


def _chr_sum(node: ast.AST, resolve: Callable[[ast.AST], str | None], budget: _Budget) -> list[str] | None:
    """The characters of `chr(a) + chr(b) + ...` (left-nested, as the parser builds it), or None."""
    parts: list[str] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        one = _one_chr(node.right, resolve, budget)
        if one is None:
            return None
        parts.append(one)
        node = node.left
    one = _one_chr(node, resolve, budget)
    if one is None:
        return None
    parts.append(one)
    return parts[::-1]


def _one_chr(node: ast.AST, resolve: Callable[[ast.AST], str | None], budget: _Budget) -> str | None:
    if not (isinstance(node, ast.Call) and len(node.args) == 1 and _is_chr(node.func, resolve)):
        return None
    code = fold_int(node.args[0], budget)
    return chr(code) if code is not None and 0 <= code < 0x110000 else None


def fold_str(node: ast.AST, resolve: Callable[[ast.AST], str | None], budget: _Budget) -> str | None:
    """A string expression built from literals: concatenation, reversal, joins of literals, f-strings
    of literals and character-code builders (`'ex' + 'ec'`, `'cexe'[::-1]`); None otherwise."""
    if not budget.spend():
        return None
    text = _literal_str(node)
    if text is not None:
        return text
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = fold_str(node.left, resolve, budget)
        right = fold_str(node.right, resolve, budget) if left is not None else None
        if left is not None and right is not None:
            return (left + right)[:MAX_FOLDED]
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        sl = node.slice
        if sl.lower is None and sl.upper is None and sl.step is not None and fold_int(sl.step, budget) == -1:
            inner = fold_str(node.value, resolve, budget)
            return inner[::-1] if inner is not None else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and len(node.args) == 1
        and isinstance(node.args[0], (ast.List, ast.Tuple))
    ):
        sep = _literal_str(node.func.value)
        parts = [fold_str(e, resolve, budget) for e in node.args[0].elts]
        if sep is not None and all(p is not None for p in parts):
            return sep.join(p for p in parts if p is not None)[:MAX_FOLDED]
    if isinstance(node, ast.Call) and len(node.args) == 1 and _is_chr(node.func, resolve):
        code = fold_int(node.args[0], budget)
        return chr(code) if code is not None and 0 <= code < 0x110000 else None
    return built_text(node, resolve, budget)
