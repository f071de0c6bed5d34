"""What part a file plays once installed: a startup hook, an install script, a module, a test.

The same code means different things in different places: a decode-and-exec in a `.pth` file runs
at every interpreter start, in `setup.py` at every source install, in a test only when someone runs
the tests. Rules ask `classify` and grade their findings by the answer.
"""

from __future__ import annotations

import ast
import re

from chainproof.deps.files import FileTree, TargetKind, TreeError
from chainproof.deps.rules.base import FileRole
from chainproof.deps.rules.syntax import quiet_parse

_HOOK_MODULES = frozenset({"sitecustomize.py", "usercustomize.py"})
# Tests, demos and examples run only when someone runs them by hand.
_TEST_DIRS = frozenset(
    {"tests", "test", "_tests", "unittests", "demos", "demo", "examples", "example", "samples"}
)
_BENCH_DIRS = frozenset({"benchmarks", "benchmark", "asv_bench"})
_TEST_FILE = re.compile(r"^(test_.*|.*_test|conftest|tests?)\.py$")
# Only setup.py and the build hooks named by backends run at build time; a setup.py deep inside a
# package (a vendored copy, an example) is not what pip runs.
_BUILD_HOOKS = frozenset({"setup.py", "hatch_build.py", "pdm_build.py"})
# Wheels install `<name>.data/purelib/` and `.../platlib/` straight into site-packages.
_WHEEL_DATA_ROOT = re.compile(r"^[^/]+\.data/(?:purelib|platlib)/")


def installed_path(path: str, kind: TargetKind) -> str:
    """Where a file lands in site-packages: wheel `.data/purelib` prefixes are dropped."""
    if kind is TargetKind.WHEEL:
        return _WHEEL_DATA_ROOT.sub("", path, count=1)
    return path


def _is_root_level(path: str, kind: TargetKind) -> bool:
    """True where site.py looks for hooks: the top of site-packages (or of a wheel's payload).

    An sdist has no site-packages layout; its build can copy any file into place, so every level
    counts (sdists nest everything under one `name-version/` directory), except test fixtures.
    """
    if kind is TargetKind.SDIST:
        return not any(p in _TEST_DIRS for p in path.split("/")[:-1])
    return "/" not in installed_path(path, kind)


def is_pth(path: str) -> bool:
    return path.endswith(".pth")


def is_start_file(path: str) -> bool:
    return path.endswith(".start")


def classify(path: str, kind: TargetKind) -> FileRole:
    """The role of `path` (relative to the scanned root) in a tree of the given kind."""
    name = path.rsplit("/", 1)[-1]
    if (is_pth(name) or is_start_file(name) or name in _HOOK_MODULES) and _is_root_level(path, kind):
        return FileRole.STARTUP_HOOK
    if not name.endswith(".py"):
        return FileRole.OTHER
    # An sdist nests everything under `name-version/`; elsewhere only a top-level script counts.
    top = 1 if kind is TargetKind.SDIST else 0
    if name in _BUILD_HOOKS and path.count("/") <= top:
        return FileRole.INSTALL_SCRIPT
    parts = path.split("/")[:-1]
    if _TEST_FILE.match(name) or any(p in _TEST_DIRS or _test_words(p) for p in parts):
        return FileRole.TEST
    if kind is TargetKind.SDIST and _sdist_tooling(path.split("/")[1:]):
        return FileRole.TEST
    return FileRole.MODULE


def _test_words(folder: str) -> bool:
    """A folder named in words, one of them a test word (`test cases`, `manual tests`): no package
    can have that name, and the words say what it holds."""
    words = re.split(r"[\s-]+", folder)
    return len(words) > 1 and any(w in _TEST_DIRS for w in words)


def _sdist_tooling(parts: list[str]) -> bool:
    """A script of the source tree rather than package code: under a benchmarks directory, or a file
    whose own name no `import` statement can name (`tools/pre-commit-hook.py`, `run-bench.py`).

    Only in sdists, whose trees carry a project's whole tooling; in a wheel or an environment every
    file is installed. A *folder* whose name is no identifier is not tooling for that: `package_dir`
    can install it as a package, and malware hides its payload in `pkg-name/__init__.py`.
    """
    *dirs, name = parts
    return any(d in _BENCH_DIRS for d in dirs) or not name.removesuffix(".py").isidentifier()


MAX_HOOK_BYTES = 1024 * 1024
"""The most read of one `.pth` or `.start` file; site.py reads them whole, real ones are tiny."""


def pth_exec_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a `.pth` file that site.py executes, with their line numbers.

    site.py skips comments and blank lines, executes lines that start with `import` followed by a
    space or a tab, and treats every other line as a directory to add to `sys.path`.
    """
    return [
        (number, line.rstrip("\r\n"))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.startswith(("import ", "import\t"))
    ]


def pth_path_dirs(text: str) -> list[str]:
    """Directories a `.pth` adds to sys.path, relative to site-packages (pywin32 adds `win32\\lib`)."""
    dirs = []
    for line in text.splitlines():
        entry = line.strip().replace("\\", "/")
        if entry and not entry.startswith(("#", "import ", "import\t", "/")) and ".." not in entry.split("/"):
            dirs.append(entry)
    return dirs


def _imported_modules(code: str) -> set[str]:
    try:
        tree = quiet_parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def startup_modules(tree: FileTree) -> frozenset[str]:
    """Installed paths of the modules that `.pth` and `.start` hooks import at every start.

    Their code runs as early as the hook itself, so a payload moved from the `.pth` line into the
    module it imports is judged as startup code all the same.
    """
    if tree.kind is TargetKind.SDIST:
        return frozenset()
    modules: set[tuple[str, str]] = set()
    """(directory the module is searched in, dotted module name)"""
    for path in tree.paths():
        if (
            not (is_pth(path) or is_start_file(path))
            or classify(path, tree.kind) is not FileRole.STARTUP_HOOK
        ):
            continue
        try:
            text = tree.read(path, MAX_HOOK_BYTES).decode("utf-8", "replace")
        except TreeError:
            continue
        if is_start_file(path):
            modules.update(("", m) for m in _start_modules(text))
            continue
        for _number, line in pth_exec_lines(text):
            for module in _imported_modules(line):
                modules.update((d, module) for d in ["", *pth_path_dirs(text)])
    return frozenset(
        f"{d.strip('/')}/{p}" if d.strip("/") else p
        for d, m in modules
        for p in (f"{m.replace('.', '/')}.py", f"{m.replace('.', '/')}/__init__.py")
    )


def _start_modules(text: str) -> set[str]:
    """Modules named by the `module:callable` entry points of a PEP 829 `.start` file."""
    found = set()
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            module = line.split(":", 1)[0].strip()
            if module.replace(".", "").replace("_", "").isalnum():
                found.add(module)
    return found
