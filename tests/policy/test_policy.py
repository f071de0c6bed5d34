"""The policy file: the template says what the issue asks, errors point at the line, answers are right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainproof.custody.hops import Hop
from chainproof.deps.model import Severity
from chainproof.policy import ANY, PolicyError, parse, template
from chainproof.policy.load import load

MINIMAL = 'version = 1\nclassifications = ["public"]\n[roles.r]\nhops = []\n'


def error_line(text: str) -> tuple[int | None, str]:
    with pytest.raises(PolicyError) as e:
        parse(text, "p.toml")
    m = re.match(r"p\.toml(?::(\d+))?(?::\d+)?: (.*)", str(e.value))
    assert m, str(e.value)
    return (int(m[1]) if m[1] else None), m[2]


def test_the_template_is_the_starting_policy_the_issue_names() -> None:
    p = parse(template())
    assert set(p.roles) == {"admin", "recorder", "contractor", "auditor"}
    assert p.roles["recorder"].hops == {Hop.INGEST, Hop.TRANSFORM, Hop.TRAIN, Hop.EVALUATE, Hop.RELEASE}
    assert p.roles["contractor"].hops == p.roles["contractor"].under_grant == {Hop.ANNOTATE, Hop.ACCESS}
    assert not p.roles["auditor"].hops
    assert not p.roles["admin"].hops
    assert p.organisations == {ANY: frozenset({ANY})}
    assert p.required_before(Hop.RELEASE) == (Hop.EVALUATE,)
    assert p.denied([("advisory-vulnerable", Severity.LOW)]) == [("advisory-vulnerable", Severity.LOW)]
    assert p.denied([("hook-pth-exec", Severity.HIGH)])
    assert not p.denied([("hook-pth-exec", Severity.MEDIUM), ("code-exec-at-import", Severity.CRITICAL)])


def test_answers() -> None:
    p = parse(template())
    assert p.hop_problems(role="recorder", hop=Hop.TRAIN) == []
    assert p.hop_problems(role="contractor", hop=Hop.TRAIN) == ["role 'contractor' may not record train"]
    assert p.hop_problems(role="intern", hop=Hop.TRAIN) == ["role 'intern' is not in the policy"]
    assert p.hop_problems(role=None, hop=Hop.TRAIN)
    assert p.needs_grant("contractor", Hop.ANNOTATE)
    assert not p.needs_grant("recorder", Hop.INGEST)
    assert p.may_grant("recorder")
    assert not p.may_grant("contractor")
    assert not p.may_grant(None)
    assert p.data_problems(organisation="anyone", classifications=["restricted"]) == []


def test_organisations_limit_classifications_and_star_covers_the_rest() -> None:
    p = parse(
        MINIMAL.replace('["public"]', '["public", "secret"]')
        + '[organisations.vendor]\nclassifications = ["public"]\n'
        + '[organisations."*"]\nclassifications = ["*"]\n'
    )
    assert p.data_problems(organisation="vendor", classifications=["secret", "public"]) == [
        "organisation 'vendor' may not touch secret data"
    ]
    assert p.data_problems(organisation="lab", classifications=["secret"]) == []
    closed = parse(MINIMAL + '[organisations.vendor]\nclassifications = ["public"]\n')
    assert closed.data_problems(organisation=None, classifications=["public"]) == [
        "an actor with no organisation may not touch public data"
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version = 1\nclassifications = [\n", 2, "not valid TOML"),
        ('version = 1\nclassifications = ["a"\nx = 1\n', 3, "Unclosed array"),
        ('classifications = ["a"]\n[roles.r]\nhops = []\n', None, "version must be 1"),
        (MINIMAL + '[roles.c]\nhops = ["annotate"]\nunder_grant = ["acess"]\n', 7, "unknown hop 'acess'"),
        (
            MINIMAL + '[roles.c]\nhops = ["ingest"]\nunder_grant = ["access"]\n',
            7,
            "under_grant but not in hops",
        ),
        (MINIMAL + '[grants]\nissuers = ["r", "boss"]\n', 6, "unknown role 'boss'"),
        (MINIMAL + "[roles.x]\nhop = []\n", 6, "unknown key roles.x.hop"),
        (MINIMAL + '[organisations.v]\nclassifications = ["secret"]\n', 6, "unknown classification 'secret'"),
        (
            MINIMAL
            + '[[requires]]\nhop = "release"\nafter = "evaluate"\n'
            + '[[requires]]\nhop = "train"\nafter = "train"\n',
            10,
            "train cannot require itself",
        ),
        (MINIMAL + '[[requires]]\nhop = "release"\n', 5, "needs after"),
        (
            MINIMAL
            + '[[dependencies.deny]]\nrules = ["hook-*"]\n\n'
            + '[[dependencies.deny]]\nrules = ["x"]\nat_or_above = "severe"\n',
            10,
            "at_or_above must be one of",
        ),
        (MINIMAL + "[[dependencies.deny]]\nrules = []\n", 6, "at least one"),
        ('version = 1\nclassifications = ["a", "a"]\n[roles.r]\nhops = []\n', 2, "twice"),
        ('version = 1\nclassifications = ["a"]\n', None, "defines no roles"),
        ('version = 1\nclassifications = ["a"]\n[roles."bad name"]\nhops = []\n', 3, "role name"),
    ],
)
def test_errors_point_at_the_line(text: str, line: int | None, words: str) -> None:
    got_line, message = error_line(text)
    assert words in message
    assert got_line == line


_HOP_VALUE = re.compile(r'"(ingest|annotate|transform|train|evaluate|release|access)"')
_TEMPLATE_LINES = template().splitlines()
_HOP_LINES = [i for i, line in enumerate(_TEMPLATE_LINES) if _HOP_VALUE.search(line.split("#")[0])]


@given(st.sampled_from(_HOP_LINES), st.text(alphabet="xyz", min_size=1, max_size=3))
def test_a_misspelt_hop_anywhere_in_the_template_names_its_own_line(index: int, suffix: str) -> None:
    lines = list(_TEMPLATE_LINES)
    lines[index] = _HOP_VALUE.sub(lambda m: f'"{m[1]}{suffix}"', lines[index], count=1)
    line, message = error_line("\n".join(lines) + "\n")
    assert line == index + 1
    assert "unknown hop" in message


def test_load_reads_files_and_refuses_what_is_not_text(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text(template())
    assert load(good).roles
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load(bad)
