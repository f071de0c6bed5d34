"""Walking untrusted syntax trees cheaply (child lists without contexts, leaf detection, step budgets)
and the bindings of one scope as the analyser meets them."""

from __future__ import annotations

import ast
import warnings
from collections import deque
from collections.abc import Iterator, Mapping

WHITESPACE_RUN = 150
"""Blanks in a row after which the rest of a line is out of sight in an editor."""


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


_SKIP_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "type_ignores"})
_SCALAR_FIELDS: Mapping[type, frozenset[str]] = {
    ast.Constant: frozenset({"value", "kind"}),
    ast.Name: frozenset({"id"}),
    ast.Attribute: frozenset({"attr"}),
    ast.keyword: frozenset({"arg"}),
    ast.arg: frozenset({"arg"}),
    ast.alias: frozenset({"name", "asname"}),
    ast.ImportFrom: frozenset({"module", "level"}),
    ast.Global: frozenset({"names"}),
    ast.Nonlocal: frozenset({"names"}),
    ast.FormattedValue: frozenset({"conversion"}),
    ast.comprehension: frozenset({"is_async"}),
}
"""Fields that the parser only ever fills with names, numbers or strings, never with nodes: the most
common nodes (names, constants, attributes) are leaves or near-leaves, and are known as such."""
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    skip = _SKIP_FIELDS | _SCALAR_FIELDS.get(cls, frozenset())
    fields: tuple[str, ...] = getattr(cls, "_fields", ())
    _FIELDS[cls] = found = tuple(f for f in fields if f not in skip)
    return found


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes, without expression contexts and operators (a third of all nodes, never useful)."""
    fields = _FIELDS.get(type(node))
    if fields is None:
        fields = _fields(type(node))
    out: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            out += [v for v in value if isinstance(v, ast.AST)]
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk` (breadth first, same order) without the contexts and operators `_children` drops.

    Those are leaves that no query here looks at, so every query sees the same nodes in the same
    order (step budgets are spent alike) for a third less work.
    """
    todo = deque([node])
    while todo:
        current = todo.popleft()
        if _FIELDS.get(type(current), True):  # leaf types have no children to look for
            todo.extend(_children(current))
        yield current


def _is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (possibly `and`-ed with other tests): not import-time code."""
    if not isinstance(node, ast.If):
        return False
    tests = (
        node.test.values
        if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And)
        else [node.test]
    )
    for test in tests:
        if isinstance(test, ast.Compare):
            sides = [test.left, *test.comparators]
            if any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
                _literal_str(s) == "__main__" for s in sides
            ):
                return True
    return False


_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_ACTIVE_NODES = (
    *(ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.comprehension),
    *(ast.withitem, ast.Call, ast.Constant, ast.Import, ast.ImportFrom, ast.ClassDef),
)
"""Every node type `_Analyzer._visit` acts on; the rest (names, attributes, operators: most of a
tree) are only descended into."""
_NODE_FLAGS: dict[type, tuple[bool, bool]] = {}


def _node_flags(cls: type) -> tuple[bool, bool]:
    """(is a statement, is acted on) for a node type: one dict lookup per node instead of a chain
    of isinstance tests on every name, attribute and operator of the tree."""
    flags = _NODE_FLAGS.get(cls)
    if flags is None:
        flags = _NODE_FLAGS[cls] = (issubclass(cls, ast.stmt), issubclass(cls, _ACTIVE_NODES))
    return flags


class _Budget:
    """A step allowance shared by one recursive query: hostile code can make names refer to each
    other in wide, deep webs, and no query may follow more than this many steps in total."""

    def __init__(self, steps: int = 256) -> None:
        self.steps = steps

    def spend(self, cost: int = 1) -> bool:
        self.steps -= cost
        return self.steps >= 0


def _strip_builtins(name: str) -> str:
    for prefix in ("builtins.", "__builtins__.", "__builtin__."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


class _Scope:
    def __init__(self, parent: _Scope | None, owner: int = 0) -> None:
        self.parent = parent
        self.owner = owner
        """First line of the function this is the body of (0: the module)."""
        self.assigns: dict[str, ast.expr] = {}
        self.net: set[str] = set()
        """Names (and literal paths) holding fetched data or files written from it."""
        self.env: set[str] = set()
        """Names holding a bulk copy of the environment."""
        self.files: dict[str, ast.expr] = {}
        """Names bound to files opened for writing -> the path expression."""
        self.cred: set[str] = set()
        """Names holding a path built from a credential location."""

    def lookup(self, name: str) -> ast.expr | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.assigns:
                return scope.assigns[name]
            scope = scope.parent
        return None


def quiet_parse(source: str | bytes, mode: str = "exec") -> ast.AST:
    """`ast.parse`, without the parser's warnings (invalid escapes, `1if`): they are about someone
    else's style, not ours to print. Raises what `ast.parse` raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, mode=mode)
