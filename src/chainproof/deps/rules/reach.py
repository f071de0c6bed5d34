"""Which code of a module runs when it is imported, beyond its module-level statements.

Moving a payload into a function and calling it on the next line changes nothing about when it runs,
but a reader that only trusts module-level statements would see an innocent `def`. A function runs
at import when module-level code calls it, starts it as a thread, registers it to run at exit or
instantiates a class whose `__init__` it is, and so does everything such a function calls in turn.
Only calls by plain name within the module are followed: that is how such payloads are written, and
it needs no guess about types.

The other side: a branch whose test is a constant false (`DEBUG = False` ... `if DEBUG:`) never
runs, so nothing in it runs at import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from chainproof.deps.rules.syntax import _is_main_guard

MAX_FOLLOWED = 256
"""The most functions followed from one module: enough for any payload, bounded for huge files."""
_STARTERS = frozenset({"target", "func", "function", "callback"})
"""Keywords through which a call hands over a function to run (`Thread(target=f)`)."""
_RUNNERS = frozenset({"register", "map", "start_new_thread", "Timer"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def dead_test(test: ast.expr, constants: dict[str, object]) -> bool:
    """Whether an `if` test is a constant false: `if False:`, `if 0:`, or a module name bound once
    to such a constant (`_in_development = False`)."""
    if isinstance(test, ast.Constant):
        return not test.value
    if isinstance(test, ast.Name) and test.id in constants:
        return not constants[test.id]
    return False


def module_constants(tree: ast.Module) -> dict[str, object]:
    """Module names bound exactly once, at module level, to a bool, number or None literal."""
    seen: dict[str, int] = {}
    values: dict[str, object] = {}
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and isinstance(stmt.target, ast.Name):
            seen[stmt.target.id] = seen.get(stmt.target.id, 0) + 2  # re-bound or annotated only
        for target in targets:
            if isinstance(target, ast.Name) and isinstance(stmt, ast.Assign):
                seen[target.id] = seen.get(target.id, 0) + 1
                value = stmt.value
                if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, int)):
                    values[target.id] = value.value  # (bools are ints)
    return {name: value for name, value in values.items() if seen.get(name) == 1}


def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Module-level functions by name; a class stands for its `__init__` (instantiating runs it)."""
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in _module_statements(tree.body, {}):
        if isinstance(stmt, _FUNCTIONS):
            defs[stmt.name] = stmt
        elif isinstance(stmt, ast.ClassDef):
            for item in stmt.body:
                if isinstance(item, _FUNCTIONS) and item.name in ("__init__", "__new__"):
                    defs[stmt.name] = item
    return defs


def _module_statements(body: list[ast.stmt], constants: dict[str, object]) -> Iterator[ast.stmt]:
    """Statements that run at import: the body, and the bodies of its ifs, trys and withs, without
    `if __name__ == '__main__':` and branches that are constantly false."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if _is_main_guard(stmt):
                continue
            if not dead_test(stmt.test, constants):
                yield from _module_statements(stmt.body, constants)
            yield from _module_statements(stmt.orelse, constants)
        elif isinstance(stmt, (ast.Try, ast.With, ast.For, ast.While)):
            for part in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(stmt, part, []), constants)
            for handler in getattr(stmt, "handlers", []):
                yield from _module_statements(handler.body, constants)


def _called_names(nodes: list[ast.AST]) -> Iterator[str]:
    """Names called (or handed over to run) in these nodes, not looking inside nested functions."""
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                yield node.func.id
            for k in node.keywords:
                if k.arg in _STARTERS and isinstance(k.value, ast.Name):
                    yield k.value.id
            runner = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if runner in _RUNNERS:
                yield from (a.id for a in node.args if isinstance(a, ast.Name))
        todo.extend(ast.iter_child_nodes(node))


def run_at_import(tree: ast.Module, called: frozenset[str] = frozenset()) -> set[int]:
    """ids of the function nodes that run when the module is imported (see the module docstring),
    with the module functions named in `called`, which code elsewhere runs (a setup script)."""
    defs = _definitions(tree)
    if not defs:
        return set()
    constants = module_constants(tree)
    top = [
        s
        for s in _module_statements(tree.body, constants)
        if not isinstance(s, (ast.If, ast.Try, ast.With, ast.For, ast.While))
    ]
    # Compound statements contribute their tests and headers; their bodies are listed on their own.
    heads: list[ast.AST] = []
    for s in _module_statements(tree.body, constants):
        if isinstance(s, (ast.If, ast.While)):
            heads.append(s.test)
        elif isinstance(s, ast.For):
            heads.append(s.iter)
        elif isinstance(s, ast.With):
            heads.extend(item.context_expr for item in s.items)
    return {id(f) for f in _follow([*_called_names([*top, *heads]), *called], defs)}


def _follow(todo: list[str], defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]) -> list[ast.AST]:
    """The module functions these names call, and those they call in turn (at most MAX_FOLLOWED)."""
    reached: dict[int, ast.AST] = {}
    while todo and len(reached) < MAX_FOLLOWED:
        func = defs.get(todo.pop())
        if func is None or id(func) in reached:
            continue
        reached[id(func)] = func
        todo.extend(_called_names(list(func.body)))
    return list(reached.values())


def called_from_class(tree: ast.Module, cls: ast.ClassDef) -> list[tuple[int, int]]:
    """Line spans of the module functions a class's methods call (a replaced setup.py command that
    calls a helper runs that helper at install)."""
    bodies: list[ast.AST] = [s for m in cls.body if isinstance(m, _FUNCTIONS) for s in m.body]
    reached = _follow(list(_called_names(bodies)), _definitions(tree))
    return [(f.lineno, f.end_lineno or f.lineno) for f in reached if isinstance(f, _FUNCTIONS)]
