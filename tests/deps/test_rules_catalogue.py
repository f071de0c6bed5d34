"""docs/rules.md documents every rule id the dependency guard can emit, each exactly once.

The ids are collected from the source, not from a hand-kept list: every string that reaches the
`rule` of a finding. A rule sink is `Finding` (or any class with a `rule` field), or a helper whose
`rule` parameter it passes on to a sink (`_finding(where, "code-env-dump", ...)`). What a sink
receives is resolved through string literals, module-level constants (also imported ones, such as
`PROBLEM_RULE`) and local assignments (`rule, severity = RULE_MALICIOUS, ...`). An argument the
collector cannot resolve fails the test, so a new way of naming a rule cannot slip past it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chainproof.deps.targets.locks import RULE_DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "chainproof"
DEPS = PACKAGE / "deps"
CATALOGUE = ROOT / "docs" / "rules.md"

RULE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
HEADING = re.compile(r"^### `([^`]+)`\s*$", re.MULTILINE)
Function = ast.FunctionDef | ast.AsyncFunctionDef

TOC_ROW = re.compile(r"^\| \[`([^`]+)`\]\(#([^)]+)\) \| `(info|low|medium|high|critical)` \|", re.MULTILINE)


# --- the source ------------------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    constants: dict[str, str] = field(default_factory=dict)
    """Module-level `NAME = "text"` assignments."""
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    """`from module import NAME as alias`: alias -> (module, NAME)."""
    tables: dict[str, list[ast.expr]] = field(default_factory=dict)
    """Module-level `NAME = {key: value, ...}` dicts: a rule looked up in one is any of its values."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def load_modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(DEPS.rglob("*.py")):
        module = Module(_module_name(path), path, ast.parse(path.read_text("utf-8"), str(path)))
        for node in module.tree.body:
            target, value = _simple_assignment(node)
            if target is not None and isinstance(value, ast.Constant) and isinstance(value.value, str):
                module.constants[target] = value.value
            if target is not None and isinstance(value, ast.Dict):
                module.tables[target] = list(value.values)
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (node.module, alias.name)
        modules[module.name] = module
    return modules


def _simple_assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return None, None


