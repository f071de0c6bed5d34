"""Building manifests from real directories: against a naive walk, symlinks, special files,
unreadable files, names, and files that change while they are hashed.

The tests run as root, who reads a mode-000 file: unreadable files are tested by running the CLI
as `nobody` with `setpriv` (skipped, saying so, where that is not possible).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_naive import manifest_of

from chainproof.custody import (
    DatasetError,
    EntryKind,
    Manifest,
    artifact_digest,
    build,
    file_sha256,
    hashing,
    load,
)
from chainproof.custody.hashing import Found


def write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _naive_check(top: Path, m: Manifest) -> None:
    entries, root = manifest_of(top)
    assert [e.to_json() for e in m] == entries
    assert m.root == root


# -- against the naive walk -------------------------------------------------------------------

_name = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=8
).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200)
trees = st.dictionaries(
    st.lists(_name, min_size=1, max_size=3).map(tuple), st.binary(max_size=300), max_size=12
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees)
def test_root_is_naive_mth_of_the_tree(tmp_path: Path, tree: dict[tuple[str, ...], bytes]) -> None:
    top = Path(tempfile.mkdtemp(dir=tmp_path))
    made: set[tuple[str, ...]] = set()
    for parts, data in tree.items():
        # keep it a tree: no file where another needs a directory, and the reverse
        if any(parts[:i] in made for i in range(1, len(parts))) or any(
            m[: len(parts)] == parts for m in made
        ):
            continue
        made.add(parts)
        write(top, {"/".join(parts): data})
    _naive_check(top, build(top))


def test_many_files_of_every_size_on_any_number_of_threads(tmp_path: Path) -> None:
    """Past one batch of small files, past one read buffer, past a batch of its own, in any order."""
    sizes = [0, 1, 2047, 2048, hashing.SMALL - 1, hashing.SMALL, hashing.CHUNK + 17, hashing.BATCH_BYTES + 3]
    files = {f"s/{i:04d}.json": b"%d\n" % i * (i % 50) for i in range(hashing.BATCH_FILES * 2 + 10)}
    files |= {f"sizes/{n}.bin": os.urandom(n) for n in sizes}
    top = write(tmp_path / "d", files)
    m = build(top, jobs=1)
    _naive_check(top, m)
    for jobs in (2, 3, 8):
        assert build(top, jobs=jobs) == m


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    top = write(tmp_path / "d", {"a": b"x" * 100, "b/c": os.urandom(hashing.CHUNK * 3), "e": b""})
    seen: list[tuple[int, int]] = []
    build(top, on_progress=lambda done, total: seen.append((done, total)))
    total = 100 + hashing.CHUNK * 3
    assert seen[-1] == (total, total)
    assert all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    m = build(tmp_path / "d")
    assert len(m) == 0
    assert m.root == hashlib.sha256(b"").digest()


def test_single_file_is_one_entry_and_its_digest_is_sha256sum(tmp_path: Path) -> None:
    data = os.urandom(hashing.CHUNK + 5)
    f = tmp_path / "model.safetensors"
    f.write_bytes(data)
    m = build(f)
    assert [(e.path, e.size, e.sha256) for e in m] == [
        ("model.safetensors", len(data), hashlib.sha256(data).digest())
    ]
    expected = hashlib.sha256(data).hexdigest()
    if shutil.which("sha256sum"):
        expected = subprocess.run(
            ["sha256sum", str(f)], check=True, capture_output=True, text=True
        ).stdout.split()[0]
    assert artifact_digest(f) == "sha256:" + expected
    assert file_sha256(f) == (len(data), bytes.fromhex(expected))
    # a lone file's manifest has the root of a directory holding only that file
    d = write(tmp_path / "alone", {"model.safetensors": data})
    assert build(d).root == m.root
    assert artifact_digest(d) == m.digest


def test_utf8_names_kept_as_they_are(tmp_path: Path) -> None:
    names = [
        "données/naïve.txt",
        "日本語.txt",
        "caf\u00e9",
        "cafe\u0301",
        "\U0001f600",
        "\ue000",
        "new\nline",
    ]
    top = write(tmp_path / "d", {n: n.encode() for n in names})
    m = build(top)
    assert sorted(names, key=lambda n: n.encode()) == [e.path for e in m]
    _naive_check(top, m)
    assert Manifest.loads(m.dumps()) == m


def test_a_name_that_is_not_utf8_is_named_and_refused(tmp_path: Path) -> None:
    top = tmp_path / "d"
    (top / "sub").mkdir(parents=True)
    Path(os.fsdecode(bytes(top / "sub") + b"/bad\xff.bin")).write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"sub/bad\\xff\.bin: the name is not valid UTF-8"):
        build(top)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope: no such file or directory"):
        build(tmp_path / "nope")


# -- symlinks ------------------------------------------------------------------------------------


def test_symlinks_are_recorded_never_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.txt": b"not part of the dataset"})
    top = write(tmp_path / "d", {"a.txt": b"a", "dir/b.txt": b"b"})
    (top / "inside").symlink_to("a.txt")
    (top / "up").symlink_to("../outside/secret.txt")
    (top / "absolute").symlink_to(outside / "secret.txt")
    (top / "dangling").symlink_to("no/such/file")
    (top / "dirlink").symlink_to("dir")
    (top / "outdir").symlink_to(outside)
    m = build(top)
    links = {e.path: e.target for e in m if e.kind is EntryKind.SYMLINK}
    assert links == {
        "inside": "a.txt",
        "up": "../outside/secret.txt",
        "absolute": str(outside / "secret.txt"),
        "dangling": "no/such/file",
        "dirlink": "dir",
        "outdir": str(outside),
    }
    assert {e.path for e in m if e.kind is EntryKind.FILE} == {"a.txt", "dir/b.txt"}  # nothing via links
    for e in m:
        if e.kind is EntryKind.SYMLINK:
            assert e.target is not None
            assert (e.size, e.sha256) == (len(e.target.encode()), hashlib.sha256(e.target.encode()).digest())
    _naive_check(top, m)


@pytest.mark.parametrize("links", [{"self": "self"}, {"a": "b", "b": "a"}, {"x": "loop/x", "loop": "."}])
def test_a_symlink_loop_is_named(tmp_path: Path, links: dict[str, str]) -> None:
    top = write(tmp_path / "d", {"f": b"1"})
    for name, target in links.items():
        (top / name).symlink_to(target)
    expected = "x" if "x" in links else "(a|b|self)"
    with pytest.raises(DatasetError, match=f"d/{expected}: a symlink loop"):
        build(top)


def test_the_top_path_may_be_a_link_but_not_a_loop(tmp_path: Path) -> None:
    top = write(tmp_path / "d", {"f": b"1"})
    (tmp_path / "via").symlink_to("d")
    assert build(tmp_path / "via") == build(top)
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(DatasetError, match="loop: a symlink loop"):
        build(tmp_path / "loop")


# -- special and unreadable files ------------------------------------------------------------------


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    top = write(tmp_path / "d", {"a": b"a"})
    os.mkfifo(top / "pipe")
    with pytest.raises(DatasetError, match="d/pipe: a fifo, not a regular file"):
        build(top)  # opening it would block until a writer came


def test_a_socket_is_refused(tmp_path: Path) -> None:
    short = Path(tempfile.mkdtemp(prefix="cp-"))  # a socket path must be short
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(short / "sock"))
            with pytest.raises(DatasetError, match="sock: a socket"):
                build(short)
    finally:
        shutil.rmtree(short)


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the CLI as another user (root reads mode-000 files)")
    cmd = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-m",
        "chainproof",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory `nobody` can reach (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="cp-unreadable-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_an_unreadable_file_is_named(public_dir: Path) -> None:
    top = write(public_dir / "d", {"ok.txt": b"ok", "sub/secret.bin": b"s"})
    for p in (top, top / "sub"):
        p.chmod(0o755)
    (top / "ok.txt").chmod(0o644)
    (top / "sub" / "secret.bin").chmod(0o000)
    proc = _as_nobody("data", "manifest", str(top))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"chainproof: error: {top}/sub/secret.bin: cannot read: Permission denied\n"
    assert proc.stdout == ""


def test_an_unreadable_directory_is_named(public_dir: Path) -> None:
    top = write(public_dir / "d", {"ok.txt": b"ok", "locked/x": b"x"})
    top.chmod(0o755)
    (top / "ok.txt").chmod(0o644)
    (top / "locked").chmod(0o700)
    proc = _as_nobody("data", "manifest", str(top), "--json")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"chainproof: error: {top}/locked: cannot read the directory: Permission denied\n"


# -- files that change while they are hashed ---------------------------------------------------


def _during_hashing(monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """Run `act` once, after the walk and before the files are hashed."""
    real = hashing.hash_files

    def hash_files(files: Sequence[Found], **kw: object) -> list[bytes]:
        act()
        return real(files, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("chainproof.custody.tree.hash_files", hash_files)


def _while_reading(monkeypatch: pytest.MonkeyPatch, name: str, act: Callable[[], None]) -> None:
    """Run `act` once, when the first read of a file called `name` returns (the file is open)."""
    done = [False]
    real_read, real_readv = os.read, os.readv

    def fire(fd: int) -> None:
        if not done[0] and Path(f"/proc/self/fd/{fd}").resolve().name == name:
            done[0] = True
            act()

    def read(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        fire(fd)
        return data

    def readv(fd: int, buffers: Sequence[bytearray]) -> int:
        n = real_readv(fd, buffers)
        fire(fd)
        return n

    monkeypatch.setattr(hashing.os, "read", read)
    monkeypatch.setattr(hashing.os, "readv", readv)


def _old_mtime(path: Path) -> None:
    """An mtime long past, so that any write moves it whatever the clock's granularity."""
    os.utime(path, ns=(10**18, 10**18))


