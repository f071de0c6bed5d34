"""The pre-install gate end to end, against a package index on 127.0.0.1 and a real venv.

pip resolves for a fresh venv (wheels only), the gate checks what the index says about each file,
downloads, scans and diffs, and installs only what it allowed. No test touches the network beyond
the loopback index; pip's machine configuration is switched off so only that index is seen.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from deps_support import make_wheel, site_of
from index_support import LocalIndex, serve

from chainproof.cli.app import main
from chainproof.deps.gate.policy import (
    RULE_COOLDOWN,
    RULE_NEEDS_BUILD,
    RULE_NOT_ON_INDEX,
    RULE_YANKED,
)
from chainproof.deps.gate.run import GateRequest, GateResult, run_gate
from chainproof.deps.model import Severity
from chainproof.deps.rules.names import RULE_CONFUSION

PAYLOAD = "aW1wb3J0IG9zCm9wZW4ob3MuZW52aXJvblsiQ0FOQVJZIl0sICJ3Iikud3JpdGUoInBhd25lZCIp"
CANARY_PTH = f"import base64, os; exec(base64.b64decode('{PAYLOAD}'))\n"
"""A LiteLLM-style startup hook; its payload would write to $CANARY (it is never run)."""


@pytest.fixture(autouse=True)
def _isolated_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the test's index: no pip.conf, no PIP_* variables from the machine."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("CHAINPROOF_QUIET", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    yield from serve(tmp_path / "index")


@pytest.fixture
def venv(fresh_venv: Path, tmp_path: Path) -> Path:
    target = tmp_path / "venv"
    shutil.copytree(fresh_venv, target, symlinks=True)
    return target


def python_of(venv: Path) -> str:
    return str(venv / "bin" / "python")


def gate(index: LocalIndex, venv: Path, *args: str, **options: object) -> GateResult:
    request = GateRequest(pip_args=list(args), python=python_of(venv), index_url=index.url, **options)  # type: ignore[arg-type]
    return run_gate(request)


def installed(venv: Path) -> set[str]:
    return {p.name for p in site_of(venv).glob("*.dist-info")}


def rules(result: GateResult) -> set[str]:
    return {f.rule for f in result.findings}


def clean_files(name: str) -> dict[str, str]:
    return {f"{name}/__init__.py": "VALUE = 1\n"}


def test_clean_release_is_allowed_and_installed_by_hash(index: LocalIndex, venv: Path) -> None:
    index.add("alpha", "1.0", clean_files("alpha"), requires=("beta>=2",))
    index.add("beta", "2.0", clean_files("beta"))
    result = gate(index, venv, "alpha", install=True)
    assert [(a.candidate.name, a.candidate.version) for a in result.artifacts] == [
        ("alpha", "1.0"),
        ("beta", "2.0"),
    ]
    assert not result.blocked
    assert not result.errors
    assert result.installed
    assert {"alpha-1.0.dist-info", "beta-2.0.dist-info"} <= installed(venv)
    for a in result.artifacts:
        assert a.listed is not None
        assert a.sha256 == a.listed.sha256


def test_cooldown_resolves_to_the_newest_release_old_enough(index: LocalIndex, venv: Path) -> None:
    index.add("alpha", "1.0", clean_files("alpha"), age=timedelta(days=40))
    index.add("alpha", "1.1", clean_files("alpha"), age=timedelta(days=10))
    index.add("alpha", "1.2", clean_files("alpha"), age=timedelta(hours=3))
    result = gate(index, venv, "alpha", min_age=timedelta(days=7))
    assert [a.candidate.version for a in result.artifacts] == ["1.1"]
    assert result.excluded == {"alpha": ["1.2"]}
    assert not result.blocked


def test_a_pin_inside_the_cooldown_is_blocked_and_not_installed(index: LocalIndex, venv: Path) -> None:
    index.add("alpha", "1.0", clean_files("alpha"), age=timedelta(days=40))
    index.add("alpha", "1.2", clean_files("alpha"), age=timedelta(hours=3))
    result = gate(index, venv, "alpha==1.2", install=True)
    assert [f.rule for f in result.blocked] == [RULE_COOLDOWN]
    assert not result.installed
    assert "alpha-1.2.dist-info" not in installed(venv)
    # --min-age 0 switches the cooldown off.
    assert not gate(index, venv, "alpha==1.2", min_age=timedelta(0)).blocked


def test_cooldown_blocks_even_when_fail_on_is_critical(index: LocalIndex, venv: Path) -> None:
    index.add("alpha", "1.2", clean_files("alpha"), age=timedelta(hours=3))
    result = gate(index, venv, "alpha==1.2", fail_on=Severity.CRITICAL)
    assert [f.rule for f in result.blocked] == [RULE_COOLDOWN]


def test_yanked_pin_is_blocked(index: LocalIndex, venv: Path) -> None:
    index.add("alpha", "1.0", clean_files("alpha"))
    index.add("alpha", "1.1", clean_files("alpha"), yanked="broken upload")
    result = gate(index, venv, "alpha==1.1")
    yanked = [f for f in result.blocked if f.rule == RULE_YANKED]
    assert len(yanked) == 1
    assert "broken upload" in yanked[0].message


def add_litellm_pair(index: LocalIndex) -> None:
    """1.82.6 clean, 1.82.8 with a LiteLLM-style startup hook; both old enough for the cooldown."""
    index.add("litellm", "1.82.6", clean_files("litellm"), age=timedelta(days=60))
    hooked = {**clean_files("litellm"), "litellm_init.pth": CANARY_PTH}
    index.add("litellm", "1.82.8", hooked, age=timedelta(days=60))


def test_startup_hook_release_is_blocked_and_nothing_runs(
    index: LocalIndex, venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = tmp_path / "canary"
    monkeypatch.setenv("CANARY", str(canary))
    add_litellm_pair(index)
    result = gate(index, venv, "litellm==1.82.8", install=True)
    assert any(f.rule.startswith("hook-") and f.severity >= Severity.HIGH for f in result.blocked)
    assert not result.installed
    assert not any(p.name.startswith("litellm") for p in site_of(venv).iterdir())
    assert not canary.exists()


def test_upgrade_is_compared_with_the_installed_release(index: LocalIndex, venv: Path) -> None:
    add_litellm_pair(index)
    assert gate(index, venv, "litellm==1.82.6", install=True).installed
    result = gate(index, venv, "litellm==1.82.8", fresh=False)
    assert [(a.candidate.version, a.previous) for a in result.artifacts] == [("1.82.8", "1.82.6")]
    assert any(f.rule.startswith("diff-") for f in result.findings)


def test_sdist_only_requirement_is_a_finding_not_a_build(
    index: LocalIndex, venv: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "built"
    setup = (
        f"open({str(marker)!r}, 'w').write('built')\n"
        "from setuptools import setup\nsetup(name='gamma', version='1.0')\n"
    )
    index.add("gamma", "1.0", {"setup.py": setup}, sdist=True)
    result = gate(index, venv, "gamma", install=True)
    assert [f.rule for f in result.blocked] == [RULE_NEEDS_BUILD]
    assert "only source distributions" in result.blocked[0].message
    assert result.unresolved
    assert not result.installed
    assert not marker.exists()


def test_index_without_upload_times_fails_the_cooldown_closed(tmp_path: Path, venv: Path) -> None:
    for html_index in serve(tmp_path / "html", json_pages=False):
        html_index.add("alpha", "1.0", clean_files("alpha"))
        result = gate(html_index, venv, "alpha")
        assert [f.rule for f in result.blocked] == ["gate-age-unknown"]
        assert not gate(html_index, venv, "alpha", min_age=timedelta(0)).blocked


def test_a_file_the_index_does_not_list_is_flagged(index: LocalIndex, venv: Path, tmp_path: Path) -> None:
    index.add("alpha", "1.0", clean_files("alpha"))
    elsewhere = tmp_path / "elsewhere"
    make_wheel(elsewhere, "delta", "1.0", clean_files("delta"))
    result = gate(index, venv, "delta", "--find-links", str(elsewhere))
    assert [f.rule for f in result.findings if f.rule.startswith("gate-")] == [RULE_NOT_ON_INDEX]


def test_dependency_confusion_between_two_indexes(tmp_path: Path, venv: Path) -> None:
    for private in serve(tmp_path / "private"):
        for public in serve(tmp_path / "public"):
            private.add("acme-utils", "1.2", clean_files("acme_utils"))
            public.add("acme-utils", "99.0", clean_files("acme_utils"))
            result = run_gate(
                GateRequest(
                    pip_args=["acme-utils"],
                    python=python_of(venv),
                    index_url=private.url,
                    extra_index_urls=[public.url],
                )
            )
            confusion = [f for f in result.findings if f.rule == RULE_CONFUSION]
            assert len(confusion) == 1
            assert confusion[0].severity is Severity.HIGH
            assert [a.candidate.version for a in result.artifacts] == ["99.0"]


def test_cli_json_report_and_exit_codes(
    index: LocalIndex, venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.add("alpha", "1.0", clean_files("alpha"))
    index.add("alpha", "1.2", clean_files("alpha"), age=timedelta(hours=1))
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.2\n")
    common = ["deps", "gate", "--python", python_of(venv), "--index-url", index.url, "-f", "json"]
    assert main([*common, "-r", str(req)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"packages", "findings", "excluded", "decision", "summary"}
    assert report["decision"]["allowed"] is False
    assert report["decision"]["installed"] is False
    assert [f["rule"] for f in report["decision"]["blocking"]] == [RULE_COOLDOWN]
    assert report["packages"][0]["name"] == "alpha"
    assert report["packages"][0]["upload_time"]
    assert main([*common, "--min-age", "30m", "-r", str(req)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["allowed"] is True


def test_json_is_format_json_for_the_gate_and_pip(
    index: LocalIndex, venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.add("alpha", "1.0", clean_files("alpha"))
    wheelhouse = tmp_path / "wheelhouse"
    make_wheel(wheelhouse, "alpha", "1.0", clean_files("alpha"))
    python = ["--python", python_of(venv)]
    gate_args = ["deps", "gate", *python, "--index-url", index.url, "alpha"]
    # A wheelhouse is on no index: the gate blocks it, so nothing is installed.
    pip_install = ["install", "--no-index", "--find-links", str(wheelhouse), "alpha==1.0"]
    outputs: dict[tuple[str, str], str] = {}
    for option in ("--json", "--format=json"):
        assert main([*gate_args, option]) == 0
        outputs["gate", option] = capsys.readouterr().out
        assert main(["pip", *python, option, *pip_install]) == 1
        outputs["pip", option] = capsys.readouterr().out
    for command in ("gate", "pip"):
        assert outputs[command, "--json"] == outputs[command, "--format=json"]
        assert json.loads(outputs[command, "--json"])["summary"]["packages"] == 1


def test_pip_wrapper_installs_into_a_target_dir(
    index: LocalIndex, venv: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    index.add("alpha", "1.0", clean_files("alpha"))
    target = tmp_path / "target"
    code = main(
        ["pip", "--python", python_of(venv), "install", "-i", index.url, "--target", str(target), "alpha"]
    )
    assert code == 0
    assert (target / "alpha" / "__init__.py").is_file()
    assert "alpha-1.0.dist-info" not in installed(venv)
    # CHAINPROOF_QUIET (set for every test here) quiets pip's install too, and the report is on stdout.
    out, err = capfd.readouterr()
    assert "decision: installed" in out
    assert err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deps", "gate"], "requirement"),
        (["deps", "gate", "--min-age", "soon", "x"], "bad age"),
        (["deps", "gate", "--python", "/nonexistent/python", "x"], "no such interpreter"),
        (["deps", "gate", "-e", "."], "no such option"),
        (["deps", "gate", "--json", "--format", "table", "x"], "--json and --format table"),
        (["deps", "gate", "git+https://example.invalid/x.git"], "build from source"),
        (["deps", "gate", "--index-url", "ftp://example.invalid/simple", "x"], "unsupported index URL"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unreachable_index_is_a_clear_error(venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["deps", "gate", "--python", python_of(venv), "--index-url", "http://127.0.0.1:9/simple/", "alpha"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error" in err


def test_pip_wrapper_without_an_index_checks_a_local_wheelhouse(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    make_wheel(wheelhouse, "litellm", "1.82.8", {**clean_files("litellm"), "litellm_init.pth": CANARY_PTH})
    args = ["--no-index", "--find-links", str(wheelhouse), "litellm==1.82.8"]
    code = main(["pip", "--python", python_of(venv), "-f", "json", "install", *args])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    blocking = {f["rule"] for f in report["decision"]["blocking"]}
    assert RULE_NOT_ON_INDEX in blocking
    assert any(rule.startswith("hook-") for rule in blocking)
    assert report["packages"][0]["on_index"] is False
    assert not any(p.name.startswith("litellm") for p in site_of(venv).iterdir())


def test_an_interpreter_with_a_malicious_startup_hook_is_never_started(
    index: LocalIndex,
    venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    canary = tmp_path / "canary"
    monkeypatch.setenv("CANARY", str(canary))
    (site_of(venv) / "evil.pth").write_text(CANARY_PTH)
    index.add("alpha", "1.0", clean_files("alpha"))
    code = main(["deps", "gate", "--python", python_of(venv), "--index-url", index.url, "alpha"])
    assert code == 1
    err = capsys.readouterr().err
    assert "refusing to start" in err
    assert "evil.pth" in err
    assert not canary.exists()
