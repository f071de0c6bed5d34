"""Typosquat and homoglyph names, the shipped popular-name data, and dependency confusion."""

from __future__ import annotations

import ensurepip
import re
from importlib import resources
from importlib.metadata import distributions
from pathlib import Path

import pytest

from chainproof.deps.files import TargetKind
from chainproof.deps.model import Distribution, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.rules.names import (
    IndexAnswer,
    Popular,
    check_name,
    dependency_confusion,
    fold,
    name_finding,
    name_rule,
    popular,
)
from chainproof.deps.targets.directory import DirectoryTree


def dist(name: str, version: str = "1.0") -> Distribution:
    return Distribution(name, version, f"{name}-{version}.dist-info", "site-packages")


def finding_for(name: str) -> tuple[str, Severity, str] | None:
    found = name_finding(dist(name))
    if found is None:
        return None
    target = found.evidence.split(" ~ ")[1]
    return found.rule, found.severity, target


# --- the shipped data ----------------------------------------------------------------------------


def test_the_popular_list_ships_5000_ranked_names() -> None:
    text = (resources.files("chainproof.deps.rules") / "data" / "top-pypi.txt").read_text("utf-8")
    names = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(names) == 5000
    assert len(set(names)) == 5000
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)
    table = popular()
    assert table.rank["boto3"] == 1
    assert table.rank["requests"] < 20
    assert "jellyfish" in table.rank


def test_no_popular_or_known_name_is_flagged() -> None:
    # The list's own members are the strongest false-positive check there is.
    table = popular()
    flagged = [n for n in (*table.rank, *table.known) if check_name(n) is not None]
    assert flagged == []


# --- typosquats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target", "how"),
    [
        ("requets", "requests", "dropped"),
        ("reqeusts", "requests", "swapped"),
        ("requestss", "requests", "added"),
        ("requesfs", "requests", "changed"),
        ("requests2", "requests", "added"),
        ("urlib3", "urllib3", "dropped"),
        ("python-dateutils", "python-dateutil", "added"),
        ("pythondateutil", "python-dateutil", "dropped"),
        ("python-requests", "requests", "affix"),
        ("numpy-py", "numpy", "affix"),
        ("colourama", "colorama", "added"),
    ],
)
def test_typosquats_of_top_1000_names_are_high(name: str, target: str, how: str) -> None:
    found = check_name(name)
    assert found is not None
    assert (found.rule, found.target) == ("name-typosquat", target)
    assert how in found.how
    assert finding_for(name) == ("name-typosquat", Severity.HIGH, target)


def test_separator_spellings_are_the_same_name() -> None:
    # PEP 503: `python_dateutil` and `Python.Dateutil` are the popular project itself.
    assert check_name("python_dateutil") is None
    assert check_name("Python.Dateutil") is None


def test_squats_of_less_popular_names_are_medium() -> None:
    table = popular()
    target = "jellyfish"
    assert table.rank[target] >= 1000
    assert finding_for("jelyfish") == ("name-typosquat", Severity.MEDIUM, target)


def test_affixes_only_count_for_the_top_1000() -> None:
    table = popular()
    rare = next(n for n, r in table.rank.items() if r > 2000 and len(n) > 6 and "-" not in n)
    found = check_name(f"python-{rare}")
    assert found is None or "affix" not in found.how
    common = check_name("python-flask")
    assert common is not None
    assert (common.target, common.how) == ("flask", "affix `python-` added")


def test_short_names_are_not_targets() -> None:
    # One edit of `six` or `idna` lands on unrelated real projects; they are not matched.
    assert check_name("sux") is None
    assert check_name("idnb") is None


def test_unrelated_names_are_not_flagged() -> None:
    for name in ("my-internal-tool", "chainproof", "zzzz-quux", "acme-billing-client"):
        assert check_name(name) is None, name


# --- homoglyphs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("jeIlyfish", "jellyfish"),  # capital I for l: PEP 503 alone would see `jeilyfish`
        ("reque\u0455ts", "requests"),  # Cyrillic dze
        ("r\u0435quests", "requests"),  # Cyrillic ie
        ("nump\u0443", "numpy"),  # Cyrillic u
        ("b0to3", "boto3"),
        ("djang0", "django"),
        ("f1ask", "flask"),
        ("\u03c1andas", "pandas"),  # Greek rho
        ("scikit-leam", "scikit-learn"),  # rn -> m
        ("openai\uff0dagents", "openai-agents"),  # full-width hyphen, folded by NFKC
    ],
)
def test_homoglyphs_are_critical(name: str, target: str) -> None:
    assert target in popular().rank
    assert finding_for(name) == ("name-homoglyph", Severity.CRITICAL, target)


def test_fold_maps_lookalikes_before_normalising() -> None:
    assert fold("jeIlyfish") == "jellyfish"
    assert fold("JELLYFISH") == "jellyfish"  # capitals other than I only lose their case
    assert fold("Foo_Bar") == "foo-bar"
    assert fold("vvheel") == "wheel"


def test_a_popular_name_with_lookalike_characters_is_itself() -> None:
    # `h11` and `pyasn1` contain digits that fold to letters, but they are the real projects.
    assert check_name("h11") is None
    assert check_name("pyasn1") is None
    assert check_name("pyasnl") is not None


# --- the rule over environments ------------------------------------------------------------------