@pytest.mark.parametrize("size", [10, hashing.CHUNK * 3])
def test_a_file_growing_while_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    top = write(tmp_path / "d", {"a": b"a", "grows.log": b"x" * size})

    def append() -> None:
        with (top / "grows.log").open("ab") as f:
            f.write(b"more")

    _while_reading(monkeypatch, "grows.log", append)
    with pytest.raises(DatasetError, match=r"d/grows\.log: changed while it was hashed"):
        build(top)


@pytest.mark.parametrize("size", [10, hashing.CHUNK * 3])
def test_a_file_rewritten_in_place_while_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    top = write(tmp_path / "d", {"data.bin": b"x" * size})
    _old_mtime(top / "data.bin")

    def overwrite() -> None:
        with (top / "data.bin").open("r+b") as f:
            f.write(b"y")

    _while_reading(monkeypatch, "data.bin", overwrite)
    with pytest.raises(DatasetError, match=r"data\.bin: changed while it was hashed \(modified\)"):
        build(top)


def test_a_file_truncated_while_read_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = write(tmp_path / "d", {"big.bin": os.urandom(hashing.CHUNK * 3)})
    _while_reading(monkeypatch, "big.bin", lambda: os.truncate(top / "big.bin", hashing.CHUNK))
    with pytest.raises(DatasetError, match=r"big\.bin: changed while it was hashed"):
        build(top)


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


CHANGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "removed": (lambda p: p.unlink(), "removed"),
    "replaced": (
        lambda p: (p.with_name("new").write_bytes(b"other"), p.with_name("new").replace(p)),
        "replaced",
    ),
    "same size, new mtime": (lambda p: p.write_bytes(b"y" * 5), "modified"),
    "symlink": (lambda p: (p.unlink(), p.symlink_to("/etc/passwd")), "replaced by a symlink"),
    "fifo": (_replace_with_fifo, "replaced"),
}


@pytest.mark.parametrize("name", CHANGES)
def test_a_file_changed_after_the_walk_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    act, how = CHANGES[name]
    top = write(tmp_path / "d", {"keep": b"k", "f.txt": b"x" * 5})
    _old_mtime(top / "f.txt")
    _during_hashing(monkeypatch, lambda: act(top / "f.txt"))
    with pytest.raises(DatasetError, match=rf"d/f\.txt: changed while it was hashed \({how}\)"):
        build(top)


def test_a_worker_error_stops_the_build_and_leaves_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"{i:03d}": b"x" * 10 for i in range(600)}
    top = write(tmp_path / "d", files)
    _during_hashing(monkeypatch, (top / "300").unlink)
    before = threading.active_count()
    with pytest.raises(DatasetError, match="d/300: changed while it was hashed"):
        build(top, jobs=4)
    assert threading.active_count() == before


# -- loading ---------------------------------------------------------------------------------------


def test_load_reads_a_manifest_file_or_builds_a_directory(tmp_path: Path) -> None:
    top = write(tmp_path / "d", {"a": b"1", "b/c": b"2"})
    m = build(top)
    (tmp_path / "m.json").write_bytes(m.dumps())
    assert load(tmp_path / "m.json") == m
    assert load(top) == m
    (tmp_path / "not.json").write_bytes(b"\x00binary")
    with pytest.raises(Exception, match=r"not\.json is not JSON"):
        load(tmp_path / "not.json")


def test_an_error_in_the_progress_callback_stops_the_threads(tmp_path: Path) -> None:
    top = write(tmp_path / "d", {f"{i:02d}.bin": os.urandom(hashing.CHUNK) for i in range(40)})

    class Stop(Exception):
        pass

    def stop(done: int, total: int) -> None:
        raise Stop

    before = threading.active_count()
    with pytest.raises(Stop):
        build(top, jobs=2, on_progress=stop)
    assert threading.active_count() == before
