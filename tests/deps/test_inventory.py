"""Inventory: distributions and file ownership from dist-info / egg-info, and malformed metadata."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from deps_support import make_dist, make_sdist, make_wheel, write_tar

from chainproof.deps.files import MAX_FILE_BYTES, TargetKind, TreeError
from chainproof.deps.inventory import (
    MetadataError,
    parse_direct_url,
    parse_metadata,
    parse_record,
    read_inventory,
    record_path,
    tree_path,
)
from chainproof.deps.model import Severity
from chainproof.deps.targets.archive import open_archive
from chainproof.deps.targets.directory import DirectoryTree

# --- pure parsing ---


def test_metadata_headers() -> None:
    core = parse_metadata(
        b"Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0rc1\nRequires-Dist: six>=1\n"
        b"Requires-Dist: idna; extra == 'x'\n\nLong description\nName: not-a-header\n"
    )
    assert (core.name, core.version) == ("Foo.Bar", "1.0rc1")
    assert core.requires == ("six>=1", "idna; extra == 'x'")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"Metadata-Version: 2.1\nVersion: 1.0\n", "no Name"),
        (b"Metadata-Version: 2.1\nName: foo\n", "no Name or no Version"),
        (b"Name: -bad-\nVersion: 1\n", "invalid project name"),
        (b"Name: foo\nVersion: 1 2\n", "invalid version"),
        (b"Name: foo\x00\nVersion: 1\n", "NUL"),
        (b"\xff\xfe\x00garbage", "NUL"),
        (b"", "no Name"),
    ],
)
def test_malformed_metadata_raises(data: bytes, why: str) -> None:
    with pytest.raises(MetadataError, match=why):
        parse_metadata(data)


def test_non_utf8_metadata_is_read_as_latin1() -> None:
    core = parse_metadata("Name: foo\nVersion: 1.0\nAuthor: Jos\xe9\n".encode("latin-1"))
    assert core.name == "foo"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_record_lines() -> None:
    parsed = parse_record(
        f'pkg/a.py,sha256={_b64(b"x")},1\n"pkg/with,comma.py",,\n\n../../../bin/tool,sha256={_b64(b"")},0\n'.encode()
    )
    assert parsed.bad_lines == ()
    first, second, third = parsed.entries
    assert (first.path, first.algorithm, first.digest, first.size) == (
        "pkg/a.py",
        "sha256",
        hashlib.sha256(b"x").digest(),
        1,
    )
    assert (second.path, second.digest, second.size) == ("pkg/with,comma.py", None, None)
    assert third.path == "../../../bin/tool"


def test_malformed_record_lines_are_counted_not_fatal() -> None:
    parsed = parse_record(
        b"ok.py,,\n"
        b"two,fields\n"
        b"bad.py,sha256,3\n"  # no '='
        b"bad2.py,sha256=!!!!,3\n"  # not base64
        b"bad3.py,,-1\n"  # negative size
        b'"unterminated,,\n'
        b",,\n"  # empty path
        b"fine.py,,0\n"
    )
    assert [e.path for e in parsed.entries] == ["ok.py", "fine.py"]
    assert parsed.bad_lines == (2, 3, 4, 5, 6, 7)


def test_direct_url_must_be_an_object() -> None:
    assert parse_direct_url(b'{"url": "file:///src", "dir_info": {"editable": true}}')["url"] == "file:///src"
    for bad in (b"[1]", b"not json", b"[" * 100_000):
        with pytest.raises(MetadataError):
            parse_direct_url(bad)


@pytest.mark.parametrize(
    ("base", "rel", "expected"),
    [
        ("", "pkg/a.py", "pkg/a.py"),
        ("", "./pkg//a.py", "pkg/a.py"),
        ("", "../../../bin/tool", None),
        ("", "/usr/bin/tool", None),
        ("", "C:\\Python\\x.py", None),
        ("foo.egg-info", "../foo/__init__.py", "foo/__init__.py"),
        ("foo.egg-info", "PKG-INFO", "foo.egg-info/PKG-INFO"),
        ("foo.egg-info", "../../outside.py", None),
        ("", "pkg/../..", None),
        ("", ".hidden/x.py", ".hidden/x.py"),
        ("", "pkg/./x.py", "pkg/x.py"),
        ("", "pkg\\x.py", "pkg/x.py"),
    ],
)
def test_tree_path(base: str, rel: str, expected: str | None) -> None:
    assert tree_path(base, rel) == expected


# --- reading trees ---


def test_installed_distribution(site: Path) -> None:
    di = make_dist(
        site, "demo-pkg", "1.2", {"demo_pkg/__init__.py": "x = 1\n", "demo.pth": "/src\n"}, requires=("six",)
    )
    (di / "direct_url.json").write_text('{"url": "https://example.org/demo.whl"}')
    inv = read_inventory(DirectoryTree(site))
    (dist,) = inv.distributions
    assert (dist.name, dist.version, dist.key, dist.installer) == ("demo-pkg", "1.2", "demo-pkg", "pip")
    assert dist.metadata_dir == "demo_pkg-1.2.dist-info"
    assert dist.location == str(site)
    assert dist.requires == ("six",)
    assert dist.direct_url == {"url": "https://example.org/demo.whl"}
    assert dist.record is not None
    assert len(dist.record) == 5
    # Owned: every RECORD path, and anything in the dist-info (direct_url.json is not in RECORD here).
    assert set(inv.owners) == {
        "demo_pkg/__init__.py",
        "demo.pth",
        "demo_pkg-1.2.dist-info/METADATA",
        "demo_pkg-1.2.dist-info/INSTALLER",
        "demo_pkg-1.2.dist-info/RECORD",
        "demo_pkg-1.2.dist-info/direct_url.json",
    }
    assert inv.findings == ()
    assert inv.errors == ()
    assert all(record_path(dist, e) in inv.owners for e in dist.record)


def test_script_paths_outside_site_packages_are_not_owned(site: Path) -> None:
    di = make_dist(site, "tool", "1", {"tool.py": "pass\n"})
    with (di / "RECORD").open("a") as f:
        f.write(f"../../../bin/tool,sha256={_b64(b'#!')},2\n/abs/path,,\n")
    inv = read_inventory(DirectoryTree(site))
    assert not any(p.startswith(("..", "/")) or "bin/" in p for p in inv.owners)
    assert inv.findings == ()


def test_malformed_metadata_is_a_finding(site: Path) -> None:
    make_dist(site, "good", "1", {"good.py": ""})
    broken = site / "broken-1.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_bytes(b"\x00\x01binary junk")
    nometa = site / "nometa-1.0.dist-info"
    nometa.mkdir()
    (nometa / "RECORD").write_text("nometa.py,,\n")
    inv = read_inventory(DirectoryTree(site))
    assert [d.name for d in inv.distributions] == ["good"]
    by_path = {f.path: f for f in inv.findings}
    assert set(by_path) == {"broken-1.0.dist-info/METADATA", "nometa-1.0.dist-info"}
    assert all(f.rule == "metadata-malformed" and f.severity == Severity.MEDIUM for f in inv.findings)
    assert "broken-1.0.dist-info" in inv.metadata_dirs
    assert "nometa-1.0.dist-info" in inv.metadata_dirs


def test_malformed_record_is_a_finding_and_the_rest_is_kept(site: Path) -> None:
    di = make_dist(site, "rec", "1", {"rec.py": "pass\n"})
    with (di / "RECORD").open("a") as f:
        f.write("only-one-field\nx.py,md5,zz\n")
    inv = read_inventory(DirectoryTree(site))
    (finding,) = inv.findings
    assert finding.rule == "metadata-malformed"
    assert finding.package == "rec"
    assert finding.path == "rec-1.dist-info/RECORD"
    assert finding.line == 5
    assert "2 malformed" in finding.message
    assert "rec.py" in inv.owners


def test_non_utf8_metadata_is_a_low_finding(site: Path) -> None:
    di = site / "latin-1.0.dist-info"
    di.mkdir()
    (di / "METADATA").write_bytes("Name: latin\nVersion: 1.0\nAuthor: Jos\xe9\n".encode("latin-1"))
    inv = read_inventory(DirectoryTree(site))
    assert [d.name for d in inv.distributions] == ["latin"]
    (finding,) = inv.findings
    assert finding.severity == Severity.LOW
    assert "not UTF-8" in finding.message


def test_egg_info_with_installed_files(site: Path) -> None:
    (site / "old").mkdir()
    (site / "old" / "__init__.py").write_text("")
    egg = site / "old-0.1-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old\nVersion: 0.1\n")
    (egg / "installed-files.txt").write_text(
        "../old/__init__.py\nPKG-INFO\ninstalled-files.txt\n../../../../bin/x\n"
    )
    inv = read_inventory(DirectoryTree(site))
    (dist,) = inv.distributions
    assert (dist.name, dist.record) == ("old", None)
    assert inv.owners["old/__init__.py"] is dist
    assert inv.owners[f"{egg.name}/PKG-INFO"] is dist


def test_egg_info_without_file_list_owns_its_top_level_names(site: Path) -> None:
    for rel in ("distro/__init__.py", "distro_mod.py", "unrelated/__init__.py"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    (site / "distro.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    egg = site / "distro-1.0.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Name: distro\nVersion: 1.0\n")
    (egg / "top_level.txt").write_text("distro\n")
    single = site / "legacy-2.0.egg-info"
    single.write_text("Name: legacy\nVersion: 2.0\n")
    inv = read_inventory(DirectoryTree(site))
    assert sorted(d.name for d in inv.distributions) == ["distro", "legacy"]
    assert {"distro/__init__.py", "distro.cpython-311-x86_64-linux-gnu.so", "legacy-2.0.egg-info"} <= set(
        inv.owners
    )
    assert "unrelated/__init__.py" not in inv.owners
    assert "distro_mod.py" not in inv.owners


def test_wheel_inventory(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "2.0", {"demo/__init__.py": "pass\n"})
    tree = open_archive(wheel)
    inv = read_inventory(tree, tree.declared)
    (dist,) = inv.distributions
    assert (dist.name, dist.version, dist.location) == ("demo", "2.0", str(wheel))
    assert dist.record is not None
    assert set(inv.owners) == set(tree.paths())
    assert inv.findings == ()


def test_wheel_whose_metadata_disagrees_with_its_file_name(tmp_path: Path) -> None:
    built = make_wheel(tmp_path, "real", "1.0", {"real.py": ""})
    renamed = built.rename(tmp_path / "other-1.0-py3-none-any.whl")
    tree = open_archive(renamed)
    inv = read_inventory(tree, tree.declared)
    assert [d.name for d in inv.distributions] == ["real"]
    (finding,) = inv.findings
    assert "file name says other 1.0" in finding.message


def test_sdist_inventory_from_pkg_info_and_fallback(tmp_path: Path) -> None:
    sdist = make_sdist(
        tmp_path, "demo", "3.0", {"setup.py": "", "demo.egg-info/PKG-INFO": "Name: demo\nVersion: 3.0\n"}
    )
    tree = open_archive(sdist)
    inv = read_inventory(tree, tree.declared)
    (dist,) = inv.distributions
    assert (dist.name, dist.version, dist.metadata_dir) == ("demo", "3.0", "demo-3.0")
    assert inv.owners["demo-3.0/setup.py"] is dist

    bare = tmp_path / "bare"
    write_tar(bare / "bare-0.5.tar.gz", {"bare-0.5/setup.py": b""})
    tree = open_archive(bare / "bare-0.5.tar.gz")
    inv = read_inventory(tree, tree.declared)
    assert [(d.name, d.version) for d in inv.distributions] == [("bare", "0.5")]
    assert [f.message for f in inv.findings] == ["the archive has no readable metadata (a PKG-INFO)"]


class _UnreadableTree:
    """A tree whose metadata files cannot be read (what an unreadable directory looks like)."""

    label = "stub"
    kind = TargetKind.ENVIRONMENT

    def paths(self) -> Iterator[str]:
        return iter(["x-1.dist-info/METADATA", "x-1.dist-info/RECORD", "x.py"])

    def size(self, path: str) -> int:
        return 10

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        raise TreeError(f"{path}: cannot read (Permission denied)")

    def links(self) -> Iterator[tuple[str, str]]:
        return iter([])


def test_unreadable_metadata_is_an_error_and_a_finding() -> None:
    inv = read_inventory(_UnreadableTree())
    assert inv.distributions == ()
    assert inv.errors == ("x-1.dist-info/METADATA: cannot read (Permission denied)",)
    assert [f.rule for f in inv.findings] == ["metadata-malformed"]
