"""OSV record parsing and matching: versions lists, ranges, withdrawn records, severities."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chainproof.deps.advisories.osv import (
    AdvisoryFormatError,
    affects,
    cvss3_base_score,
    describe_versions,
    every_version,
    parse_record,
    parse_text,
    record_severity,
)
from chainproof.deps.model import Severity


def osv(
    *events: dict[str, str],
    versions: list[str] | None = None,
    name: str = "demo-pkg",
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    if events:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": list(events)}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": "GHSA-test-0001", "modified": "2025-01-01T00:00:00Z", "affected": [affected], **extra}


def hit(obj: dict[str, Any], version: str, name: str = "demo-pkg") -> bool:
    return affects(parse_record(obj, "test.json"), name, version)


# --- ranges --------------------------------------------------------------------------------------


def test_introduced_zero_means_every_version() -> None:
    record = osv({"introduced": "0"})
    assert all(hit(record, v) for v in ("0", "0.0.1", "1.0", "99.1.post3", "2.0rc1"))
    assert every_version(parse_record(record, "t").affected[0])


def test_fixed_is_exclusive() -> None:
    record = osv({"introduced": "1.0"}, {"fixed": "1.5"})
    assert not hit(record, "0.9")
    assert hit(record, "1.0")
    assert hit(record, "1.4.9")
    assert not hit(record, "1.5")
    assert not hit(record, "2.0")
    assert not every_version(parse_record(record, "t").affected[0])


def test_last_affected_is_inclusive() -> None:
    record = osv({"introduced": "0"}, {"last_affected": "2.3"})
    assert hit(record, "2.3")
    assert hit(record, "2.3.0")  # PEP 440: 2.3 == 2.3.0
    assert not hit(record, "2.3.1")


def test_limit_bounds_a_range() -> None:
    record = osv({"introduced": "1.0"}, {"limit": "3.0"})
    assert hit(record, "2.9")
    assert not hit(record, "3.0")


def test_several_introduced_fixed_pairs_in_one_range_any_order() -> None:
    # Events out of version order: the evaluation sorts them.
    record = osv({"fixed": "2.1"}, {"introduced": "3.0"}, {"introduced": "2.0"}, {"fixed": "3.2"})
    assert [hit(record, v) for v in ("1.9", "2.0", "2.0.5", "2.1", "2.5", "3.0", "3.1", "3.2")] == [
        False,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
    ]


def test_multiple_ranges_and_affected_entries() -> None:
    obj = osv({"introduced": "1.0"}, {"fixed": "1.1"})
    obj["affected"][0]["ranges"].append({"type": "ECOSYSTEM", "events": [{"introduced": "5.0"}]})
    obj["affected"].append({"package": {"ecosystem": "PyPI", "name": "other"}, "versions": ["7"]})
    assert hit(obj, "1.0.3")
    assert not hit(obj, "2.0")
    assert hit(obj, "6.0")
    assert hit(obj, "7", name="other")
    assert not hit(obj, "1.0.3", name="other")


def test_pre_and_post_releases_order_by_pep440() -> None:
    record = osv({"introduced": "2.0"}, {"fixed": "2.0.post1"})
    assert not hit(record, "2.0rc1")  # a release candidate comes before 2.0
    assert hit(record, "2.0")
    assert not hit(record, "2.0.post1")


def test_git_and_semver_ranges_are_not_evaluated_for_pypi() -> None:
    obj = osv()
    obj["affected"][0]["ranges"] = [{"type": "GIT", "repo": "x", "events": [{"introduced": "0"}]}]
    assert not hit(obj, "1.0")


# --- versions lists and names ------------------------------------------------------------------


def test_versions_list_matches_by_pep440_equality() -> None:
    record = osv(versions=["1.82.7", "1.82.8"])
    assert hit(record, "1.82.8")
    assert hit(record, "1.82.8.0")
    assert not hit(record, "1.82.9")


def test_names_match_after_pep503_normalisation() -> None:
    record = osv({"introduced": "0"}, name="Foo_Bar.baz")
    assert hit(record, "1", name="foo-bar-baz")
    assert hit(record, "1", name="FOO.BAR_BAZ")
    assert not hit(record, "1", name="foobarbaz")


def test_other_ecosystems_never_match() -> None:
    obj = osv({"introduced": "0"})
    obj["affected"][0]["package"]["ecosystem"] = "npm"
    assert not hit(obj, "1.0")


def test_non_pep440_version_matches_only_by_exact_listing() -> None:
    record = osv({"introduced": "0"}, versions=["2004d", "weird-1"])
    assert hit(record, "weird-1")
    assert hit(record, "2004d")
    # Not PEP 440, not listed: a range cannot place it, so it is not claimed to be affected.
    assert not hit(record, "weird-2")


def test_range_with_an_unparsable_bound_is_ignored_but_the_list_still_counts() -> None:
    record = osv({"introduced": "0"}, {"fixed": "not a version"}, versions=["0.5"])
    assert hit(record, "0.5")
    assert not hit(record, "0.6")


def test_withdrawn_records_never_match() -> None:
    record = osv({"introduced": "0"}, withdrawn="2025-02-01T00:00:00Z")
    assert not hit(record, "1.0")


def test_an_affected_entry_without_versions_or_ranges_matches_nothing() -> None:
    assert not hit(osv(), "1.0")


# --- parsing -------------------------------------------------------------------------------------


def test_parse_keeps_aliases_iocs_and_malware_marks() -> None:
    obj = osv(
        versions=["1"],
        id="MAL-2099-1",
        aliases=["PYSEC-2099-1", "GHSA-xxxx"],
        summary="Malicious code in demo-pkg (PyPI)",
        database_specific={"iocs": {"hosts": ["evil.example"], "files": ["x.pth"], "bad": 3}},
    )
    record = parse_text(json.dumps(obj), "rec.json")
    assert record.aliases == ("PYSEC-2099-1", "GHSA-xxxx")
    assert record.ids == {"MAL-2099-1", "PYSEC-2099-1", "GHSA-xxxx"}
    assert dict(record.iocs) == {"hosts": ("evil.example",), "files": ("x.pth",)}
    assert record.malicious


@pytest.mark.parametrize(
    ("fields", "malicious"),
    [
        ({"id": "MAL-2024-9"}, True),
        ({"id": "CHAINPROOF-MAL-2024-9"}, True),
        ({"id": "GHSA-1", "aliases": ["MAL-2024-9"]}, True),
        ({"id": "GHSA-1", "summary": "Malicious code in foo (PyPI)"}, True),
        ({"id": "GHSA-1", "database_specific": {"malicious-packages-origins": []}}, True),
        ({"id": "PYSEC-2024-1", "summary": "XSS in templates"}, False),
        ({"id": "GHSA-1", "summary": "Fix for malicious input handling"}, False),
    ],
)
def test_malicious_or_vulnerable(fields: dict[str, Any], malicious: bool) -> None:
    assert parse_record(osv(versions=["1"], **fields), "t").malicious is malicious


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"summary": "no id"}', "`id` must be a non-empty string"),
        ('{"id": 5}', "`id` must be a non-empty string"),
        ('{"id": "X", "aliases": "Y"}', "aliases: must be a list"),
        ('{"id": "X", "aliases": [1]}', "must be a list of strings"),
        ('{"id": "X", "affected": {}}', "affected: must be a list"),
        ('{"id": "X", "affected": [5]}', "affected[0]: must be an object"),
        ('{"id": "X", "affected": [{"versions": ["1"]}]}', "missing the `package` object"),
        ('{"id": "X", "affected": [{"package": {"name": "a"}}]}', "needs a string `name` and `ecosystem`"),
        (
            '{"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"}, "ranges": [{}]}]}',
            "a range needs a string `type`",
        ),
        (
            '{"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"},'
            ' "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]}]}',
            "an event is an object with one key",
        ),
        (
            '{"id": "X", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"},'
            ' "ranges": [{"type": "ECOSYSTEM", "events": [{"broken": "1"}]}]}]}',
            "unknown event",
        ),
        ('{"id": "X", "severity": [{"type": "CVSS_V3"}]}', "severity"),
        ('{"id": "X", "database_specific": []}', "database_specific: must be an object"),
        ('{"id": "X", "withdrawn": 5}', "`withdrawn` must be a string"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_records_give_a_clear_error_naming_the_file(text: str, fragment: str) -> None:
    with pytest.raises(AdvisoryFormatError) as caught:
        parse_text(text, "feeds/bad-record.json")
    message = str(caught.value)
    assert message.startswith("feeds/bad-record.json: ")
    assert fragment in message
    assert "\n" not in message


def test_describe_versions() -> None:
    assert describe_versions(parse_record(osv({"introduced": "0"}), "t").affected[0]) == "all versions"
    both = osv({"introduced": "1.0"}, {"fixed": "1.5"}, versions=["1.0", "1.2"])
    assert describe_versions(parse_record(both, "t").affected[0]) == "1.0, 1.2; >=1.0,<1.5"
    upto = osv({"introduced": "0"}, {"last_affected": "2"})
    assert describe_versions(parse_record(upto, "t").affected[0]) == ">=0,<=2"


# --- severity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L", 3.7),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores_match_the_specification(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize("vector", ["CVSS:3.1/AV:X/AC:L", "CVSS:2.0/AV:N", "garbage", ""])
def test_malformed_cvss_vectors_give_none(vector: str) -> None:
    assert cvss3_base_score(vector) is None


@pytest.mark.parametrize(
    ("severity", "db_specific", "expected"),
    [
        (
            [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            None,
            Severity.CRITICAL,
        ),
        (
            [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
            None,
            Severity.MEDIUM,
        ),
        ([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N"}], {"severity": "HIGH"}, Severity.HIGH),
        ([{"type": "CVSS_V3", "score": "7.5"}], None, Severity.HIGH),
        ([], {"severity": "MODERATE"}, Severity.MEDIUM),
        ([], {"severity": "LOW"}, Severity.LOW),
        ([], None, Severity.MEDIUM),
        ([{"type": "CVSS_V3", "score": "nonsense"}], None, Severity.MEDIUM),
    ],
)
def test_record_severity(severity: list[Any], db_specific: dict[str, Any] | None, expected: Severity) -> None:
    obj = osv(versions=["1"], severity=severity)
    if db_specific is not None:
        obj["database_specific"] = db_specific
    assert record_severity(parse_record(obj, "t")) is expected
