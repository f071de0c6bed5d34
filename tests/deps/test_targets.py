"""Targets: which directories make an environment, and archives read in memory, safely."""

from __future__ import annotations

import io
import os
import stat
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from deps_support import make_sdist, make_wheel, write_tar, write_zip

from chainproof.deps.files import TargetKind, TreeError
from chainproof.deps.model import Severity
from chainproof.deps.targets import archive
from chainproof.deps.targets.archive import (
    SdistTree,
    WheelTree,
    archive_kind,
    declared_name,
    link_escapes,
    member_path,
    open_archive,
)
from chainproof.deps.targets.directory import DirectoryTree
from chainproof.deps.targets.environment import (
    current_environment,
    environment_of_directory,
    environment_of_python,
    parse_pyvenv_cfg,
    prefix_site_dirs,
)
from chainproof.errors import UsageError

# --- environments ---


def test_pyvenv_cfg() -> None:
    cfg = parse_pyvenv_cfg("home = /usr/bin\ninclude-system-site-packages = false\nVersion = 3.12.1\njunk\n")
    assert cfg == {"home": "/usr/bin", "include-system-site-packages": "false", "version": "3.12.1"}


def test_venv_layout_with_lib64_link(tmp_path: Path) -> None:
    venv = tmp_path / "v"
    site = venv / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    (venv / "lib" / "python3.9" / "site-packages").mkdir(parents=True)  # a stale one, also scanned
    (venv / "pyvenv.cfg").write_text("version_info = 3.12.1\n")
    dirs = prefix_site_dirs(venv)
    assert dirs[0] == site
    assert len({d.resolve() for d in dirs}) == len(dirs) == 2


def test_directory_targets(site: Path, tmp_path: Path) -> None:
    venv = site.parents[2]
    assert environment_of_directory(venv).site_dirs == (site,)
    assert environment_of_directory(site).site_dirs == (site,)  # taken as site-packages itself
    empty_venv = tmp_path / "empty"
    empty_venv.mkdir()
    (empty_venv / "pyvenv.cfg").write_text("version = 3.11\n")
    with pytest.raises(TreeError, match="without a site-packages"):
        environment_of_directory(empty_venv)
    with pytest.raises(UsageError):
        environment_of_directory(tmp_path / "missing")


def test_python_of_a_venv_is_read_from_pyvenv_cfg_without_running_it(site: Path) -> None:
    venv = site.parents[2]
    exe = venv / "bin" / "python"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\necho ran > ran.txt\n")  # not executable: running it would fail
    env = environment_of_python(str(exe))
    assert env.site_dirs == (site,)


def _fake_python(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "bin" / "fakepython"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return exe


def test_other_python_runs_isolated_without_site(tmp_path: Path) -> None:
    purelib = tmp_path / "purelib"
    purelib.mkdir()
    args = tmp_path / "args.txt"
    exe = _fake_python(tmp_path, f'echo "$@" > {args}\necho \'["{purelib}", "{purelib}"]\'')
    env = environment_of_python(str(exe))
    assert env.site_dirs == (purelib,)
    assert args.read_text().split()[:2] == ["-I", "-S"]  # -S: no site module, so no .pth runs


def test_real_base_interpreter(tmp_path: Path) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    env = environment_of_python(base)
    assert env.site_dirs
    assert all(d.is_dir() for d in env.site_dirs)


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ("sleep 5", TreeError, "no answer"),
        ("echo not json", TreeError, "did not report"),
        ("exit 3", TreeError, "did not report"),
        ("echo '{\"a\": 1}'", TreeError, "did not report"),
    ],
)
def test_broken_python(tmp_path: Path, body: str, error: type[Exception], match: str) -> None:
    exe = _fake_python(tmp_path, body)
    with pytest.raises(error, match=match):
        environment_of_python(str(exe), timeout=0.5)


def test_missing_python(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such interpreter"):
        environment_of_python(str(tmp_path / "nope"))
    not_exe = tmp_path / "plain"
    not_exe.write_text("")
    with pytest.raises(UsageError, match="cannot run"):
        environment_of_python(str(not_exe))


def test_current_environment_is_this_interpreter() -> None:
    env = current_environment()
    assert Path(sysconfig.get_paths()["purelib"]) in env.site_dirs


# --- directory trees ---


def test_directory_tree_does_not_follow_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (root / "escape").symlink_to(outside)
    (root / "hook.pth").symlink_to(outside / "secret")
    tree = DirectoryTree(root)
    assert list(tree.paths()) == ["pkg/a.py"]
    assert dict(tree.links()) == {"escape": str(outside), "hook.pth": str(outside / "secret")}
    with pytest.raises(TreeError):
        tree.read("hook.pth")
    with pytest.raises(TreeError, match="over the 0-byte limit"):
        tree.read("pkg/a.py", limit=0)


def test_unreadable_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "locked").mkdir(parents=True)
    (root / "ok.py").write_text("")
    (root / "locked").chmod(0)
    try:
        tree = DirectoryTree(root)
        if os.geteuid() == 0:
            # root reads it anyway: the error path is covered by test_inventory's unreadable tree stub
            assert tree.errors == []
        else:
            assert tree.errors == ["locked: cannot list (Permission denied)"]
        assert "ok.py" in list(tree.paths())
    finally:
        (root / "locked").chmod(stat.S_IRWXU)


