"""The vault's datasets as the server keeps them: objects in a blob store, uploads being staged,
and the bookkeeping between them. No HTTP and no access rules (`chainproof.server.vault`).

Objects of dataset `R` (its manifest root, in hex) in the blob store:

- `R/key.json`: the dataset key, wrapped by the master key (`crypto.WrappedKey`);
- `R/manifest`: the manifest JSON, sealed (`crypto.seal_small`);
- `R/files/<sha256 hex>`: each distinct file's bytes, sealed (`crypto`'s blob format);
- `R/stored.json`: written last, once every file is stored and the log holds the pusher's
  statement naming `R`: that entry's index and leaf bytes. Without it the dataset is still being
  pushed, and it is never served.

A file being uploaded is staged under `vault-incoming/R/` in the store's directory, whole chunks
only, and moves to the blob store once its last byte is in and its SHA-256 matched, so that an
interrupted push resumes from the last chunk the server holds.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainproof._internal import untrusted_json
from chainproof.custody.manifests import EntryKind, Manifest
from chainproof.errors import FormatError, StoreError, UsageError, VerificationError
from chainproof.vault import crypto
from chainproof.vault.blobs import BlobNotFound, BlobStore
from chainproof.vault.sealing import Incoming, Unsealer

INCOMING_DIR = "vault-incoming"
_KEY, _MANIFEST, _STORED = "key.json", "manifest", "stored.json"
_KEPT = 256  # datasets whose file lists and stored records are kept in memory


class NoSuchDataset(UsageError):
    """The vault holds no dataset of that root (or holds it only half pushed)."""


@dataclass(frozen=True)
class StoredEntry:
    """The log entry that names a stored dataset: its index and leaf bytes (a DSSE envelope)."""

    index: int
    leaf: bytes

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "leaf": base64.b64encode(self.leaf).decode()}

    @classmethod
    def from_json(cls, obj: object) -> StoredEntry:
        if not isinstance(obj, dict) or not isinstance(obj.get("index"), int):
            raise FormatError("a stored-dataset record needs an index and a leaf")
        try:
            return cls(int(obj["index"]), base64.b64decode(str(obj["leaf"]), validate=True))
        except (KeyError, ValueError):
            raise FormatError("a stored-dataset record's leaf is not base64") from None


def distinct_files(manifest: Manifest) -> dict[bytes, int]:
    """The regular files' digests, each once, with their sizes (one blob per content)."""
    return {e.sha256: e.size for e in manifest if e.kind is EntryKind.FILE}