def _functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, Function):
            yield node


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _rule_argument(call: ast.Call, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "rule":
            return keyword.value
    if position < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def _rule_position(function: Function) -> int | None:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    return names.index("rule") if "rule" in names else None


def find_sinks(modules: dict[str, Module]) -> dict[str, int]:
    """Callable name -> position of its `rule` argument, for everything that names a finding's rule.

    Classes with a `rule` field (Finding, and matches that become findings), then, to a fixed point,
    functions that hand their own `rule` parameter to one of those.
    """
    sinks: dict[str, int] = {}
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                fields = [
                    s.target.id
                    for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                ]
                if "rule" in fields:
                    sinks[node.name] = fields.index("rule")
    changed = True
    while changed:
        changed = False
        for module in modules.values():
            for function in _functions(module.tree):
                position = _rule_position(function)
                if position is None or function.name in sinks:
                    continue
                for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                    name = _callee(call)
                    if name not in sinks:
                        continue
                    arg = _rule_argument(call, sinks[name])
                    if isinstance(arg, ast.Name) and arg.id == "rule":
                        sinks[function.name] = position
                        changed = True
                        break
    return sinks


@dataclass
class Collected:
    ids: dict[str, set[str]] = field(default_factory=dict)
    """Rule id -> `file:line` of every place that emits it."""
    unresolved: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self, modules: dict[str, Module], sinks: dict[str, int]) -> None:
        self.modules = modules
        self.sinks = sinks
        self.result = Collected()

    def run(self) -> Collected:
        for module in self.modules.values():
            self._scope(module, module.tree, None)
        return self.result

    def _scope(self, module: Module, node: ast.AST, function: Function | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, Function):
                self._scope(module, child, child)
                continue
            if isinstance(child, ast.Call):
                self._call(module, child, function)
            self._scope(module, child, function)

    def _call(self, module: Module, call: ast.Call, function: Function | None) -> None:
        name = _callee(call)
        if name not in self.sinks:
            return
        arg = _rule_argument(call, self.sinks[name])
        where = f"{module.path.relative_to(ROOT)}:{call.lineno}"
        if arg is None:
            self.result.unresolved.append(f"{where}: {name}(...) without a rule argument")
            return
        for value in self._values(module, arg, function, where, depth=0):
            self.result.ids.setdefault(value, set()).add(where)

    def _values(
        self, module: Module, expr: ast.expr, function: Function | None, where: str, depth: int
    ) -> Iterator[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            yield expr.value
        elif isinstance(expr, ast.IfExp):
            yield from self._values(module, expr.body, function, where, depth)
            yield from self._values(module, expr.orelse, function, where, depth)
        elif isinstance(expr, ast.Attribute) and expr.attr == "rule":
            return  # `found.rule`: the id was named where `found` was built, itself a sink
        elif isinstance(expr, ast.Name):
            yield from self._name(module, expr.id, function, where, depth)
        elif (
            isinstance(expr, ast.Subscript)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in module.tables
        ):
            for value in module.tables[expr.value.id]:
                yield from self._values(module, value, function, where, depth)
        else:
            self.result.unresolved.append(f"{where}: {ast.unparse(expr)}")

    def _name(
        self, module: Module, name: str, function: Function | None, where: str, depth: int
    ) -> Iterator[str]:
        if function is not None and depth < 5:
            params = {a.arg for a in (*function.args.posonlyargs, *function.args.args)}
            if name == "rule" and name in params:
                return  # a helper passing its own parameter on; its callers are collected
            local = list(_assigned(function, name))
            if local:
                for value in local:
                    yield from self._values(module, value, function, where, depth + 1)
                return
        constant = self._constant(module, name)
        if constant is None:
            self.result.unresolved.append(f"{where}: {name}")
        else:
            yield constant

    def _constant(self, module: Module, name: str) -> str | None:
        if name in module.constants:
            return module.constants[name]
        if name in module.imports:
            source, original = module.imports[name]
            if source in self.modules:
                return self._constant(self.modules[source], original)
        return None


def _assigned(function: Function, name: str) -> Iterator[ast.expr]:
    """Every value assigned to local `name` in `function`, tuple unpacking included."""
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == name:
                yield node.value
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for item, value in zip(target.elts, node.value.elts, strict=False):
                    if isinstance(item, ast.Name) and item.id == name:
                        yield value


def emitted_rule_ids() -> Collected:
    modules = load_modules()
    return _Collector(modules, find_sinks(modules)).run()


# --- the catalogue ---------------------------------------------------------------------------------


def catalogue() -> str:
    return CATALOGUE.read_text("utf-8")


def test_every_rule_argument_in_the_source_is_understood() -> None:
    collected = emitted_rule_ids()
    assert collected.unresolved == [], (
        "rule ids passed in a way this test cannot resolve; name them with a literal or a "
        "module-level constant, or teach the collector:\n" + "\n".join(collected.unresolved)
    )
    bad = sorted(i for i in collected.ids if not RULE_ID.fullmatch(i))
    assert bad == [], f"rule ids that are not lower-case-with-hyphens: {bad}"


def test_the_collector_sees_every_kind_of_rule() -> None:
    # Guards the collector itself: each family is named in a different way in the source.
    ids = set(emitted_rule_ids().ids)
    families = {i.split("-", 1)[0] for i in ids}
    expected = {"hook", "code", "install", "binary", "record", "orphan", "metadata", "archive"}
    assert families >= expected | {"lock", "advisory", "name"}
    assert set(RULE_DESCRIPTIONS) <= ids


def test_every_emitted_rule_has_exactly_one_entry() -> None:
    emitted = emitted_rule_ids().ids
    headings = HEADING.findall(catalogue())
    missing = {rule: sorted(where) for rule, where in emitted.items() if rule not in headings}
    assert missing == {}, f"rules emitted by the source but not documented in docs/rules.md: {missing}"
    twice = sorted({h for h in headings if headings.count(h) > 1})
    assert twice == [], f"rules documented more than once: {twice}"


def test_every_entry_is_a_rule_the_source_emits() -> None:
    emitted = set(emitted_rule_ids().ids)
    stale = sorted(set(HEADING.findall(catalogue())) - emitted)
    assert stale == [], f"docs/rules.md documents rules the source no longer emits: {stale}"


def test_the_contents_table_lists_every_rule_with_its_severity() -> None:
    text = catalogue()
    contents = text[: text.index("\n## ", text.index("## Contents") + 1)]
    rows = TOC_ROW.findall(contents)
    listed = [rule for rule, _, _ in rows]
    assert sorted(listed) == sorted(set(emitted_rule_ids().ids))
    assert len(listed) == len(set(listed))
    assert all(rule == anchor for rule, anchor, _ in rows)
    # The contents follow the order of the entries below them.
    assert listed == HEADING.findall(text)
