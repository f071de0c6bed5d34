"""Which functions of a package's own modules its setup script calls: code that runs at install.

Moving a payload out of `setup.py` into a function of the package (`from pkg.helpers import
fetch; fetch()`, or from a replaced install command) changes nothing about when it runs, but a
reader of each file alone sees an innocent setup script and a function nobody calls. The setup
script's imports from its own tree are read here (syntax only, nothing is imported), and each
module it calls into is then analysed with those functions as code that runs, like module-level
code (`reach.run_at_import`).
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterable

from chainproof.deps.rules.syntax import quiet_parse

MAX_SCRIPT_BYTES = 1 << 20
"""A setup script larger than this is not read for its calls (the code rules still analyse it)."""


def called_modules(script: str, source: bytes, paths: Iterable[str]) -> dict[str, frozenset[str]]:
    """{module path in the tree: names of its functions the setup script at `script` calls}."""
    if len(source) > MAX_SCRIPT_BYTES:
        return {}
    try:
        tree = quiet_parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    files = set(paths)
    found: dict[str, frozenset[str]] = {}
    for module, names in _calls_by_module(tree).items():
        path = _module_path(posixpath.dirname(script), module, files)
        if path is not None:
            found[path] = found.get(path, frozenset()) | names
    return found


def _calls_by_module(tree: ast.AST) -> dict[str, set[str]]:
    """{module: its functions called}, for `from m import f; f()` and `import m; m.f()`."""
    imported: dict[str, tuple[str, str]] = {}  # local name -> (module, function)
    modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.update({a.asname or a.name: (node.module, a.name) for a in node.names})
        elif isinstance(node, ast.Import):
            modules.update({a.asname or a.name: a.name for a in node.names})
    calls: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Name) and func.id in imported:
            module, name = imported[func.id]
            calls.setdefault(module, set()).add(name)
        elif (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules
        ):
            calls.setdefault(modules[func.value.id], set()).add(func.attr)
    return calls


def _module_path(root: str, module: str, files: set[str]) -> str | None:
    """The file of `module` in the tree beside the setup script (flat or `src/` layout)."""
    relative = module.replace(".", "/")
    for base in (root, posixpath.join(root, "src")):
        for candidate in (f"{relative}.py", f"{relative}/__init__.py"):
            path = posixpath.join(base, candidate) if base else candidate
            if path in files:
                return path
    return None