# --- archives: names and kinds ---


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/b.py", "a/b.py"), ("./a//b.py", "a/b.py"), ("a\\b.py", "a/b.py")],
)
def test_member_path(name: str, expected: str) -> None:
    assert member_path(name) == expected


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../x", "a/../../x", "a/..", "C:/x", "\\\\server\\x", "", "./"]
)
def test_unsafe_member_names(name: str) -> None:
    with pytest.raises(archive.UnsafeMember):
        member_path(name)


def test_link_escapes() -> None:
    assert not link_escapes("pkg/README", "../README")
    assert link_escapes("pkg/README", "../../etc/passwd")
    assert link_escapes("x", "/etc/passwd")
    assert not link_escapes("pkg/a", "pkg/b", hard=True)
    assert link_escapes("pkg/a", "../b", hard=True)


def test_kinds_and_declared_names() -> None:
    assert archive_kind(Path("x-1-py3-none-any.whl")) is TargetKind.WHEEL
    assert archive_kind(Path("x-1.tgz")) is TargetKind.SDIST
    assert archive_kind(Path("x-1.zip")) is TargetKind.SDIST
    assert archive_kind(Path("requirements.txt")) is None
    assert declared_name(Path("Foo_Bar-1.0-py3-none-any.whl"), TargetKind.WHEEL) == ("foo-bar", "1.0")
    assert declared_name(Path("foo-1.0.tgz"), TargetKind.SDIST) == ("foo", "1.0")
    assert declared_name(Path("foo-1.0.zip"), TargetKind.SDIST) == ("foo", "1.0")
    assert declared_name(Path("not a wheel.whl"), TargetKind.WHEEL) is None


# --- archives: reading ---