class Vault:
    """One server's vault: `master` seals the dataset keys, `blobs` keeps the objects and
    `directory` (the store's) holds the uploads being staged. Safe for a server's threads; two
    processes of one store take a file lock per staged file."""

    def __init__(self, master: crypto.MasterKey, blobs: BlobStore, directory: Path) -> None:
        self.master = master
        self.blobs = blobs
        self.incoming = directory / INCOMING_DIR
        self._lock = threading.Lock()
        self._keys: dict[bytes, bytes] = {}
        self._uploads: dict[tuple[bytes, bytes], Incoming] = {}
        self._file_locks: dict[tuple[bytes, bytes], threading.Lock] = {}
        self._files: dict[bytes, dict[bytes, int]] = {}  # root -> its distinct files' sizes
        self._stored: dict[bytes, StoredEntry] = {}  # once stored, a dataset stays so

    def close(self) -> None:
        self.blobs.close()

    # -- datasets ---------------------------------------------------------------------------

    def dataset_key(self, root: bytes, *, create: bool = False) -> bytes:
        with self._lock:
            known = self._keys.get(root)
            if known is not None:
                return known
            name = f"{root.hex()}/{_KEY}"
            try:
                wrapped = crypto.WrappedKey.from_json(untrusted_json.loads(self.blobs.get_bytes(name)))
            except BlobNotFound:
                if not create:
                    raise NoSuchDataset(f"the vault holds no dataset sha256:{root.hex()}") from None
                key = crypto.new_dataset_key()
                self.blobs.put_bytes(name, json.dumps(crypto.wrap(self.master, root, key).to_json()).encode())
            except ValueError as e:
                raise crypto.TamperedError(
                    f"the wrapped key of sha256:{root.hex()} is not JSON: {e}"
                ) from None
            else:
                key = crypto.unwrap(self.master, root, wrapped)
            self._keys[root] = key
            return key

    def begin(self, manifest: Manifest) -> dict[str, Any]:
        """Start (or resume) the push of `manifest`'s dataset: what the server still needs."""
        root = manifest.root
        key = self.dataset_key(root, create=True)
        if self.blobs.size(f"{root.hex()}/{_MANIFEST}") is None:
            self.blobs.put_bytes(f"{root.hex()}/{_MANIFEST}", crypto.seal_small(key, root, manifest.dumps()))
        stored = self.stored(root)
        files = [] if stored is not None else self._missing(root, manifest)
        return {
            "root": manifest.digest,
            "chunk_size": crypto.CHUNK_SIZE,
            "complete": stored is not None,
            "files": files,
        }

    def _missing(self, root: bytes, manifest: Manifest) -> list[dict[str, Any]]:
        out = []
        for sha256, size in distinct_files(manifest).items():
            if self.blobs.size(self._blob(root, sha256)) == crypto.sealed_size(size):
                continue
            staged = self._staged(root, sha256)
            received = self._received(root, sha256, size) if staged.exists() else 0
            out.append({"sha256": sha256.hex(), "size": size, "received": received})
        return out

    def _received(self, root: bytes, sha256: bytes, size: int) -> int:
        with self._upload(root, sha256, size) as incoming:
            return incoming.received

    def files(self, root: bytes) -> dict[bytes, int]:
        """The dataset's distinct files and their sizes (from its manifest, read once)."""
        with self._lock:
            known = self._files.get(root)
        if known is None:
            known = distinct_files(self.manifest(root))
            with self._lock:
                if len(self._files) >= _KEPT:
                    self._files.clear()
                self._files[root] = known
        return known

    def manifest(self, root: bytes) -> Manifest:
        key = self.dataset_key(root)
        try:
            sealed = self.blobs.get_bytes(f"{root.hex()}/{_MANIFEST}")
        except BlobNotFound:
            raise NoSuchDataset(f"the vault holds no manifest of sha256:{root.hex()}") from None
        manifest = Manifest.loads(crypto.open_small(key, root, sealed), "the stored manifest")
        if manifest.root != root:
            raise crypto.TamperedError(f"the stored manifest of sha256:{root.hex()} has another root")
        return manifest

    def stored(self, root: bytes) -> StoredEntry | None:
        with self._lock:
            known = self._stored.get(root)
        if known is not None:
            return known
        try:
            data = self.blobs.get_bytes(f"{root.hex()}/{_STORED}")
        except BlobNotFound:
            return None
        try:
            found = StoredEntry.from_json(untrusted_json.loads(data))
        except ValueError as e:
            raise StoreError(f"the stored record of sha256:{root.hex()} is not JSON: {e}") from None
        with self._lock:
            if len(self._stored) >= _KEPT:
                self._stored.clear()
            self._stored[root] = found
        return found

    def mark_stored(self, root: bytes, entry: StoredEntry) -> None:
        self.blobs.put_bytes(f"{root.hex()}/{_STORED}", json.dumps(entry.to_json()).encode())
        shutil.rmtree(self.incoming / root.hex(), ignore_errors=True)

    def unstored(self, root: bytes) -> list[str]:
        """The files of a dataset being pushed that the server does not hold yet (hex digests)."""
        return [f["sha256"] for f in self._missing(root, self.manifest(root))]

    # -- uploads ----------------------------------------------------------------------------

    def _blob(self, root: bytes, sha256: bytes) -> str:
        return f"{root.hex()}/files/{sha256.hex()}"

    def _staged(self, root: bytes, sha256: bytes) -> Path:
        return self.incoming / root.hex() / f"{sha256.hex()}.part"

    @contextmanager
    def _upload(self, root: bytes, sha256: bytes, size: int) -> Iterator[Incoming]:
        """The staged upload of one file, held by this thread (and, by a file lock, this process)."""
        which = (root, sha256)
        with self._lock:
            lock = self._file_locks.setdefault(which, threading.Lock())
        with lock:
            path = self._staged(root, sha256)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with (path.parent / f".{sha256.hex()}.lock").open("a") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)
                incoming = self._uploads.get(which)
                expected = (
                    crypto.HEADER_SIZE
                    + incoming.received
                    + (crypto.TAG_SIZE * (incoming.received // crypto.CHUNK_SIZE))
                    if incoming is not None
                    else -1
                )
                if incoming is None or not path.exists() or path.stat().st_size != expected:
                    # Made here, or by another process of this store since: read it back.
                    key = self.dataset_key(root)
                    incoming = Incoming(
                        path, key, root=root, sha256=sha256, size=size, chunk_size=crypto.CHUNK_SIZE
                    )
                    self._uploads[which] = incoming
                try:
                    yield incoming
                except BaseException:
                    self._uploads.pop(which, None)  # read back from the file next time
                    raise

    def write(self, root: bytes, sha256: bytes, offset: int, data: bytes) -> dict[str, Any]:
        """Take a part of one file of a dataset being pushed; once its last byte is in (and its
        digest matched), its blob is stored."""
        return self._write(root, sha256, offset, data)

    def write_whole(self, root: bytes, files: Iterable[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
        """Take whole files (sha256, bytes) of a dataset being pushed, stored together: each
        checked against its digest and size, sealed in memory. A file already partly staged
        goes the way of parts."""
        known, key = self.files(root), self.dataset_key(root)
        stored = self.stored(root) is not None
        sealed: list[tuple[str, bytes]] = []
        answers: list[dict[str, Any]] = []
        for sha256, data in files:
            size = known.get(sha256)
            if size is None or stored or self._staged(root, sha256).exists():
                answers.append(self._write(root, sha256, 0, data))
                continue
            if len(data) != size or hashlib.sha256(data).digest() != sha256:
                raise VerificationError(f"the bytes sent are not file sha256:{sha256.hex()} ({size:,} bytes)")
            sealed.append((self._blob(root, sha256), crypto.seal_whole(key, root, sha256, data)))
            answers.append({"sha256": sha256.hex(), "received": size, "complete": True})
        self.blobs.put_many(sealed)
        return answers

    def _write(self, root: bytes, sha256: bytes, offset: int, data: bytes) -> dict[str, Any]:
        size = self.files(root).get(sha256)
        if size is None:
            raise UsageError(f"dataset sha256:{root.hex()} has no file sha256:{sha256.hex()}")
        blob = self._blob(root, sha256)
        complete = {"sha256": sha256.hex(), "received": size, "complete": True}
        # Stored already (another push of the same dataset got there first): nothing to take.
        if self.stored(root) is not None or self.blobs.size(blob) == crypto.sealed_size(size):
            return complete
        try:
            with self._upload(root, sha256, size) as incoming:
                incoming.write(offset, data)
                if incoming.done:
                    self.blobs.put_file(blob, incoming.path)
                    self._uploads.pop((root, sha256), None)
                return {"sha256": sha256.hex(), "received": incoming.received, "complete": incoming.done}
        except FileNotFoundError:
            if self.stored(root) is not None:  # its staging went with the other push's commit
                return complete
            raise

    # -- reading ----------------------------------------------------------------------------

    def open_file(self, root: bytes, sha256: bytes, size: int, start_chunk: int) -> Iterator[bytes]:
        """The plaintext of one stored file from chunk `start_chunk`, each chunk checked first.
        The header and the first chunk are read (and checked) before this returns, so that a blob
        found tampered with is refused before any answer starts."""
        key = self.dataset_key(root)
        name = self._blob(root, sha256)
        head = self.blobs.open(name)
        try:
            header = head.read(crypto.HEADER_SIZE)
        finally:
            head.close()
        unsealer = Unsealer(key, root, sha256, size, header)
        if unsealer.chunk_size != crypto.CHUNK_SIZE:
            raise crypto.TamperedError(f"blob {name}: another chunk size than this server's")
        if not 0 <= start_chunk < unsealer.count:
            raise UsageError(f"the file has {unsealer.count} chunks; chunk {start_chunk} is past its end")
        reader = self.blobs.open(name, unsealer.offset_of(start_chunk))
        chunks = unsealer.chunks(reader, start_chunk)
        try:
            first = next(chunks)
        except BaseException:
            reader.close()
            raise
        return _chained(first, chunks, reader)

    def datasets(self) -> Iterator[bytes]:
        """The roots of every dataset with a key in the store (pushed, or being pushed)."""
        for name in self.blobs.names():
            top, _, rest = name.partition("/")
            if rest == _KEY:
                yield bytes.fromhex(top)


def _chained(first: bytes, rest: Iterator[bytes], reader: Any) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        reader.close()


def rotate(blobs: BlobStore, old: crypto.MasterKey, new: crypto.MasterKey) -> list[str]:
    """Wrap every dataset key under `new` instead of `old`; the blobs are not touched. A dataset
    already under `new` is left as it is (a rotation stopped half way is run again). Returns the
    roots re-wrapped. Each key object is replaced whole, so a key is readable under one master
    key or the other at every moment."""
    done = []
    for name in sorted(blobs.names()):
        top, _, rest = name.partition("/")
        if rest != _KEY:
            continue
        root = bytes.fromhex(top)
        try:
            wrapped = crypto.WrappedKey.from_json(untrusted_json.loads(blobs.get_bytes(name)))
        except ValueError as e:
            raise crypto.TamperedError(f"{name} is not JSON: {e}") from None
        if wrapped.master == new.keyid:
            continue
        fresh = crypto.rewrap(old, new, root, wrapped)
        blobs.put_bytes(name, json.dumps(fresh.to_json()).encode())
        done.append("sha256:" + top)
    return done
