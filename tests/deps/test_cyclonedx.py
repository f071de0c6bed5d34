"""CycloneDX 1.6 SBOMs, validated with cyclonedx-python-lib's strict JSON schema validator."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

import chainproof
from chainproof.deps.model import AdvisoryRef, Distribution, Finding, Requirement, ScanResult, Severity
from chainproof.deps.report import cyclonedx
from chainproof.deps.targets.locks import scan_lockfile

LOCKS = Path(__file__).parent / "data" / "locks"
VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)
LITELLM = AdvisoryRef(
    id="MAL-2026-2144",
    aliases=("PYSEC-2026-2", "GHSA-xxxx-yyyy-zzzz"),
    summary="Malicious code in litellm",
    iocs={"hosts": ("models.litellm.cloud",), "files": ("litellm_init.pth",)},
)


def no_advisories(_: Sequence[Requirement]) -> list[Finding]:
    return []


def sbom(result: ScanResult) -> dict[str, Any]:
    text = cyclonedx.render(result)
    error = VALIDATOR.validate_str(text)
    assert error is None, str(error)
    doc: dict[str, Any] = json.loads(text)
    return doc


def environment(site: str = "/venv/lib/python3.11/site-packages") -> ScanResult:
    dists = [
        Distribution("six", "1.17.0", "six-1.17.0.dist-info", site, installer="pip"),
        Distribution("idna", "3.10", "idna-3.10.dist-info", site, installer="uv"),
        Distribution(
            "Requests",
            "2.32.3",
            "requests-2.32.3.dist-info",
            site,
            installer="pip",
            requires=(
                "idna<4,>=2.5",
                "urllib3<3,>=1.21.1",
                'PySocks!=1.5.7; extra == "socks"',
                "not valid!!",
            ),
        ),
        Distribution(
            "attrs", "25.3.0", "attrs-25.3.0.dist-info", site, direct_url={"url": "file:///src/attrs"}
        ),
        Distribution("zope.interface", "7.2", "zope.interface-7.2.dist-info", site),
        # The same project installed twice (a user site beside the venv) stays two components.
        Distribution("six", "1.17.0", "six-1.17.0.dist-info", "/home/u/.local/site-packages"),
    ]
    return ScanResult(target="/venv", packages=dists)


def components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_environment_sbom_is_valid_and_complete() -> None:
    doc = sbom(environment())
    assert doc["specVersion"] == "1.6"
    assert doc["bomFormat"] == "CycloneDX"
    comps = components(doc)
    assert set(comps) == {
        "pkg:pypi/six@1.17.0",
        "pkg:pypi/six@1.17.0#2",
        "pkg:pypi/idna@3.10",
        "pkg:pypi/requests@2.32.3",
        "pkg:pypi/attrs@25.3.0",
        "pkg:pypi/zope-interface@7.2",  # the purl carries the normalised name; `name` keeps the original
    }
    assert comps["pkg:pypi/zope-interface@7.2"]["name"] == "zope.interface"
    assert all(c["type"] == "library" for c in comps.values())
    assert props(comps["pkg:pypi/idna@3.10"]) == {
        "chainproof:installer": "uv",
        "chainproof:location": "/venv/lib/python3.11/site-packages",
        "chainproof:metadata_dir": "idna-3.10.dist-info",
    }
    assert props(comps["pkg:pypi/attrs@25.3.0"])["chainproof:direct_url"] == "file:///src/attrs"
    assert "vulnerabilities" not in doc or doc["vulnerabilities"] == []


def test_metadata_names_the_tool_and_the_time() -> None:
    when = datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
    bom = cyclonedx.to_bom(environment(), timestamp=when, serial=UUID(int=7))
    from cyclonedx.output.json import JsonV1Dot6  # noqa: PLC0415 - the same writer render uses

    doc = json.loads(JsonV1Dot6(bom).output_as_string())
    assert doc["serialNumber"] == f"urn:uuid:{UUID(int=7)}"
    assert doc["metadata"]["timestamp"].startswith("2026-03-24T12:00:00")
    (tool,) = doc["metadata"]["tools"]["components"]
    assert (tool["name"], tool["version"], tool["type"]) == (
        "chainproof",
        chainproof.__version__,
        "application",
    )
    assert {"name": "chainproof:target", "value": "/venv"} in doc["metadata"]["properties"]


def test_dependencies_follow_requires_dist_within_one_location() -> None:
    doc = sbom(environment())
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    # urllib3 and PySocks are not installed; the unreadable line is ignored.
    assert deps["pkg:pypi/requests@2.32.3"] == {"pkg:pypi/idna@3.10"}
    assert deps["pkg:pypi/six@1.17.0"] == set()
    assert set(deps) == set(components(doc))


def test_lock_scan_sbom_carries_the_pinned_hashes() -> None:
    result = scan_lockfile(LOCKS / "requirements" / "requirements.txt", matcher=no_advisories)
    doc = sbom(result)
    comps = components(doc)
    attrs = comps["pkg:pypi/attrs@25.3.0"]
    assert [h["alg"] for h in attrs["hashes"]] == ["SHA-256", "SHA-256"]
    expected = {h.split(":", 1)[1] for r in result.requirements if r.key == "attrs" for h in r.hashes}
    assert {h["content"] for h in attrs["hashes"]} == expected
    assert props(attrs) == {"chainproof:source": "requirements.txt:5"}
    # An unpinned requirement is still listed, without a version.
    unpinned = comps["pkg:pypi/charset-normalizer"]
    assert "version" not in unpinned
    assert "hashes" not in comps["pkg:pypi/urllib3@2.3.0"]


@pytest.mark.parametrize(
    "lock", ["uv/uv.lock", "pylock/pylock.toml", "poetry-v1/poetry.lock", "poetry-v2/poetry.lock"]
)
def test_every_lock_format_gives_a_valid_sbom(lock: str) -> None:
    result = scan_lockfile(LOCKS / lock, matcher=no_advisories)
    doc = sbom(result)
    assert len(doc["components"]) == len(result.requirements)


def advisory_result() -> ScanResult:
    site = "/venv/lib/python3.11/site-packages"
    result = environment(site)
    result.packages.append(
        Distribution("litellm", "1.82.8", "litellm-1.82.8.dist-info", site, installer="pip")
    )
    result.requirements.append(
        Requirement("litellm", "1.82.8", (f"sha256:{'a' * 64}",), "requirements.txt:3")
    )
    dist_info, lock = "litellm-1.82.8.dist-info", "requirements.txt"
    malicious = "litellm 1.82.8 is a known malicious release"
    result.findings = [
        Finding(
            "advisory-malicious",
            Severity.CRITICAL,
            "litellm",
            "1.82.8",
            dist_info,
            None,
            malicious,
            advisory=LITELLM,
        ),
        Finding(
            "advisory-malicious", Severity.CRITICAL, "litellm", "1.82.8", lock, 3, malicious, advisory=LITELLM
        ),
        Finding(
            "advisory-vulnerable",
            Severity.MEDIUM,
            "idna",
            "3.10",
            "idna-3.10.dist-info",
            None,
            "idna 3.10 has a known vulnerability",
            advisory=AdvisoryRef("PYSEC-2099-1"),
        ),
        Finding(
            "hook-pth-exec", Severity.CRITICAL, "litellm", "1.82.8", "litellm_init.pth", 1, "exec at startup"
        ),
    ]
    return result


def test_advisory_findings_become_vulnerabilities() -> None:
    doc = sbom(advisory_result())
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert set(vulns) == {"MAL-2026-2144", "PYSEC-2099-1"}  # the hook finding has no advisory
    mal = vulns["MAL-2026-2144"]
    assert mal["source"] == {"name": "OSV", "url": "https://osv.dev/vulnerability/MAL-2026-2144"}
    assert [r["severity"] for r in mal["ratings"]] == ["critical"]
    # Both the installed copy and the locked pin are affected, each by its own bom-ref.
    assert sorted(a["ref"] for a in mal["affects"]) == [
        "pkg:pypi/litellm@1.82.8",
        "pkg:pypi/litellm@1.82.8#2",
    ]
    refs = {(r["id"], r["source"]["name"]) for r in mal["references"]}
    assert refs == {("PYSEC-2026-2", "PyPA"), ("GHSA-xxxx-yyyy-zzzz", "GitHub Advisory Database")}
    assert {"name": "chainproof:ioc:hosts", "value": "models.litellm.cloud"} in mal["properties"]
    assert mal["description"] == "Malicious code in litellm"
    assert [r["severity"] for r in vulns["PYSEC-2099-1"]["ratings"]] == ["medium"]
    assert [a["ref"] for a in vulns["PYSEC-2099-1"]["affects"]] == ["pkg:pypi/idna@3.10"]
    assert all(r["ref"] in components(doc) for v in vulns.values() for r in v["affects"])


def test_advisory_on_an_unknown_package_has_no_dangling_reference() -> None:
    result = ScanResult(target="x")
    result.findings = [
        Finding("advisory-malicious", Severity.HIGH, "ghost", "1", "p", None, "m", advisory=LITELLM)
    ]
    doc = sbom(result)
    assert doc["vulnerabilities"][0].get("affects", []) == []


def test_the_validator_rejects_a_broken_sbom() -> None:
    # The validations above mean something only if the validator catches a bad document.
    doc = json.loads(cyclonedx.render(advisory_result()))
    doc["vulnerabilities"][0]["ratings"][0]["severity"] = "apocalyptic"
    assert VALIDATOR.validate_str(json.dumps(doc)) is not None
    doc = json.loads(cyclonedx.render(environment()))
    doc["components"][0]["type"] = "pet"
    assert VALIDATOR.validate_str(json.dumps(doc)) is not None


def test_hash_types_skip_what_cyclonedx_cannot_name() -> None:
    hashes = cyclonedx.hash_types([f"sha256:{'A' * 64}", f"sha512:{'b' * 128}", "md5:" + "c" * 32, "garbage"])
    assert [(h.alg.value, h.content) for h in hashes] == [("SHA-256", "a" * 64), ("SHA-512", "b" * 128)]
