"""The vault's formats: master keys, wrapped dataset keys, sealed blobs (chunks that cannot be
reordered, cut short, moved or flipped), and a blob staged across interruptions."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.vault import crypto, framing
from chainproof.vault.crypto import BlobCipher, MasterKey, TamperedError
from chainproof.vault.keyfile import read_master_key, write_master_key
from chainproof.vault.sealing import Incoming, OffsetMismatch, Unsealer

ROOT = hashlib.sha256(b"dataset").digest()
OTHER_ROOT = hashlib.sha256(b"another dataset").digest()


def sealed(data: bytes, chunk: int, key: bytes, root: bytes = ROOT, tmp: Path | None = None) -> bytes:
    """`data` sealed as a blob, through `Incoming` (what the server writes)."""
    assert tmp is not None
    path = tmp / f"{os.urandom(4).hex()}.part"
    incoming = Incoming(
        path, key, root=root, sha256=hashlib.sha256(data).digest(), size=len(data), chunk_size=chunk
    )
    for at in range(0, max(len(data), 1), chunk * 3):
        incoming.write(at, data[at : at + chunk * 3])
    assert incoming.done
    return path.read_bytes()


def unsealed(blob: bytes, data_size: int, sha: bytes, key: bytes, root: bytes = ROOT) -> bytes:
    u = Unsealer(key, root, sha, data_size, blob[: crypto.HEADER_SIZE])
    return b"".join(u.chunks(io.BytesIO(blob[crypto.HEADER_SIZE :])))


def test_master_key_file_round_trip_mode_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    key = write_master_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_master_key(path) == key
    with pytest.raises(UsageError, match="never overwritten"):
        write_master_key(path)
    assert read_master_key(path) == key
    (tmp_path / "bad").write_text("chainproof-vault-key-v1\nAAAA\n")
    with pytest.raises(FormatError):
        read_master_key(tmp_path / "bad")


def test_wrapped_key_is_bound_to_its_dataset_and_master() -> None:
    master, other = MasterKey.generate(), MasterKey.generate()
    dk = crypto.new_dataset_key()
    wrapped = crypto.wrap(master, ROOT, dk)
    assert crypto.unwrap(master, ROOT, crypto.WrappedKey.from_json(wrapped.to_json())) == dk
    with pytest.raises(TamperedError):
        crypto.unwrap(master, OTHER_ROOT, wrapped)  # moved to another dataset
    with pytest.raises(UsageError, match="wrapped by vault master key"):
        crypto.unwrap(other, ROOT, wrapped)
    flipped = crypto.WrappedKey(
        wrapped.master, wrapped.nonce, bytes([wrapped.sealed[0] ^ 1]) + wrapped.sealed[1:]
    )
    with pytest.raises(TamperedError):
        crypto.unwrap(master, ROOT, flipped)
    rotated = crypto.rewrap(master, other, ROOT, wrapped)
    assert rotated.master == other.keyid
    assert crypto.unwrap(other, ROOT, rotated) == dk


def test_chunk_nonce_and_binding_known_answer() -> None:
    """A fixed key, salt and chunk: the ciphertext is AES-256-GCM under the HKDF-derived key with
    the STREAM nonce and the documented associated data, recomputed here independently."""
    dk, salt, sha = bytes(range(32)), bytes(range(16)), hashlib.sha256(b"file").digest()
    cipher = BlobCipher(dk, ROOT, sha, salt)
    got = cipher.seal(5, True, b"hello")
    key = HKDF(hashes.SHA256(), 32, salt, b"chainproof-vault-blob-v1\0" + ROOT + sha).derive(dk)
    nonce = (5).to_bytes(11, "big") + b"\x01"
    aad = b"chainproof-vault-chunk-v1\0" + ROOT + sha + (5).to_bytes(8, "big") + b"\x01"
    assert got == AESGCM(key).encrypt(nonce, b"hello", aad)
    assert cipher.open(5, True, got) == b"hello"
    for index, last in ((4, True), (5, False), (6, True)):
        with pytest.raises(TamperedError):
            cipher.open(index, last, got)
    with pytest.raises(TamperedError):
        BlobCipher(dk, OTHER_ROOT, sha, salt).open(5, True, got)
    with pytest.raises(TamperedError):
        BlobCipher(dk, ROOT, hashlib.sha256(b"other file").digest(), salt).open(5, True, got)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 700), chunk=st.sampled_from([1, 7, 64, 256]))
def test_seal_unseal_round_trip(tmp_path_factory: pytest.TempPathFactory, size: int, chunk: int) -> None:
    tmp = tmp_path_factory.mktemp("blob")
    data, dk = os.urandom(size), crypto.new_dataset_key()
    blob = sealed(data, chunk, dk, tmp=tmp)
    assert len(blob) == crypto.sealed_size(size, chunk)
    assert unsealed(blob, size, hashlib.sha256(data).digest(), dk) == data


@pytest.mark.parametrize("attack", ["reorder", "truncate", "drop-last", "extend", "flip", "other-dataset"])
def test_a_changed_blob_fails(tmp_path: Path, attack: str) -> None:
    chunk, data, dk = 64, os.urandom(64 * 4 + 10), crypto.new_dataset_key()
    sha = hashlib.sha256(data).digest()
    blob = sealed(data, chunk, dk, tmp=tmp_path)
    head, body = blob[: crypto.HEADER_SIZE], blob[crypto.HEADER_SIZE :]
    step = chunk + crypto.TAG_SIZE
    parts = [body[i : i + step] for i in range(0, len(body), step)]
    root = ROOT
    if attack == "reorder":
        parts[0], parts[1] = parts[1], parts[0]
    elif attack == "truncate":
        parts = parts[:-1]
    elif attack == "drop-last":  # the last full chunk offered as if it ended the file
        parts = parts[:-1]
        data_size = chunk * 4
        with pytest.raises(TamperedError):
            unsealed(head + b"".join(parts), data_size, sha, dk)
        return
    elif attack == "extend":
        parts.append(parts[0])
    elif attack == "flip":
        parts[2] = parts[2][:5] + bytes([parts[2][5] ^ 0x80]) + parts[2][6:]
    else:
        root = OTHER_ROOT
    with pytest.raises(TamperedError):
        unsealed(head + b"".join(parts), len(data), sha, dk, root)


def test_incoming_refuses_wrong_offsets_parts_and_bytes(tmp_path: Path) -> None:
    data, dk = os.urandom(300), crypto.new_dataset_key()
    sha = hashlib.sha256(data).digest()
    incoming = Incoming(tmp_path / "f.part", dk, root=ROOT, sha256=sha, size=300, chunk_size=64)
    with pytest.raises(OffsetMismatch) as e:
        incoming.write(64, data[64:128])
    assert e.value.expected == 0
    with pytest.raises(UsageError, match="multiple of 64"):
        incoming.write(0, data[:100])
    incoming.write(0, data[:128])
    assert incoming.received == 128
    bad = Incoming(tmp_path / "g.part", dk, root=ROOT, sha256=sha, size=300, chunk_size=64)
    with pytest.raises(VerificationError, match="not file"):
        bad.write(0, os.urandom(300))
    assert not (tmp_path / "g.part").exists()


def test_incoming_resumes_from_its_staged_chunks_after_a_torn_write(tmp_path: Path) -> None:
    data, dk = os.urandom(64 * 5 + 3), crypto.new_dataset_key()
    sha = hashlib.sha256(data).digest()
    path = tmp_path / "f.part"
    first = Incoming(path, dk, root=ROOT, sha256=sha, size=len(data), chunk_size=64)
    first.write(0, data[:192])
    with path.open("ab") as f:  # a chunk half written when the process died
        f.write(os.urandom(40))
    again = Incoming(path, dk, root=ROOT, sha256=sha, size=len(data), chunk_size=64)
    assert again.received == 192
    again.write(192, data[192:])
    assert again.done
    assert unsealed(path.read_bytes(), len(data), sha, dk) == data


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_framing_round_trip(files: list[bytes]) -> None:
    items = [(hashlib.sha256(f).digest(), f) for f in files]
    assert list(framing.unpack(framing.pack(items))) == items


@pytest.mark.parametrize("cut", [1, 39, 41, 45])
def test_framing_refuses_a_cut_body(cut: int) -> None:
    body = framing.pack([(hashlib.sha256(b"abcdef").digest(), b"abcdef")])
    with pytest.raises(UsageError):
        list(framing.unpack(body[:cut]))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 700), chunk=st.sampled_from([1, 64, 256]))
def test_a_blob_sealed_whole_reads_as_one_sealed_in_parts(size: int, chunk: int) -> None:
    data, dk = os.urandom(size), crypto.new_dataset_key()
    sha = hashlib.sha256(data).digest()
    blob = crypto.seal_whole(dk, ROOT, sha, data, chunk)
    assert len(blob) == crypto.sealed_size(size, chunk)
    assert unsealed(blob, size, sha, dk) == data
