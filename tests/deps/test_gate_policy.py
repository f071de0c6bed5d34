"""The gate's pure parts: ages, the index-fact checks, what blocks, and how pip arguments and
reports are read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chainproof.deps.gate import pip
from chainproof.deps.gate.policy import (
    RULE_AGE_UNKNOWN,
    RULE_COOLDOWN,
    RULE_HASH_MISMATCH,
    RULE_NOT_ON_INDEX,
    RULE_YANKED,
    Candidate,
    Policy,
    blocking,
    check_index_facts,
    describe_age,
    integrity_finding,
    parse_age,
    too_new_versions,
)
from chainproof.deps.gate.run import Artifact, GateResult
from chainproof.deps.index import IndexFile, Project
from chainproof.deps.model import Finding, Severity
from chainproof.deps.report import gate_report
from chainproof.errors import UsageError

NOW = datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
WEEK = Policy(timedelta(days=7), NOW)
CANDIDATE = Candidate("demo", "1.0", "https://files.example/demo-1.0-py3-none-any.whl", "aa" * 32, True)


def listed(age: timedelta | None, yanked: str | None = None, sha256: str = "aa" * 32) -> IndexFile:
    return IndexFile(
        "demo-1.0-py3-none-any.whl",
        CANDIDATE.url,
        {"sha256": sha256},
        upload_time=None if age is None else NOW - age,
        yanked=yanked,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("36h", 36 * 3600),
        ("2w", 14 * 86400),
        ("90m", 5400),
        ("15s", 15),
        ("0", 0),
        ("1.5", 129600),
        (" 3D ", 3 * 86400),
    ],
)
def test_parse_age(text: str, seconds: int) -> None:
    assert parse_age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "-1d", "7 days", "d7", "1e3d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad age"):
        parse_age(text)


def test_describe_age() -> None:
    assert [describe_age(timedelta(seconds=s)) for s in (5, 300, 5400, 3 * 86400, -4)] == [
        "5s",
        "5m",
        "1.5h",
        "3d",
        "0s",
    ]


def test_old_enough_file_passes() -> None:
    assert check_index_facts(CANDIDATE, listed(timedelta(days=8)), WEEK) == []


def test_inside_the_cooldown() -> None:
    (f,) = check_index_facts(CANDIDATE, listed(timedelta(hours=3)), WEEK)
    assert (f.rule, f.severity, f.package, f.version) == (RULE_COOLDOWN, Severity.HIGH, "demo", "1.0")
    assert "3h" in f.message
    assert "7d" in f.message
    assert check_index_facts(CANDIDATE, listed(timedelta(hours=3)), Policy(timedelta(0), NOW)) == []


def test_unknown_upload_time_fails_closed_only_with_a_cooldown() -> None:
    assert [f.rule for f in check_index_facts(CANDIDATE, listed(None), WEEK)] == [RULE_AGE_UNKNOWN]
    assert check_index_facts(CANDIDATE, listed(None), Policy(timedelta(0), NOW)) == []


def test_yanked_and_resolver_index_hash_disagreement() -> None:
    found = check_index_facts(CANDIDATE, listed(timedelta(days=30), yanked="", sha256="bb" * 32), WEEK)
    assert [(f.rule, f.severity) for f in found] == [
        (RULE_YANKED, Severity.HIGH),
        (RULE_HASH_MISMATCH, Severity.CRITICAL),
    ]


def test_not_on_index_is_high_only_under_a_cooldown() -> None:
    (f,) = check_index_facts(CANDIDATE, None, WEEK)
    assert (f.rule, f.severity) == (RULE_NOT_ON_INDEX, Severity.HIGH)
    (g,) = check_index_facts(CANDIDATE, None, Policy(timedelta(0), NOW))
    assert g.severity is Severity.MEDIUM


def test_integrity_finding() -> None:
    assert integrity_finding(CANDIDATE, "aa" * 32) is None
    found = integrity_finding(CANDIDATE, "cc" * 32)
    assert found is not None
    assert found.rule == RULE_HASH_MISMATCH
    assert found.severity is Severity.CRITICAL


def test_too_new_versions() -> None:
    def f(name: str, age: timedelta) -> IndexFile:
        return IndexFile(name, "u", upload_time=NOW - age)

    project = Project(
        "i",
        "demo",
        (
            f("demo-1.0.tar.gz", timedelta(days=30)),
            f("demo-1.1.tar.gz", timedelta(days=2)),
            f("demo-1.2-py3-none-any.whl", timedelta(hours=1)),
        ),
    )
    assert too_new_versions(project, WEEK) == ["1.1", "1.2"]


def finding(rule: str, severity: Severity) -> Finding:
    return Finding(rule, severity, "demo", "1.0", "p", None, "m")


def test_blocking_policy_findings_ignore_fail_on() -> None:
    found = [
        finding(RULE_COOLDOWN, Severity.HIGH),
        finding("code-env-dump", Severity.HIGH),
        finding(RULE_NOT_ON_INDEX, Severity.MEDIUM),
    ]
    assert [f.rule for f in blocking(found, Severity.CRITICAL)] == [RULE_COOLDOWN]
    assert [f.rule for f in blocking(found, Severity.HIGH)] == [RULE_COOLDOWN, "code-env-dump"]
    assert len(blocking(found, Severity.MEDIUM)) == 3


def test_split_pip_args() -> None:
    parsed = pip.split_pip_args(
        [
            "-U",
            "-i",
            "https://a/simple",
            "--extra-index-url=https://b/simple",
            "--target",
            "/t",
            "--user",
            "req>=1",
            "-r",
            "f.txt",
        ]
    )
    assert parsed.index_url == "https://a/simple"
    assert parsed.extra_index_urls == ["https://b/simple"]
    assert parsed.install == ["--target", "/t", "--user"]
    assert parsed.resolve == ["-U", "--target", "/t", "--user", "req>=1", "-r", "f.txt"]
    with pytest.raises(UsageError, match="needs a value"):
        pip.split_pip_args(["--index-url"])


def test_source_requirements_are_refused_in_args_and_nested_files(tmp_path: Path) -> None:
    pip.refuse_source_requirements(["requests>=2", "--find-links", str(tmp_path), "-U"])
    (tmp_path / "inner.txt").write_text("# comment\nsix==1.16.0 --hash=sha256:00\n-e ./local\n")
    (tmp_path / "outer.txt").write_text("-r inner.txt\n")
    with pytest.raises(UsageError, match=r"inner.txt:3: '-e' needs a build"):
        pip.refuse_source_requirements(["-r", str(tmp_path / "outer.txt")])
    for arg in ("git+https://example.org/x.git", str(tmp_path), "./demo-1.0.tar.gz", "--editable=."):
        with pytest.raises(UsageError, match="build from source"):
            pip.refuse_source_requirements([arg])
    with pytest.raises(UsageError, match="cannot read requirements file"):
        pip.refuse_source_requirements(["-r", str(tmp_path / "missing.txt")])


def report(*items: dict[str, object]) -> str:
    return json.dumps({"version": "1", "install": list(items)})


def test_parse_report() -> None:
    item = {
        "download_info": {
            "url": "https://f/demo-1.0-py3-none-any.whl",
            "archive_info": {"hashes": {"sha256": "ab" * 32}},
        },
        "requested": True,
        "metadata": {"name": "demo", "version": "1.0"},
    }
    old_style = {
        "download_info": {"url": "https://f/dep-2.0.tar.gz", "archive_info": {"hash": "sha256=" + "cd" * 32}},
        "metadata": {"name": "dep", "version": "2.0"},
    }
    a, b = pip.parse_report(report(item, old_style))
    assert (a.name, a.version, a.sha256, a.requested, a.filename) == (
        "demo",
        "1.0",
        "ab" * 32,
        True,
        "demo-1.0-py3-none-any.whl",
    )
    assert (b.sha256, b.requested) == ("cd" * 32, False)
    tree = {
        "download_info": {"url": "file:///src/demo", "dir_info": {}},
        "metadata": {"name": "demo", "version": "1"},
    }
    with pytest.raises(UsageError, match="source tree"):
        pip.parse_report(report(tree))
    for bad in ("", "{}", '{"install": [1]}'):
        with pytest.raises(pip.ResolveError):
            pip.parse_report(bad)


def test_pinned_requirements(tmp_path: Path) -> None:
    text = pip.pinned_requirements([(tmp_path / "a-1.0-py3-none-any.whl", "ab" * 32)])
    assert text == f"{tmp_path / 'a-1.0-py3-none-any.whl'} --hash=sha256:{'ab' * 32}\n"


def test_the_packages_table_says_why_an_upload_time_is_missing() -> None:
    result = GateResult(
        artifacts=[
            Artifact(CANDIDATE, listed(timedelta(days=9))),
            Artifact(CANDIDATE, listed(None, yanked="broken")),
            Artifact(CANDIDATE, None),
        ]
    )
    rows = [line for line in gate_report.render_table(result, "demo").splitlines() if "demo-1.0" in line]
    assert "2026-03-15 12:00" in rows[0]
    assert "not given (yanked)" in rows[1]
    assert "not on the index" in rows[2]
    assert not any(" ? " in row for row in rows)