def context(tmp_path: Path, dists: list[Distribution]) -> ScanContext:
    return ScanContext(DirectoryTree(tmp_path, TargetKind.ENVIRONMENT), tuple(dists), {})


def test_rule_reports_each_distribution_with_its_metadata_dir(tmp_path: Path) -> None:
    found = list(name_rule(context(tmp_path, [dist("six"), dist("requets", "2.0"), dist("jeIlyfish")])))
    assert [(f.rule, f.package, f.version, f.path) for f in found] == [
        ("name-typosquat", "requets", "2.0", "requets-2.0.dist-info"),
        ("name-homoglyph", "jeIlyfish", "1.0", "jeIlyfish-1.0.dist-info"),
    ]
    assert "requests" in found[0].message


def test_no_finding_on_the_project_environment(tmp_path: Path) -> None:
    dists = [dist(d.metadata["Name"], d.version) for d in distributions() if d.metadata["Name"]]
    assert len(dists) > 10
    assert list(name_rule(context(tmp_path, dists))) == []


def test_no_finding_on_a_fresh_venv(tmp_path: Path) -> None:
    # A fresh venv holds exactly the wheels ensurepip bundles (pip, and setuptools on 3.11).
    bundled = resources.files(ensurepip) / "_bundled"
    names = [e.name.split("-")[0] for e in bundled.iterdir() if e.name.endswith(".whl")]
    assert "pip" in names
    assert list(name_rule(context(tmp_path, [dist(n) for n in names]))) == []


def test_a_custom_table() -> None:
    table = Popular.of(["widgetry", "gadgetron"], known=["widgetri"])
    assert check_name("widgetri", table) is None
    assert check_name("widgetrx", table) is not None
    assert check_name("gadgetrom", table) is not None


# --- dependency confusion ------------------------------------------------------------------------

PRIVATE = "https://pypi.corp.example/simple"
PUBLIC = "https://pypi.org/simple"


def test_public_name_with_a_higher_version_shadows_the_private_one() -> None:
    found = dependency_confusion(
        "acme-utils", IndexAnswer(PRIVATE, ("1.0", "1.2")), IndexAnswer(PUBLIC, ("99.0",))
    )
    assert found is not None
    assert (found.rule, found.severity, found.path) == ("name-dependency-confusion", Severity.HIGH, PRIVATE)
    assert "99.0" in found.message


def test_public_name_with_lower_versions_is_medium() -> None:
    found = dependency_confusion("acme-utils", IndexAnswer(PRIVATE, ("2.0",)), IndexAnswer(PUBLIC, ("0.1",)))
    assert found is not None
    assert found.severity is Severity.MEDIUM


def test_private_versions_that_do_not_parse_lose_to_any_public_one() -> None:
    found = dependency_confusion("acme", IndexAnswer(PRIVATE, ("internal",)), IndexAnswer(PUBLIC, ("0.0.1",)))
    assert found is not None
    assert found.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("private", "public"),
    [((), ("1.0",)), (("1.0",), ()), ((), ())],
)
def test_a_name_on_one_index_only_is_no_risk(private: tuple[str, ...], public: tuple[str, ...]) -> None:
    assert dependency_confusion("acme", IndexAnswer(PRIVATE, private), IndexAnswer(PUBLIC, public)) is None


# --- typosquats of less popular projects that carry no code ---------------------------------------


def owned_context(tmp_path: Path, name: str, files: dict[str, str]) -> ScanContext:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    d = Distribution(name, "0.1", f"{name}-0.1", str(tmp_path))
    return ScanContext(DirectoryTree(tmp_path, TargetKind.SDIST), (d,), dict.fromkeys(files, d))


def test_a_squat_of_a_lesser_project_with_an_empty_package_is_high(tmp_path: Path) -> None:
    assert popular().rank["gensim"] > 1000
    ctx = owned_context(
        tmp_path, "gensmi", {"gensmi-0.1/gensmi/__init__.py": "", "gensmi-0.1/setup.py": "x = 1\n" * 500}
    )
    [found] = name_rule(ctx)
    assert found.severity is Severity.HIGH
    assert "no code of its own" in found.message


def test_a_squat_of_a_lesser_project_with_code_of_its_own_stays_medium(tmp_path: Path) -> None:
    code = "def similarity(a, b):\n    return len(set(a) & set(b)) / max(len(set(a) | set(b)), 1)\n" * 4
    ctx = owned_context(
        tmp_path, "gensmi", {"gensmi-0.1/gensmi/__init__.py": code, "gensmi-0.1/setup.py": "x = 1\n"}
    )
    [found] = name_rule(ctx)
    assert found.severity is Severity.MEDIUM


def test_tests_do_not_make_a_hollow_package_real(tmp_path: Path) -> None:
    ctx = owned_context(
        tmp_path,
        "gensmi",
        {"gensmi-0.1/gensmi/__init__.py": "", "gensmi-0.1/tests/test_x.py": "def test():\n    pass\n" * 40},
    )
    [found] = name_rule(ctx)
    assert found.severity is Severity.HIGH


def test_a_compiled_extension_is_code_of_its_own(tmp_path: Path) -> None:
    ctx = owned_context(
        tmp_path, "gensmi", {"gensmi/__init__.py": "", "gensmi/_core.cpython-311-x86_64-linux-gnu.so": "x"}
    )
    [found] = name_rule(ctx)
    assert found.severity is Severity.MEDIUM
