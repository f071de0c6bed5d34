"""The blob store contract, run against both backends: the file system and S3 (moto's S3 server,
a real HTTP server on loopback)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from blob_support import new_bucket, s3_server

from chainproof.vault.blobs import BlobNotFound, BlobStore, BlobStoreError, FileBlobStore, open_blob_store
from chainproof.vault.s3 import S3BlobStore


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["files", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "files":
        made: BlobStore = FileBlobStore(tmp_path / "blobs")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        made = S3BlobStore(new_bucket(endpoint), "some/prefix", endpoint_url=endpoint)
    try:
        yield made
    finally:
        made.close()


def test_small_objects_round_trip_and_replace(store: BlobStore) -> None:
    assert store.size("a/key.json") is None
    with pytest.raises(BlobNotFound):
        store.get_bytes("a/key.json")
    store.put_bytes("a/key.json", b"one")
    store.put_bytes("a/key.json", b"two!")
    assert store.get_bytes("a/key.json") == b"two!"
    assert store.size("a/key.json") == 4


def test_files_are_consumed_and_read_from_any_offset(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(9 * (1 << 20) + 17)  # past boto3's 8 MB multipart threshold
    source = tmp_path / "staged"
    source.write_bytes(data)
    store.put_file("r/files/abc", source)
    assert not source.exists()
    assert store.size("r/files/abc") == len(data)
    for offset in (0, 1, 1 << 20, len(data) - 1, len(data)):
        reader = store.open("r/files/abc", offset)
        try:
            got = b""
            while piece := reader.read(1 << 16):
                got += piece
        finally:
            reader.close()
        assert got == data[offset:]


def test_names_list_delete(store: BlobStore) -> None:
    for name in ("x/key.json", "x/files/1", "y/key.json"):
        store.put_bytes(name, b".")
    assert sorted(store.names()) == ["x/files/1", "x/key.json", "y/key.json"]
    assert sorted(store.names("x/")) == ["x/files/1", "x/key.json"]
    store.delete("x/files/1")
    store.delete("x/files/1")  # absent: nothing
    assert sorted(store.names()) == ["x/key.json", "y/key.json"]
    with pytest.raises(BlobNotFound):
        store.open("x/files/1")


@pytest.mark.parametrize("name", ["../escape", "/abs", "a//b", "A/B", "a/./b", ""])
def test_bad_names_are_refused(store: BlobStore, name: str) -> None:
    with pytest.raises(BlobStoreError):
        store.put_bytes(name, b"x")


def test_open_blob_store_by_location(tmp_path: Path, s3_endpoint: str) -> None:
    assert isinstance(open_blob_store(None, tmp_path), FileBlobStore)
    assert open_blob_store(None, tmp_path).location == str(tmp_path / "blobs")
    os.environ["AWS_ENDPOINT_URL"] = s3_endpoint
    try:
        bucket = new_bucket(s3_endpoint)
        s3 = open_blob_store(f"s3://{bucket}/p", tmp_path)
        assert isinstance(s3, S3BlobStore)
        s3.put_bytes("k", b"v")
        assert s3.get_bytes("k") == b"v"
        missing = open_blob_store("s3://no-such-bucket-here/p", tmp_path)
        with pytest.raises(BlobStoreError):
            missing.put_bytes("k", b"v")
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)


def test_many_small_objects_at_once(store: BlobStore) -> None:
    items = [(f"m/files/{n:04d}", os.urandom(n)) for n in range(40)]
    store.put_many(items)
    store.put_many([])
    for name, data in items:
        assert store.get_bytes(name) == data
    assert sorted(store.names("m/")) == sorted(name for name, _ in items)
