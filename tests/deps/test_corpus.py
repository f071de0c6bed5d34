"""Every replica of a published technique is caught at high or above, and nothing ever runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import BUILDERS, Replica, litellm_pth, nested_layers

from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.rules.code import binary_rules, code_rules
from chainproof.deps.rules.hooks import hook_rules


def scan(replica: Replica) -> list[Finding]:
    ctx = ScanContext(replica.tree(), replica.dists, replica.owners)
    found: list[Finding] = []
    for rule in (hook_rules, code_rules, binary_rules):
        found.extend(rule(ctx))
    return found


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), f"a payload ran during the test: {sorted(p.name for p in path.iterdir())}"


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_replica_is_caught_by_its_rule(build, tmp_path: Path, canary: Path) -> None:
    replica = build(tmp_path / "corpus", canary)
    found = scan(replica)
    hits = [f for f in found if f.rule == replica.rule and f.path == replica.path]
    assert hits, f"{replica.name}: {replica.rule} did not fire; got {[(f.rule, f.path) for f in found]}"
    assert max(f.severity for f in hits) >= Severity.HIGH, hits


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_findings_name_the_package_and_stay_short(build, tmp_path: Path, canary: Path) -> None:
    replica = build(tmp_path / "corpus", canary)
    for f in scan(replica):
        assert len(f.evidence) <= 120
        assert f.message
        assert "\n" not in f.message
        if replica.owners.get(f.path) is not None:
            assert f.package == replica.owners[f.path].name
            assert f.version == replica.owners[f.path].version


def test_no_canary_fires_while_scanning_the_whole_corpus(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    replicas = [build(tmp_path / "corpus", canary) for build in BUILDERS]
    caught = {r.name for r in replicas if any(f.severity >= Severity.HIGH for f in scan(r))}
    assert caught == {r.name for r in replicas}
    assert not canary.exists()


def test_the_litellm_hook_is_critical(tmp_path: Path) -> None:
    found = scan(litellm_pth(tmp_path / "corpus", tmp_path / "canary"))
    hook = [f for f in found if f.rule == "hook-pth-exec"]
    assert [f.severity for f in hook] == [Severity.CRITICAL]
    assert (hook[0].line, hook[0].package, hook[0].version) == (1, "litellm", "1.82.8")


def test_nested_layers_raise_a_function_level_exec_to_critical(tmp_path: Path) -> None:
    found = scan(nested_layers(tmp_path / "corpus", tmp_path / "canary"))
    [hit] = [f for f in found if f.rule == "code-exec-decoded"]
    assert hit.severity is Severity.CRITICAL
    assert "2 decoding layer" in hit.message
