"""No archive shape or file size makes the guard give up on a package's code.

Every payload here is a harmless replica: base64 of `print('hello world')` handed to exec.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from deps_support import make_sdist, make_wheel, metadata_text, write_tar, write_zip

from chainproof.cli.app import main
from chainproof.deps.files import TargetKind, read_chunks
from chainproof.deps.model import Severity
from chainproof.deps.scan import scan
from chainproof.deps.targets import archive
from chainproof.deps.targets.archive import open_archive
from chainproof.deps.targets.directory import DirectoryTree

P64 = "cHJpbnQoJ2hlbGxvIHdvcmxkJyk="
PAYLOAD = f"import base64\nexec(base64.b64decode('{P64}'))\n"
"""Runs `print('hello world')`; the guard must call it decoded code run by exec."""


def worst(target: Path) -> dict[tuple[str, str], Severity]:
    """(rule, path) -> severity of every finding of a scan of `target`."""
    return {(f.rule, f.path): f.severity for f in scan(target).findings}


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, Any]:
    code = main(["deps", "scan", *map(str, args), "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out)


# --- flat sdists ---


def flat_sdist(tmp_path: Path, fmt: str = "tar.gz") -> Path:
    members = {
        "setup.py": PAYLOAD.encode(),
        "helper.py": b"VALUE = 1\n",
        "PKG-INFO": metadata_text("flat", "1.0").encode(),
    }
    writer = write_zip if fmt == "zip" else write_tar
    return writer(tmp_path / f"flat-1.0.{fmt}", members)


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_a_flat_sdist_with_a_root_level_module_is_scanned_to_the_end(tmp_path: Path, fmt: str) -> None:
    result = scan(flat_sdist(tmp_path, fmt))
    assert result.errors == []
    found = {(f.rule, f.path): f.severity for f in result.findings}
    assert found[("code-exec-decoded", "flat-1.0/setup.py")] is Severity.CRITICAL
    assert result.packages[0].name == "flat"


def test_a_flat_sdist_fails_the_cli_gate_instead_of_erroring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = cli(capsys, flat_sdist(tmp_path), "--fail-on", "high")
    assert code == 1
    assert report["summary"]["errors"] == []
    assert report["summary"]["worst"] == "critical"


def test_a_flat_sdist_cannot_demote_a_setup_py_one_level_down(tmp_path: Path) -> None:
    # Only top-level members move: both setup.py files stay install scripts.
    command = b"import os\nos.system('echo planted')\n"
    sdist = write_tar(
        tmp_path / "odd-2.0.tar.gz",
        {"setup.py": command, "odd-2.0/setup.py": command, "odd-2.0/odd/__init__.py": b""},
    )
    tree = open_archive(sdist)
    assert sorted(tree.paths()) == ["odd-2.0/odd/__init__.py", "odd-2.0/setup.py", "odd-2.0_/setup.py"]
    found = {(f.rule, f.path) for f in scan(sdist).findings}
    assert {("install-time-exec", "odd-2.0/setup.py"), ("install-time-exec", "odd-2.0_/setup.py")} <= found


def test_an_sdist_with_one_top_folder_is_left_as_it_is(tmp_path: Path) -> None:
    tree = open_archive(make_sdist(tmp_path, "norm", "1.0", {"setup.py": "x = 1\n"}))
    assert sorted(tree.paths()) == ["norm-1.0/PKG-INFO", "norm-1.0/setup.py"]


def test_a_flat_sdist_without_a_conventional_name_is_nested_under_its_file_name(tmp_path: Path) -> None:
    tree = open_archive(write_tar(tmp_path / "some thing.tar.gz", {"setup.py": b"x = 1\n", "a.py": b""}))
    assert sorted(tree.paths()) == ["some_thing/a.py", "some_thing/setup.py"]


# --- padding past the size limits ---


def padded(lines: int, width: int) -> str:
    """`lines` comment lines of `width` characters each, after the payload."""
    return PAYLOAD + ("#" + "x" * (width - 2) + "\n") * lines


@pytest.mark.parametrize(
    ("lines", "width"),
    [(50_000, 100), (1, 5 * 1024 * 1024), (400_000, 100), (1, 40 * 1024 * 1024)],
    ids=["5MB-of-lines", "5MB-one-line", "40MB-of-lines", "40MB-one-line"],
)
def test_a_payload_padded_with_comment_past_the_limits_is_analysed(
    tmp_path: Path, lines: int, width: int
) -> None:
    sdist = make_sdist(tmp_path, "pad", "1.0", {"setup.py": padded(lines, width)})
    assert worst(sdist)[("code-exec-decoded", "pad-1.0/setup.py")] is Severity.CRITICAL


def test_a_padded_module_in_a_wheel_is_analysed(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "padw", "1.0", {"padw/__init__.py": padded(400_000, 100)})
    assert worst(wheel)[("code-exec-decoded", "padw/__init__.py")] is Severity.CRITICAL


def test_a_payload_padded_with_data_is_reported_from_its_text(tmp_path: Path) -> None:
    # Padding the comment stripping cannot remove: a 5 MB string literal.
    source = PAYLOAD + 'BLOB = "' + "x" * (5 * 1024 * 1024) + '"\n'
    sdist = make_sdist(tmp_path, "blob", "1.0", {"blob/__init__.py": source})
    findings = [f for f in scan(sdist).findings if f.path == "blob-1.0/blob/__init__.py"]
    assert [(f.rule, f.severity, f.line) for f in findings] == [
        ("code-unparsed-capability", Severity.HIGH, 2)
    ]
    assert "exec" in findings[0].message
    assert "decoding" in findings[0].message
    assert "b64decode" in findings[0].evidence


def test_a_large_file_naming_nothing_dangerous_stays_low(tmp_path: Path) -> None:
    source = "import subprocess\nTABLE = [\n" + "    1,\n" * 900_000 + "]\n"
    sdist = make_sdist(tmp_path, "table", "1.0", {"table/data.py": source})
    assert worst(sdist)[("code-unparsed", "table-1.0/table/data.py")] is Severity.LOW


# --- streaming what is too large to read whole ---


def test_a_tar_member_over_the_read_limit_is_streamed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 1024)
    big = bytes(range(256)) * 64
    tree = open_archive(write_tar(tmp_path / "far-1.0.tar.gz", {"far-1.0/big.py": big, "far-1.0/s": b"s"}))
    assert b"".join(read_chunks(tree, "far-1.0/big.py", 1000)) == big
    assert b"".join(tree.chunks("far-1.0/s")) == b"s"


def test_zip_members_and_directory_files_stream(tmp_path: Path) -> None:
    big = bytes(range(256)) * 64
    tree = open_archive(write_zip(tmp_path / "z-1.0.zip", {"z-1.0/big.py": big}))
    assert [len(c) for c in tree.chunks("z-1.0/big.py", 5000)] == [5000, 5000, 5000, 1384]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "big.py").write_bytes(big)
    directory = DirectoryTree(tmp_path / "site", TargetKind.ENVIRONMENT)
    assert b"".join(read_chunks(directory, "big.py", 3000)) == big


# --- links ---


def linked_sdist(tmp_path: Path, link_type: bytes, target: str) -> Path:
    path = tmp_path / "linked-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        notes = PAYLOAD.encode()
        info = tarfile.TarInfo("linked-1.0/docs/notes.txt")
        info.size = len(notes)
        tf.addfile(info, io.BytesIO(notes))
        link = tarfile.TarInfo("linked-1.0/setup.py")
        link.type, link.linkname = link_type, target
        tf.addfile(link)
    return path


@pytest.mark.parametrize(
    ("link_type", "target"),
    [(tarfile.SYMTYPE, "docs/notes.txt"), (tarfile.LNKTYPE, "linked-1.0/docs/notes.txt")],
    ids=["symbolic", "hard"],
)
def test_a_setup_py_linked_to_a_data_file_is_analysed_as_that_file(
    tmp_path: Path, link_type: bytes, target: str
) -> None:
    # Extracted, the link runs the notes: they are setup.py's code.
    found = worst(linked_sdist(tmp_path, link_type, target))
    assert found[("code-exec-decoded", "linked-1.0/setup.py")] is Severity.CRITICAL
