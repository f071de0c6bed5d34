"""Name rules: typosquats and homoglyphs of the most-downloaded PyPI projects, and dependency confusion.

The popular names ship as data (`data/top-pypi.txt`, most downloaded first, written by
scripts/gen_top_pypi.py). A name that is itself popular is never flagged: two popular projects with
close names (`six`/`sip`) are both real. Only short edits of a popular name are looked for, since
a typosquat has to be one slip of the keyboard or one glance away to work.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainproof.deps.files import TreeError
from chainproof.deps.model import Distribution, Finding, Severity
from chainproof.deps.rules.base import FileRole, ScanContext
from chainproof.deps.rules.roles import classify

RULE_TYPOSQUAT = "name-typosquat"
RULE_HOMOGLYPH = "name-homoglyph"
RULE_CONFUSION = "name-dependency-confusion"

TOP_TIER = 1000
"""Names ranked above this are targeted most; a squat of one is high, of the rest medium."""
MIN_TARGET_LENGTH = 5
"""One edit of a name of four letters or fewer lands on many unrelated real projects."""
_AFFIXES_BEFORE = ("python-", "py-", "py", "python3-", "python")
_AFFIXES_AFTER = ("-py", "py", "-python", "-python3", "3", "2", "-lib", "-sdk")
_ALPHABET = string.ascii_lowercase + string.digits + "-"

# Case matters here: a capital I is the look-alike of a lower-case l (`jeIlyfish`), so folding runs
# before lower-casing (PEP 503 normalisation alone would turn it into an innocent-looking `i`).
_CASE_SENSITIVE = {"I": "l"}
# Cyrillic and Greek letters that render like Latin ones, written as escapes so the source shows
# which code points they are; each string pairs position by position with the Latin letters after it.
_CYRILLIC = (
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441"
    "\u0442\u0443\u0445\u0456\u0458\u0455\u0501\u04cf\u051b\u051d",
    "abeekmhopctyxijsdlqw",
)
_GREEK = (
    "\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u03c9\u03b3",
    "abenikvoptuxwy",
)
_LOOKALIKES = str.maketrans("10|\u0261" + _CYRILLIC[0] + _GREEK[0], "lolg" + _CYRILLIC[1] + _GREEK[1])
_DIGRAPHS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


@dataclass(frozen=True)
class Popular:
    """The popular-name list: rank by normalised name, and names by their confusable folding."""

    rank: Mapping[str, int]
    by_folding: Mapping[str, str]
    known: frozenset[str] = frozenset()
    """Established projects below the popular list (ranks 5,001-15,000): never flagged, never targets.
    Without them, real projects such as `fastai` (one letter from `fastapi`) would be called squats."""

    @classmethod
    def of(cls, names: Sequence[str], known: Sequence[str] = ()) -> Popular:
        rank: dict[str, int] = {}
        for i, name in enumerate(names, start=1):
            rank.setdefault(canonicalize_name(name), i)
        by_folding: dict[str, str] = {}
        for name in rank:  # in rank order, so the most popular name wins a shared folding
            by_folding.setdefault(fold(name), name)
        return cls(rank, by_folding, frozenset(canonicalize_name(n) for n in known))


@cache
def popular() -> Popular:
    return Popular.of(_data_lines("top-pypi.txt"), _data_lines("known-pypi.txt"))


def _data_lines(name: str) -> list[str]:
    text = (resources.files("chainproof.deps.rules") / "data" / name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def fold(name: str) -> str:
    """`name` with every lookalike replaced by the letter it imitates, then PEP 503 normalised."""
    # In an all-capitals name an I is just an I; among lower-case letters it passes for an l.
    if any(c.islower() for c in name):
        name = "".join(_CASE_SENSITIVE.get(c, c) for c in name)
    # NFKC turns full-width and other compatibility forms into ASCII before the table applies.
    text = unicodedata.normalize("NFKC", name).lower()
    text = text.translate(_LOOKALIKES)
    for pair, single in _DIGRAPHS:
        text = text.replace(pair, single)
    return canonicalize_name(text)


@dataclass(frozen=True)
class NameMatch:
    rule: str
    target: str
    """The popular project the name imitates."""
    rank: int
    how: str


def check_name(name: str, table: Popular | None = None) -> NameMatch | None:
    """What popular project `name` imitates, if any; None for popular names and unrelated ones."""
    table = table or popular()
    key = canonicalize_name(name)
    if key in table.rank or key in table.known:
        return None
    target = table.by_folding.get(fold(name))
    if target is not None:
        return NameMatch(RULE_HOMOGLYPH, target, table.rank[target], "look-alike characters")
    return _typosquat(key, table)


def _typosquat(key: str, table: Popular) -> NameMatch | None:
    best: NameMatch | None = None
    for candidate, how in _neighbours(key):
        rank = table.rank.get(candidate)
        if rank is None or len(candidate) < MIN_TARGET_LENGTH:
            continue
        if how.startswith("affix") and rank > TOP_TIER:
            continue
        if best is None or rank < best.rank:
            best = NameMatch(RULE_TYPOSQUAT, candidate, rank, how)
    return best


def _neighbours(key: str) -> Iterator[tuple[str, str]]:
    """Every name one slip from `key`: an edit, a swap, a separator change, or a popular affix."""
    for i in range(len(key)):
        yield key[:i] + key[i + 1 :], "one character added"
        if i + 1 < len(key) and key[i] != key[i + 1]:
            yield key[:i] + key[i + 1] + key[i] + key[i + 2 :], "two characters swapped"
        for c in _ALPHABET:
            if c != key[i]:
                yield key[:i] + c + key[i + 1 :], "one character changed"
    for i in range(len(key) + 1):
        for c in _ALPHABET:
            yield key[:i] + c + key[i:], "one character dropped"
    for prefix in _AFFIXES_BEFORE:
        if key.startswith(prefix):
            yield key[len(prefix) :], f"affix `{prefix}` added"
    for suffix in _AFFIXES_AFTER:
        if key.endswith(suffix):
            yield key[: -len(suffix)], f"affix `{suffix}` added"


def name_finding(dist: Distribution, table: Popular | None = None, *, hollow: bool = False) -> Finding | None:
    """`hollow`: the distribution's importable code is empty (see `hollow_distributions`)."""
    found = check_name(dist.name, table)
    if found is None:
        return None
    if found.rule == RULE_HOMOGLYPH:
        severity = Severity.CRITICAL
        message = f"{dist.name!r} imitates the popular project {found.target!r} with {found.how}"
    else:
        # Below the top tier a close name alone is often a real project; one whose package has no
        # code of its own exists only for its name (and its setup script).
        severity = Severity.HIGH if found.rank <= TOP_TIER or hollow else Severity.MEDIUM
        message = (
            f"{dist.name!r} is one slip from the popular project {found.target!r} "
            f"(#{found.rank} by downloads; {found.how}): a possible typosquat"
        )
        if hollow:
            message += ", and its package carries no code of its own"
    return Finding(
        rule=found.rule,
        severity=severity,
        package=dist.name,
        version=dist.version,
        path=dist.metadata_dir,
        line=None,
        message=message,
        evidence=f"{dist.name} ~ {found.target}",
    )


