"""The server's datasets apart from HTTP: uploads in parts and whole, the checks on what is sent,
reading back, and rotation."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from chainproof.custody.manifests import FileEntry, Manifest
from chainproof.errors import UsageError, VerificationError
from chainproof.vault import crypto
from chainproof.vault.blobs import FileBlobStore
from chainproof.vault.crypto import MasterKey
from chainproof.vault.datasets import StoredEntry, Vault, rotate
from chainproof.vault.sealing import OffsetMismatch


def entry(path: str, data: bytes) -> FileEntry:
    return FileEntry(path=path, size=len(data), sha256=hashlib.sha256(data).digest())


def test_parts_whole_files_and_reading_back(tmp_path: Path) -> None:
    big, small = os.urandom(crypto.CHUNK_SIZE * 2 + 10), b"small file"
    manifest = Manifest.of([entry("big", big), entry("small", small)])
    vault = Vault(MasterKey.generate(), FileBlobStore(tmp_path / "blobs"), tmp_path)
    begun = vault.begin(manifest)
    assert {f["sha256"] for f in begun["files"]} == {e.sha256.hex() for e in manifest}
    root, sha_big = manifest.root, hashlib.sha256(big).digest()
    with pytest.raises(VerificationError, match="not file"):
        vault.write_whole(root, [(hashlib.sha256(small).digest(), b"other bytes")])
    vault.write_whole(root, [(hashlib.sha256(small).digest(), small)])
    vault.write(root, sha_big, 0, big[: crypto.CHUNK_SIZE])
    with pytest.raises(OffsetMismatch):
        vault.write(root, sha_big, 0, big[: crypto.CHUNK_SIZE])
    assert vault.begin(manifest)["files"] == [
        {"sha256": sha_big.hex(), "size": len(big), "received": crypto.CHUNK_SIZE}
    ]
    vault.write(root, sha_big, crypto.CHUNK_SIZE, big[crypto.CHUNK_SIZE :])
    assert vault.unstored(root) == []
    vault.mark_stored(root, StoredEntry(7, b"leaf"))
    assert b"".join(vault.open_file(root, sha_big, len(big), 0)) == big
    assert b"".join(vault.open_file(root, sha_big, len(big), 2)) == big[2 * crypto.CHUNK_SIZE :]
    with pytest.raises(UsageError, match="no file"):
        vault.write(root, hashlib.sha256(b"x").digest(), 0, b"x")


def test_rotation_rewraps_keys_and_leaves_blobs(tmp_path: Path) -> None:
    data = b"some bytes"
    manifest = Manifest.of([entry("f", data)])
    old, new = MasterKey.generate(), MasterKey.generate()
    blobs = FileBlobStore(tmp_path / "blobs")
    vault = Vault(old, blobs, tmp_path)
    vault.begin(manifest)
    vault.write_whole(manifest.root, [(hashlib.sha256(data).digest(), data)])
    before = {n: blobs.get_bytes(n) for n in blobs.names() if "/files/" in n}
    assert rotate(blobs, old, new) == [manifest.digest]
    assert rotate(blobs, old, new) == []  # run again: nothing left to do
    assert {n: blobs.get_bytes(n) for n in before} == before
    reread = Vault(new, blobs, tmp_path)
    assert reread.manifest(manifest.root) == manifest
    with pytest.raises(UsageError, match="wrapped by vault master key"):
        Vault(old, blobs, tmp_path).manifest(manifest.root)
