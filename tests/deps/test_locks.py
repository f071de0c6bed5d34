"""Lock and requirement files: the four formats, the pinning policy, and hostile or broken input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement as Pep508

from chainproof.deps.files import MAX_FILE_BYTES, TreeError
from chainproof.deps.model import Finding, Requirement, ScanResult, Severity
from chainproof.deps.targets import locks
from chainproof.deps.targets.locks import (
    LockEntry,
    SourceKind,
    is_lockfile,
    judge,
    normal_hash,
    parse_poetry_lock,
    parse_pylock,
    parse_requirements,
    parse_uv_lock,
    scan_lockfile,
)

DATA = Path(__file__).parent / "data" / "locks"
H1 = "a" * 64
H2 = "b" * 64


def no_advisories(_: Sequence[Requirement]) -> list[Finding]:
    return []


def scan(path: Path) -> ScanResult:
    return scan_lockfile(path, matcher=no_advisories)


def by_name(result: ScanResult) -> dict[str, Requirement]:
    return {r.key: r for r in result.requirements}


def rules_of(result: ScanResult) -> set[tuple[str, str | None, Severity]]:
    return {(f.rule, f.package, f.severity) for f in result.findings}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# ----------------------------------------------------------------------------------- requirements


def test_requirements_pins_hashes_markers_extras_and_continuations() -> None:
    result = scan(DATA / "requirements" / "requirements.txt")
    reqs = by_name(result)
    assert reqs["attrs"].version == "25.3.0"
    assert len(reqs["attrs"].hashes) == 2
    assert all(h.startswith("sha256:") and len(h) == 71 for h in reqs["attrs"].hashes)
    # The hash sits on a continuation line after the marker; the source is the first line.
    assert reqs["requests"].version == "2.32.3"
    assert reqs["requests"].source == "requirements.txt:10"
    assert len(reqs["tomli"].hashes) == 1
    assert reqs["certifi"].version == "2025.1.31"  # `===` is an exact pin too
    assert reqs["certifi"].source == "base.txt:4"
    assert reqs["charset-normalizer"].version is None


def test_requirements_include_cycle_is_read_once() -> None:
    result = scan(DATA / "requirements" / "requirements.txt")
    sources = [r.source for r in result.requirements]
    assert len(sources) == len(set(sources))
    assert sum(1 for r in result.requirements if r.key == "six") == 1


def test_requirements_findings_follow_the_policy() -> None:
    result = scan(DATA / "requirements" / "requirements.txt")
    assert rules_of(result) == {
        # Mixed hashing: urllib3 has none while the others do, so it is worse than a plain miss.
        ("lock-no-hash", "urllib3", Severity.MEDIUM),
        ("lock-unpinned", "charset-normalizer", Severity.MEDIUM),
        ("lock-vcs-or-url", "widget", Severity.LOW),
        ("lock-vcs-or-url", None, Severity.INFO),
    }
    widget = next(f for f in result.findings if f.package == "widget")
    assert "can move" in widget.message
    assert widget.line == 16
    assert widget.path == "requirements.txt"


def test_requirements_without_any_hash_are_low() -> None:
    result = scan(DATA / "requirements" / "dev-requirements.txt")
    assert rules_of(result) == {
        ("lock-no-hash", "pytest", Severity.LOW),
        ("lock-no-hash", "ruff", Severity.LOW),
        ("lock-unpinned", "mypy", Severity.MEDIUM),
    }


def test_requirements_direct_references() -> None:
    text = (
        f"pkg @ https://example.com/pkg-1.0-py3-none-any.whl#sha256={H1}\n"
        "plain @ http://example.com/plain-2.0.tar.gz\n"
        "./dist/local_thing-0.1-py3-none-any.whl\n"
        f"-e git+https://example.com/repo.git@{'c' * 40}#egg=repo\n"
    )
    parsed = parse_requirements(text.encode(), "r.txt")
    kinds = {e.name: (e.kind, e.hashes) for e in parsed.entries}
    assert kinds["pkg"] == (SourceKind.URL, (f"sha256:{H1}",))
    assert kinds["plain"][0] is SourceKind.URL
    assert kinds["local-thing"][0] is SourceKind.LOCAL  # the name comes from the wheel's file name
    assert kinds["repo"][0] is SourceKind.VCS
    details = {f.package: f.message for f in judge(parsed.entries)}
    assert "plain http" in details["plain"]
    assert "at commit cccccccccccc" in details["repo"]


def test_requirements_hash_options_both_spellings_and_dedup() -> None:
    text = f"x==1.0 --hash sha256:{H1} --hash=SHA256:{H1.upper()} --hash=sha256:{H2}\n"
    parsed = parse_requirements(text.encode(), "r.txt")
    assert parsed.findings == ()
    (entry,) = parsed.entries
    assert entry.hashes == (f"sha256:{H1}", f"sha256:{H2}")
    (spaced,) = parse_requirements(f"y==2 --hash sha256:{H2}\n".encode(), "r.txt").entries
    assert spaced.hashes == (f"sha256:{H2}",)


def test_requirements_comment_between_continuations_ends_the_line() -> None:
    # pip joins `\` continuations but a comment line ends the logical line (pip's join_lines).
    text = f"x==1.0 \\\n# a comment\n--hash=sha256:{H1}\n"
    parsed = parse_requirements(text.encode(), "r.txt")
    assert parsed.entries[0].hashes == ()


def test_requirements_global_options_are_not_findings() -> None:
    text = (
        "--index-url https://pypi.org/simple\n--extra-index-url=https://x/simple\n--no-index\n--pre\nx==1\n"
    )
    parsed = parse_requirements(text.encode(), "r.txt")
    assert parsed.findings == ()
    assert [e.name for e in parsed.entries] == ["x"]


def test_wildcard_pin_is_not_exact() -> None:
    assert locks.exact_version(Pep508("x==1.*")) is None
    assert locks.exact_version(Pep508("x>=1,==1.2")) == "1.2"
    assert locks.exact_version(Pep508("x===weird")) == "weird"
    assert locks.exact_version(Pep508("x~=1.2")) is None


def test_utf16_with_bom_is_read() -> None:
    data = "x==1.0\n".encode("utf-16")
    assert [e.name for e in parse_requirements(data, "r.txt").entries] == ["x"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sha256:{H1}", f"sha256:{H1}"),
        (f"sha256={H1.upper()}", f"sha256:{H1}"),
        (f"sha512:{'1' * 128}", f"sha512:{'1' * 128}"),
        ("md5:" + "1" * 32, None),
        (f"sha256:{H1[:-1]}", None),
        (f"sha256:{'g' * 64}", None),
        ("", None),
    ],
)
def test_normal_hash(value: str, expected: str | None) -> None:
    assert normal_hash(value) == expected


# ----------------------------------------------------------------------------------- TOML locks


def test_pylock() -> None:
    result = scan(DATA / "pylock" / "pylock.toml")
    reqs = by_name(result)
    assert len(reqs["attrs"].hashes) == 2  # sdist and the inline wheels array
    assert len(reqs["charset-normalizer"].hashes) == 2  # two [[packages.wheels]] tables
    assert reqs["attrs"].source == "pylock.toml:9"
    assert rules_of(result) == {
        ("lock-vcs-or-url", "widget", Severity.LOW),
        ("lock-vcs-or-url", "helper", Severity.INFO),
        ("lock-no-hash", "urllib3", Severity.MEDIUM),
    }


def test_uv_lock() -> None:
    result = scan(DATA / "uv" / "uv.lock")
    reqs = by_name(result)
    assert len(reqs["rich"].hashes) == 2
    assert reqs["click"].source == "uv.lock:5"
    assert reqs["foo"].version == "0.3.0"
    # The project's own `editable = "."` entry is not a finding; a sibling path is, at info.
    assert rules_of(result) == {
        ("lock-vcs-or-url", "foo", Severity.LOW),
        ("lock-vcs-or-url", "sidecar", Severity.INFO),
        ("lock-no-hash", "packaging", Severity.MEDIUM),
    }
    foo = next(f for f in result.findings if f.package == "foo")
    assert "at commit 0123456789ab" in foo.message


def test_poetry_lock_files_per_package() -> None:
    result = scan(DATA / "poetry-v2" / "poetry.lock")
    reqs = by_name(result)
    assert len(reqs["attrs"].hashes) == 2
    assert reqs["attrs"].source == "poetry.lock:3"
    assert rules_of(result) == {
        ("lock-no-hash", "internal-tool", Severity.MEDIUM),  # a `legacy` index is still an index
        ("lock-vcs-or-url", "widget", Severity.LOW),
    }


def test_poetry_lock_old_metadata_files() -> None:
    result = scan(DATA / "poetry-v1" / "poetry.lock")
    reqs = by_name(result)
    assert len(reqs["idna"].hashes) == 1
    assert len(reqs["six"].hashes) == 1
    # `Local_Pkg` finds its (empty) `local-pkg` files list by normalised name.
    assert reqs["local-pkg"].hashes == ()
    assert rules_of(result) == {("lock-vcs-or-url", "Local_Pkg", Severity.INFO)}


# ----------------------------------------------------------------------------------- bad input


def test_malformed_requirements_are_findings_with_lines() -> None:
    result = scan(DATA / "malformed" / "requirements.txt")
    malformed = {(f.line, f.message.split(":")[0]) for f in result.findings if f.rule == "lock-malformed"}
    lines = {line for line, _ in malformed}
    assert lines == {2, 3, 4, 5, 6, 7, 8, 10}
    assert all(f.severity is Severity.MEDIUM for f in result.findings if f.rule == "lock-malformed")
    remote = [f for f in result.findings if f.rule == "lock-vcs-or-url"]
    assert [f.line for f in remote] == [9]
    # The valid lines still count.
    assert {r.key for r in result.requirements} == {"attrs", "idna", "six"}


def test_binary_file_is_a_finding() -> None:
    result = scan(DATA / "malformed" / "binary.txt")
    assert [f.rule for f in result.findings] == ["lock-malformed"]
    assert result.requirements == []


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("badtoml/uv.lock", 4, "not valid TOML"),
        ("badpylock/pylock.toml", None, "lock-version"),
    ],
)
def test_broken_toml_locks(name: str, line: int | None, words: str) -> None:
    result = scan(DATA / "malformed" / name)
    (finding,) = result.findings
    assert finding.rule == "lock-malformed"
    assert finding.line == line
    assert words in finding.message


@pytest.mark.parametrize("parser", [parse_uv_lock, parse_pylock, parse_poetry_lock])
def test_an_integer_past_pythons_limit_is_a_finding_with_our_message(parser: object) -> None:
    assert callable(parser)
    result = parser(b"version = " + b"9" * 5_000 + b"\n", "x.lock")
    (finding,) = result.findings
    assert finding.rule == "lock-malformed"
    assert finding.message == "holds an integer of more than 4,300 digits"


def test_bad_poetry_entries_are_skipped_with_findings() -> None:
    result = scan(DATA / "malformed" / "badentries" / "poetry.lock")
    malformed = sorted((f.line, f.message) for f in result.findings if f.rule == "lock-malformed")
    assert [line for line, _ in malformed] == [1, 6, 9]
    assert "not sha256" in malformed[0][1]
    assert [r.name for r in result.requirements] == ["ok"]


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parse_uv_lock, 'version = 1\npackage = "x"\n'),
        (parse_uv_lock, "version = 1\npackage = [1, 2]\n"),
        (parse_uv_lock, 'version = 1\n[[package]]\nname = 1\nversion = "1"\n'),
        (parse_uv_lock, 'version = 1\n[[package]]\nname = "a"\nversion = "1"\nsource = "x"\nwheels = "x"\n'),
        (
            parse_uv_lock,
            'version = 1\n[[package]]\nname = "a"\nsdist = {hash = 5}\nwheels = [1, {hash = []}]\n',
        ),
        (parse_uv_lock, 'version = "one"\n'),
        (parse_pylock, 'lock-version = "1.0"\n[[packages]]\nname = "a"\nwheels = [{hashes = "x"}, 3]\n'),
        (parse_pylock, 'lock-version = "1.0"\n[[packages]]\nname = "a"\nvcs = {url = 3}\n'),
        (parse_pylock, "lock-version = 1\n"),
        (parse_poetry_lock, '[[package]]\nname = "a"\nversion = "1"\nfiles = "x"\n[metadata]\nfiles = 3\n'),
        (parse_poetry_lock, '[metadata.files]\na = "x"\n[[package]]\nname = "a"\nversion = "1"\n'),
        (parse_poetry_lock, '[[package]]\nname = "a"\nversion = "1"\nsource = {type = 3}\n'),
    ],
)
def test_type_confusion_never_crashes(parser: object, text: str) -> None:
    assert callable(parser)
    result = parser(text.encode(), "x.lock")
    assert isinstance(result, locks.ParsedLock)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_requirements_parser_never_raises(data: bytes) -> None:
    parsed = parse_requirements(data, "r.txt")
    assert all(f.rule == "lock-malformed" for f in parsed.findings)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="[]{}=\"'\n .,=#abcv1:package", max_size=200))
def test_toml_parsers_never_raise(text: str) -> None:
    for parser in (parse_uv_lock, parse_pylock, parse_poetry_lock):
        parser(text.encode(), "x.lock")


def test_huge_file_is_a_finding_not_a_read(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written, nothing is read
    result = scan(path)
    (finding,) = result.findings
    assert finding.rule == "lock-malformed"
    assert "limit" in finding.message


def test_missing_or_directory_target_is_a_tree_error(tmp_path: Path) -> None:
    with pytest.raises(TreeError):
        scan(tmp_path)
    with pytest.raises(TreeError):
        scan(tmp_path / "requirements.txt")


def test_fifo_include_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    top = write(tmp_path, "requirements.txt", "-r pipe.txt\nx==1\n")
    result = scan(top)
    assert [f.line for f in result.findings if f.rule == "lock-malformed"] == [1]
    assert "not a regular file" in result.findings[0].message


def test_include_of_a_non_requirements_file_leaks_nothing(tmp_path: Path) -> None:
    write(tmp_path, "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY----- SECRETMATERIAL\n")
    top = write(tmp_path, "requirements.txt", "-r id_rsa\n")
    result = scan(top)
    assert len(result.findings) == 1
    everything = repr(result)
    assert "SECRETMATERIAL" not in everything


def test_include_through_a_link_loop_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    top = write(tmp_path, "requirements.txt", "-r a.txt\nx==1\n")
    result = scan(top)
    assert [(f.rule, f.line) for f in result.findings if f.rule == "lock-malformed"] == [
        ("lock-malformed", 1)
    ]
    assert [r.name for r in result.requirements] == ["x"]


def test_findings_come_worst_first() -> None:
    result = scan(DATA / "requirements" / "requirements.txt")
    severities = [f.severity for f in result.findings]
    assert severities == sorted(severities, reverse=True)


def test_includes_nest_only_so_deep(tmp_path: Path) -> None:
    for i in range(15):
        write(tmp_path, f"r{i}.txt", f"-r r{i + 1}.txt\npkg{i}==1 --hash=sha256:{H1}\n")
    write(tmp_path, "r15.txt", f"last==1 --hash=sha256:{H1}\n")
    result = scan(tmp_path / "r0.txt")
    deep = [f for f in result.findings if "too deep" in f.message]
    assert len(deep) == 1
    assert deep[0].path == f"r{locks.MAX_INCLUDE_DEPTH}.txt"
    assert len(result.requirements) == locks.MAX_INCLUDE_DEPTH + 1


def test_include_in_a_subdirectory_is_relative_to_its_file(tmp_path: Path) -> None:
    write(tmp_path, "reqs/base.txt", "-r ../common/pins.txt\n")
    write(tmp_path, "common/pins.txt", "y==2\n")
    top = write(tmp_path, "requirements.txt", "-r reqs/base.txt\n")
    result = scan(top)
    assert [r.source for r in result.requirements] == ["common/pins.txt:1"]


# ----------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("requirements.txt", "", True),
        ("requirements-dev.txt", "", True),
        ("constraints.txt", "", True),
        ("dev-requirements.txt", "pytest\n", True),
        ("requirements.in", "attrs\n", True),
        ("requirements.lock", f"attrs==25.3.0 --hash=sha256:{H1}\n", True),
        ("requirements-dev.lock", "", True),
        ("notes.in", "attrs==1\n", False),
        ("uv.lock", "", True),
        ("poetry.lock", "", True),
        ("pylock.toml", "", True),
        ("pylock.dev.toml", "", True),
        ("deps.txt", "# pins\nattrs==25.3.0\n", True),
        ("deps.txt", f"x>=1 --hash=sha256:{H1}\n", True),
        ("notes.txt", "Remember: a == b is not a pin.\nname = value\n", False),
        ("setup.py", "attrs==1\n", False),
        ("Cargo.lock", "", False),
    ],
)
def test_is_lockfile(tmp_path: Path, name: str, text: str, expected: bool) -> None:
    assert is_lockfile(write(tmp_path, name, text)) is expected


def test_is_lockfile_needs_a_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    assert is_lockfile(tmp_path / "requirements.txt") is False
    assert is_lockfile(tmp_path / "uv.lock") is False
    write(tmp_path, "requirements/base.txt", "")
    assert is_lockfile(tmp_path / "requirements" / "base.txt") is True
    assert is_lockfile(write(tmp_path, "blob.txt", b"attrs==1\n\x00\x01")) is False


# ----------------------------------------------------------------------------------- policy and matching


def entry(**kw: object) -> LockEntry:
    base: dict[str, object] = {
        "name": "x",
        "version": "1",
        "kind": SourceKind.INDEX,
        "path": "r.txt",
        "line": 1,
        "pinned": True,
    }
    base.update(kw)
    return LockEntry(**base)  # type: ignore[arg-type]


def test_judge_mixed_hashing_raises_no_hash() -> None:
    alone = judge([entry()])
    mixed = judge([entry(), entry(name="y", hashes=(f"sha256:{H1}",))])
    assert [(f.rule, f.severity) for f in alone] == [("lock-no-hash", Severity.LOW)]
    assert [(f.rule, f.severity) for f in mixed] == [("lock-no-hash", Severity.MEDIUM)]


def test_judge_unpinned_is_not_also_unhashed() -> None:
    findings = judge([entry(version=None, pinned=False)])
    assert [f.rule for f in findings] == ["lock-unpinned"]


def test_matcher_receives_requirements_and_adds_findings() -> None:
    seen: list[Requirement] = []

    def matcher(reqs: Sequence[Requirement]) -> list[Finding]:
        seen.extend(reqs)
        return [Finding("advisory-test", Severity.HIGH, r.name, r.version, "p", None, "m") for r in reqs[:1]]

    result = scan_lockfile(DATA / "uv" / "uv.lock", matcher=matcher)
    assert {r.key for r in seen} == {r.key for r in result.requirements}
    assert sum(1 for f in result.findings if f.rule == "advisory-test") == 1


def test_default_matcher_finds_the_litellm_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "home"))  # no local database: bundled only
    lock = write(
        tmp_path, "requirements.txt", f"litellm==1.82.8 --hash=sha256:{H1}\nsix==1.17.0 --hash=sha256:{H2}\n"
    )
    result = scan_lockfile(lock)
    bad = [f for f in result.findings if f.advisory is not None]
    assert [(f.package, f.advisory.id, f.line) for f in bad if f.advisory] == [
        ("litellm", "MAL-2026-2144", 1)
    ]
    assert bad[0].severity >= Severity.HIGH