def test_wheel_tree(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": "x = 1\n"})
    tree = open_archive(wheel)
    assert isinstance(tree, WheelTree)
    assert tree.kind is TargetKind.WHEEL
    assert tree.declared == ("demo", "1.0")
    assert "demo/__init__.py" in list(tree.paths())
    assert tree.read("demo/__init__.py") == b"x = 1\n"
    assert tree.size("demo/__init__.py") == 6
    with pytest.raises(TreeError, match="over the 2-byte limit"):
        tree.read("demo/__init__.py", limit=2)
    with pytest.raises(TreeError, match="not a regular file"):
        tree.read("nope")
    assert tree.problems == []


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_sdist_tree(tmp_path: Path, fmt: str) -> None:
    sdist = make_sdist(tmp_path, "demo", "1.0", {"setup.py": "print(1)\n"}, fmt=fmt)
    tree = open_archive(sdist)
    assert isinstance(tree, SdistTree)
    assert tree.kind is TargetKind.SDIST
    assert sorted(tree.paths()) == ["demo-1.0/PKG-INFO", "demo-1.0/setup.py"]
    assert tree.read("demo-1.0/setup.py") == b"print(1)\n"


def test_nothing_is_written_to_disk(tmp_path: Path) -> None:
    box = tmp_path / "box"
    target = write_tar(box / "evil-1.0.tar.gz", {"../escaped.txt": b"x", "evil-1.0/ok.py": b""})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    tree = open_archive(target)
    assert list(tree.paths()) == ["evil-1.0/ok.py"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("writer", [write_zip, write_tar])
def test_unsafe_names_are_problems_not_members(tmp_path: Path, writer: object) -> None:
    suffix = ".zip" if writer is write_zip else ".tar.gz"
    members = {"/etc/cron.d/x": b"1", "pkg-1/../../up.py": b"2", "pkg-1/ok.py": b"3"}
    path = writer(tmp_path / f"pkg-1{suffix}", members)  # type: ignore[operator]
    tree = open_archive(path)
    assert list(tree.paths()) == ["pkg-1/ok.py"]
    assert {p.path: p.severity for p in tree.problems} == {
        "/etc/cron.d/x": Severity.HIGH,
        "pkg-1/../../up.py": Severity.HIGH,
    }


def _tar_with(path: Path, infos: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in infos:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_tar_links_and_devices(tmp_path: Path) -> None:
    path = _tar_with(
        tmp_path / "links-1.tar.gz",
        [
            (_info("links-1/a.py"), b"a"),
            (_info("links-1/inside", tarfile.SYMTYPE, "a.py"), b""),
            (_info("links-1/passwd", tarfile.SYMTYPE, "/etc/passwd"), b""),
            (_info("links-1/hard", tarfile.LNKTYPE, "../../etc/shadow"), b""),
            (_info("links-1/dev", tarfile.CHRTYPE), b""),
            (_info("links-1/a.py"), b"second copy"),
        ],
    )
    tree = open_archive(path)
    assert list(tree.paths()) == ["links-1/a.py"]
    assert tree.read("links-1/a.py") == b"a"  # the first copy; the second is a problem
    assert dict(tree.links()) == {
        "links-1/inside": "a.py",
        "links-1/passwd": "/etc/passwd",
        "links-1/hard": "../../etc/shadow",
    }
    problems = {p.path: (p.severity, p.message) for p in tree.problems}
    assert set(problems) == {"links-1/passwd", "links-1/hard", "links-1/dev", "links-1/a.py"}
    assert problems["links-1/dev"][0] == Severity.MEDIUM
    assert "twice" in problems["links-1/a.py"][1]
    assert "hard link" in problems["links-1/hard"][1]


def test_zip_symlink_member(tmp_path: Path) -> None:
    path = tmp_path / "z-1.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("z-1/link.pth")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("z-1/ok.py", "")
    tree = open_archive(path)
    assert list(tree.paths()) == ["z-1/ok.py"]
    assert dict(tree.links()) == {"z-1/link.pth": "/etc/passwd"}
    assert [p.path for p in tree.problems] == ["z-1/link.pth"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bad-1.0-py3-none-any.whl", b"PK\x03\x04 this is not a zip"),
        ("bad-1.0.tar.gz", b"\x1f\x8b\x08\x00garbage"),
        ("bad-1.0.zip", b""),
        ("bad-1.0.tar.gz", b""),
    ],
)
def test_corrupt_archives(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TreeError) as info:
        open_archive(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_truncated_archives(tmp_path: Path, fmt: str) -> None:
    payload = os.urandom(200_000)  # incompressible, so truncation cuts into member data
    sdist = make_sdist(tmp_path, "cut", "1.0", {"big.bin": payload}, fmt=fmt)
    data = sdist.read_bytes()
    sdist.write_bytes(data[: len(data) // 2])
    with pytest.raises(TreeError, match=r"corrupt or truncated|truncated|not a zip"):
        open_archive(sdist)


def test_zip_member_with_bad_crc_fails_on_read(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "crc", "1.0", {"crc/data.txt": "A" * 1000})
    raw = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("crc/data.txt")
    # Damage the compressed data itself (after the 30-byte local header and the name).
    start = info.header_offset + 30 + len(info.filename.encode())
    for offset in range(2, 8):
        raw[start + offset] ^= 0x55
    wheel.write_bytes(bytes(raw))
    tree = open_archive(wheel)
    with pytest.raises(TreeError, match="cannot read"):
        tree.read("crc/data.txt")


def test_zip_bomb_is_stopped_by_the_expansion_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 5 * 1024 * 1024)
    path = tmp_path / "bomb-1.0.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"bomb-1.0/zeros{i}", b"\0" * (3 * 1024 * 1024))
    assert path.stat().st_size < 100_000
    with pytest.raises(TreeError, match="expands to more than"):
        open_archive(path)


def test_tar_bomb_is_stopped_by_the_expansion_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 5 * 1024 * 1024)
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 1024)
    path = write_tar(
        tmp_path / "bomb-1.0.tar.gz", {f"bomb-1.0/z{i}": b"\0" * (2 * 1024 * 1024) for i in range(4)}
    )
    with pytest.raises(TreeError, match="expands to more than"):
        open_archive(path)


def test_huge_member_is_listed_but_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 1024)
    path = write_tar(tmp_path / "huge-1.0.tar.gz", {"huge-1.0/big.bin": b"\0" * 4096, "huge-1.0/small": b"s"})
    tree = open_archive(path)
    assert tree.size("huge-1.0/big.bin") == 4096
    with pytest.raises(TreeError, match="over the"):
        tree.read("huge-1.0/big.bin")
    assert tree.read("huge-1.0/small") == b"s"


def test_oversized_archive_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_wheel(tmp_path, "big", "1.0", {"big/data.bin": os.urandom(4096)})
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 1024)
    with pytest.raises(TreeError, match="larger than 1024 bytes"):
        open_archive(wheel)


def test_member_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_MEMBERS", 5)
    for writer, suffix in ((write_zip, ".zip"), (write_tar, ".tar.gz")):
        path = writer(tmp_path / f"many-1.0{suffix}", {f"many-1.0/f{i}": b"" for i in range(10)})
        with pytest.raises(TreeError, match="more than 5 members"):
            open_archive(path)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x")
    with pytest.raises(TreeError, match="not a wheel or an sdist"):
        open_archive(path)


def test_directory_reads_what_the_file_holds_now_up_to_the_limit(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "grows.py").write_bytes(b"x = 1\n")
    (tmp_path / "big.bin").write_bytes(b"a" * 3_000_000)
    tree = DirectoryTree(tmp_path)
    (tmp_path / "grows.py").write_bytes(b"x = 1\n" * 400_000)  # 2.4 MB since the walk saw 6 bytes
    assert tree.read("empty.py") == b""
    assert tree.read("grows.py") == b"x = 1\n" * 400_000
    assert tree.read("grows.py", limit=10) == b"x = 1\nx = "
    assert tree.read("big.bin") == b"a" * 3_000_000
    (tmp_path / "big.bin").write_bytes(b"b" * 10)
    assert tree.read("big.bin") == b"b" * 10
