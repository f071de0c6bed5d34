"""Where the vault keeps its objects: the `BlobStore` interface, its one error base, and the
file-system backend (the default: `blobs/` in the store's directory).

An object is named by a relative POSIX path of lowercase letters, digits, `.`, `_` and `-` parts
(`<root hex>/files/<sha256 hex>`). Objects are written whole (`put_file`, `put_bytes`: readers see
the old object or the new one, never a part) and read from any offset as a stream (`open`), so
that a reader holds one chunk at a time whatever the object's size. The S3-compatible backend is
`chainproof.vault.s3`; `open_blob_store` picks one by its location.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from chainproof.errors import StoreError

_NAME = re.compile(r"[a-z0-9_.-]+(/[a-z0-9_.-]+)*")
BLOBS_DIR = "blobs"


class BlobStoreError(StoreError):
    """The blob store could not do what was asked (any backend)."""


class BlobNotFound(BlobStoreError):
    """No object of that name."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
        raise BlobStoreError(f"{name[:100]!r} is not a blob name")
    return name


class BlobStore(ABC):
    """Objects by name: whole writes, streamed reads from an offset."""

    location: str

    @abstractmethod
    def put_file(self, name: str, source: Path) -> None:
        """Store the local file `source` as `name` (replacing it); `source` is consumed (moved or
        deleted)."""

    @abstractmethod
    def put_bytes(self, name: str, data: bytes) -> None:
        """Store a small object whole."""

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store several small objects whole (a backend may make them durable together)."""
        for name, data in items:
            self.put_bytes(name, data)

    @abstractmethod
    def get_bytes(self, name: str) -> bytes:
        """A small object's bytes (BlobNotFound when absent)."""

    @abstractmethod
    def size(self, name: str) -> int | None:
        """The object's size, None when absent."""

    @abstractmethod
    def open(self, name: str, offset: int = 0) -> Readable:
        """The object's bytes from `offset` on, as a stream to read and close."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object; nothing when absent."""

    @abstractmethod
    def names(self, prefix: str = "") -> Iterator[str]:
        """Every object whose name starts with `prefix`, in no set order."""

    def close(self) -> None:  # noqa: B027 -- a backend without connections has nothing to close
        """Let go of connections."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


class FileBlobStore(BlobStore):
    """Objects as files under `directory`, written to a temporary name and renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.location = str(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise BlobStoreError(f"cannot make the blob directory {directory}: {e.strerror}") from None

    def _path(self, name: str) -> Path:
        return self.directory / check_name(name)

    def put_file(self, name: str, source: Path) -> None:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _fsync(source)
            try:
                source.replace(target)
            except OSError:  # another file system: copy, then rename
                temporary = _temporary(target)
                shutil.copyfile(source, temporary)
                _fsync(temporary)
                temporary.replace(target)
                source.unlink()
            _fsync_dir(target.parent)
        except OSError as e:
            raise BlobStoreError(f"cannot store blob {name}: {e.strerror or e}") from None

    def put_bytes(self, name: str, data: bytes) -> None:
        target = self._path(name)
        temporary = _temporary(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with temporary.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            temporary.replace(target)
            _fsync_dir(target.parent)
        except OSError as e:
            temporary.unlink(missing_ok=True)
            raise BlobStoreError(f"cannot store blob {name}: {e.strerror or e}") from None

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Every object written to a temporary name, all made durable by one sync of the file
        system, renamed, then each directory synced once: a push of many small files paid two
        syncs a file (most of its time) before."""
        written: list[tuple[Path, Path]] = []
        try:
            for name, data in items:
                target = self._path(name)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                temporary = _temporary(target)
                written.append((temporary, target))
                temporary.write_bytes(data)
            os.sync()
            for temporary, target in written:
                temporary.replace(target)
            for directory in {target.parent for _, target in written}:
                _fsync_dir(directory)
        except OSError as e:
            for temporary, _ in written:
                temporary.unlink(missing_ok=True)
            raise BlobStoreError(f"cannot store {len(items)} blobs: {e.strerror or e}") from None

    def get_bytes(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {name}") from None
        except OSError as e:
            raise BlobStoreError(f"cannot read blob {name}: {e.strerror}") from None

    def size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as e:
            raise BlobStoreError(f"cannot read blob {name}: {e.strerror}") from None

    def open(self, name: str, offset: int = 0) -> Readable:
        try:
            f = self._path(name).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {name}") from None
        except OSError as e:
            raise BlobStoreError(f"cannot read blob {name}: {e.strerror}") from None
        f.seek(offset)
        return f

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def names(self, prefix: str = "") -> Iterator[str]:
        for path in self.directory.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                name = path.relative_to(self.directory).as_posix()
                if name.startswith(prefix):
                    yield name


def open_blob_store(location: str | None, store_directory: Path) -> BlobStore:
    """The blob store at `location`: `s3://bucket/prefix` (S3-compatible, `chainproof.vault.s3`),
    a directory, or (None) `blobs/` inside the store's directory."""
    if location is None:
        return FileBlobStore(store_directory / BLOBS_DIR)
    if location.startswith("s3://"):
        from chainproof.vault.s3 import S3BlobStore  # noqa: PLC0415 -- boto3 only for an S3 store

        return S3BlobStore.from_url(location)
    return FileBlobStore(Path(location))


def _temporary(target: Path) -> Path:
    """A name beside `target` of this writer's alone (two writers of one object each have one)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)
