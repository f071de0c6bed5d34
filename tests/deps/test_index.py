"""The index client's pure parts: PEP 691 JSON and PEP 503 HTML project pages, file choice, and
the checked download (over file:// here; the gate tests use HTTP)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.tags import Tag

from chainproof.deps import index
from chainproof.deps.index import IndexFile, IndexUnavailable, IntegrityError, Project

PAGE = "https://example.org/simple/demo/"


def json_page(*files: dict[str, object]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": list(files)}).encode()


def test_json_page_fields() -> None:
    files = index.parse_json_page(
        json_page(
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "../../files/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": "AB" * 32},
                "upload-time": "2026-03-24T10:52:00.123456Z",
                "yanked": "bad build",
                "requires-python": ">=3.9",
                "size": 10,
            },
            {
                "filename": "demo-0.9.tar.gz",
                "url": "https://cdn.example/demo-0.9.tar.gz",
                "hashes": {},
                "yanked": False,
            },
            {"filename": 7, "url": "x"},
        ),
        PAGE,
    )
    assert len(files) == 2
    wheel, sdist = files
    assert wheel.url == "https://example.org/files/demo-1.0-py3-none-any.whl"
    assert wheel.sha256 == "ab" * 32
    assert wheel.upload_time == datetime(2026, 3, 24, 10, 52, 0, 123456, tzinfo=UTC)
    assert wheel.yanked == "bad build"
    assert wheel.requires_python == ">=3.9"
    assert wheel.size == 10
    assert sdist.yanked is None
    assert sdist.upload_time is None
    assert sdist.sha256 is None
    assert wheel.name_version() == ("demo", "1.0")
    assert sdist.name_version() == ("demo", "0.9")


def test_json_yanked_true_without_reason() -> None:
    (f,) = index.parse_json_page(json_page({"filename": "demo-1.0.tar.gz", "url": "a", "yanked": True}), PAGE)
    assert f.yanked == ""


@pytest.mark.parametrize("body", [b"", b"[]", b'{"files": 3}', b"\xff\xfe", b'{"nofiles": []}'])
def test_json_page_that_is_not_one(body: bytes) -> None:
    with pytest.raises(IndexUnavailable):
        index.parse_json_page(body, PAGE)


def test_html_page_hash_fragment_and_yank() -> None:
    html = (
        '<html><body><a href="../../files/demo-1.0-py3-none-any.whl#sha256=CD'
        + "cd" * 31
        + '" data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a>'
        '<a href="https://cdn.example/demo-0.9.tar.gz" data-yanked="">demo-0.9.tar.gz</a>'
        "<a>no href</a></body></html>"
    )
    wheel, sdist = index.parse_html_page(html, PAGE)
    assert wheel.url == "https://example.org/files/demo-1.0-py3-none-any.whl"
    assert wheel.sha256 == "cd" * 32
    assert wheel.requires_python == ">=3.8"
    assert wheel.yanked is None
    assert sdist.yanked == ""
    assert sdist.sha256 is None
    assert sdist.upload_time is None


@given(st.text(max_size=400))
def test_html_parser_never_raises(text: str) -> None:
    for f in index.parse_html_page(text, PAGE):
        assert isinstance(f, IndexFile)


@given(st.binary(max_size=200))
def test_json_parser_raises_only_its_own_error(data: bytes) -> None:
    with contextlib.suppress(IndexUnavailable):
        index.parse_json_page(data, PAGE)


def file(name: str, yanked: str | None = None) -> IndexFile:
    return IndexFile(name, f"https://files.example/{name}", yanked=yanked)


def test_best_file_prefers_the_best_ranked_compatible_wheel() -> None:
    tags = [Tag("cp311", "cp311", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")]
    files = [
        file("demo-1.0.tar.gz"),
        file("demo-1.0-py3-none-any.whl"),
        file("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        file("demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
    ]
    assert index.best_file(files, tags).filename == "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"  # type: ignore[union-attr]
    assert index.best_file(files[:2], tags).filename == "demo-1.0-py3-none-any.whl"  # type: ignore[union-attr]
    assert index.best_file([files[0], files[3]], tags).filename == "demo-1.0.tar.gz"  # type: ignore[union-attr]
    assert index.best_file([files[3]], tags) is None
    yanked_wheel = file("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", yanked="")
    assert index.best_file([yanked_wheel, files[1]], tags).filename == "demo-1.0-py3-none-any.whl"  # type: ignore[union-attr]


def test_project_versions_sorted_and_release_normalised() -> None:
    project = Project(
        "https://example.org/simple/",
        "demo",
        (
            file("demo-1.10.0.tar.gz"),
            file("demo-1.9.0.tar.gz"),
            file("demo-1.9.0-py3-none-any.whl"),
            file("README"),
        ),
    )
    assert project.versions() == ("1.9.0", "1.10.0")
    assert [f.filename for f in project.release("1.9")] == [
        "demo-1.9.0.tar.gz",
        "demo-1.9.0-py3-none-any.whl",
    ]


def test_download_checks_the_hash_before_the_file_appears(tmp_path: Path) -> None:
    source = tmp_path / "demo-1.0.tar.gz"
    source.write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    dest = tmp_path / "dest"
    dest.mkdir()
    got = index.download(source.as_uri(), dest, source.name, good.upper())
    assert got.read_bytes() == b"payload"
    with pytest.raises(IntegrityError, match="does not match"):
        index.download(source.as_uri(), dest, "other-1.0.tar.gz", "00" * 32)
    assert sorted(p.name for p in dest.iterdir()) == ["demo-1.0.tar.gz"]


@pytest.mark.parametrize("name", ["../evil.whl", "", ".."])
def test_download_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(index.UsageError):
        index.download("https://example.org/x", tmp_path, name, None)


def test_index_urls_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(index.UsageError, match="unsupported index URL"):
        index.fetch_project("demo", "ftp://example.org/simple/")
