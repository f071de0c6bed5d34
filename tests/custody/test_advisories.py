"""Recorded environments judged against the advisories as they stand now."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainproof.custody.advisories import Advisories, affected_names
from chainproof.custody.records import Digest, EnvFinding, Environment, Package
from chainproof.deps.model import Severity
from chainproof.errors import UsageError


def environment(*packages: tuple[str, str], findings: tuple[EnvFinding, ...] = ()) -> Environment:
    return Environment(
        python="/venv",
        sbom=Digest("sha256:" + "00" * 32),
        packages=tuple(Package(name=n, version=v, record_sha256=None) for n, v in packages),
        findings=findings,
    )


@pytest.fixture
def advisories(tmp_path: Path) -> Advisories:
    return Advisories.open(tmp_path / "no-database.db")  # the bundled records only


def test_todays_advisories_replace_the_recorded_advisory_findings(advisories: Advisories) -> None:
    stale = EnvFinding(rule="advisory-vulnerable", severity=Severity.LOW, package="requests")
    hook = EnvFinding(rule="hook-pth-exec", severity=Severity.CRITICAL, package="litellm")
    env = environment(("LiteLLM", "1.82.8"), ("requests", "2.0"), findings=(stale, hook))
    assert advisories.judge(env) == [
        ("hook-pth-exec", Severity.CRITICAL, "litellm"),
        ("advisory-malicious", Severity.CRITICAL, "LiteLLM"),
    ]
    assert advisories.judge(environment(("litellm", "1.82.6"))) == []


def test_advisories_by_id_or_alias(advisories: Advisories) -> None:
    record = advisories.advisory("MAL-2026-2144")
    assert affected_names(record) == ["litellm"]
    assert advisories.advisory("PYSEC-2026-2") == record
    assert advisories.covering("litellm", "1.82.7") == ["MAL-2026-2144"]
    with pytest.raises(UsageError, match="no advisory 'GHSA-none'"):
        advisories.advisory("GHSA-none")