def name_rule(ctx: ScanContext) -> Iterator[Finding]:
    """The scan rule: every distribution's name against the popular-name list."""
    table = popular()
    hollow = hollow_distributions(ctx)
    for dist in ctx.distributions:
        found = name_finding(dist, table, hollow=dist.name in hollow)
        if found is not None:
            yield found


HOLLOW_BYTES = 128
"""Importable code this small is a placeholder: empty `__init__.py` files, a version string."""


def hollow_distributions(ctx: ScanContext) -> set[str]:
    """Names of distributions whose files include Python modules that together hold (almost)
    nothing: a package that exists for its name, its payload in the setup script or nowhere.

    Setup scripts and tests do not count as the package's code; a distribution with no module
    file at all (a plugin of data files, a lock-file entry) is not judged.
    """
    sizes: dict[str, int] = {}
    for path, dist in ctx.owners.items():
        if path.endswith((".so", ".pyd")) or ".so." in path.rsplit("/", 1)[-1]:
            sizes[dist.name] = sizes.get(dist.name, 0) + HOLLOW_BYTES + 1  # compiled code is code
            continue
        if not path.endswith(".py") or classify(path, ctx.tree.kind) is not FileRole.MODULE:
            continue
        try:
            size = ctx.tree.size(path)
        except (TreeError, KeyError):
            continue
        sizes[dist.name] = sizes.get(dist.name, 0) + size
    return {name for name, total in sizes.items() if total <= HOLLOW_BYTES}


# --- dependency confusion ----------------------------------------------------------------------


@dataclass(frozen=True)
class IndexAnswer:
    """What one package index said about a project: its URL and the versions it serves (none: absent)."""

    index: str
    versions: tuple[str, ...] = ()


def dependency_confusion(name: str, private: IndexAnswer, public: IndexAnswer) -> Finding | None:
    """Whether `name`, served by a private index, can be shadowed by the public one.

    pip and uv given several indexes (`--extra-index-url`) take the highest version from any of
    them, so a public project that outranks every private release wins the install: that is high.
    A public project with only lower versions is still a risk (a pin or a bad private release can
    let it through): medium. Deciding needs both answers; fetching them is the caller's job.
    """
    if not private.versions or not public.versions:
        return None
    top_private = _highest(private.versions)
    top_public = _highest(public.versions)
    shadowed = top_public is not None and (top_private is None or top_public > top_private)
    severity = Severity.HIGH if shadowed else Severity.MEDIUM
    detail = f"highest {top_public} beats the private {top_private}" if shadowed else "lower versions only"
    return Finding(
        rule=RULE_CONFUSION,
        severity=severity,
        package=name,
        version=None,
        path=private.index,
        line=None,
        message=f"{name!r} is served by {private.index} and also by {public.index} ({detail})",
        evidence=f"{public.index}: {', '.join(public.versions[-5:])}",
    )


def _highest(versions: Sequence[str]) -> Version | None:
    parsed: list[Version] = []
    for v in versions:
        try:
            parsed.append(Version(v))
        except InvalidVersion:
            continue
    return max(parsed, default=None)
