"""Files sealed and unsealed as streams: one chunk in memory at a time, whatever the file's size.

`Incoming` is a blob being written from a file's plaintext as it arrives, in parts, possibly
across requests and restarts: its bytes so far stay in a staging file, its SHA-256 runs as they
come, and once the last byte is in, the digest must be the file's. `unseal` reads a blob back,
each chunk checked before a byte of it is given out.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from chainproof.errors import UsageError, VerificationError
from chainproof.vault import crypto
from chainproof.vault.blobs import Readable
from chainproof.vault.crypto import BlobCipher, TamperedError


class OffsetMismatch(UsageError):
    """A part was sent for another offset than the next byte the blob expects."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(
            f"the server has {expected:,} bytes of this file, not {got:,}: send from {expected:,}"
        )
        self.expected = expected


class Incoming:
    """A file being sealed into the staging file `path`: `write(offset, data)` takes its next
    plaintext bytes; `done` once all `size` bytes are in and their SHA-256 matched."""

    def __init__(
        self, path: Path, dataset_key: bytes, *, root: bytes, sha256: bytes, size: int, chunk_size: int
    ) -> None:
        self.path, self.sha256, self.size, self.chunk_size = path, sha256, size, chunk_size
        self._key, self._root = dataset_key, root
        self._hash = hashlib.sha256()
        self.received = 0
        self._sealed_all = False
        if path.exists():
            self._resume()
        else:
            salt = crypto.new_salt()
            self._cipher = BlobCipher(dataset_key, root, sha256, salt)
            _write_new(path, crypto.header(salt, chunk_size))

    @property
    def chunks(self) -> int:
        return crypto.chunk_count(self.size, self.chunk_size)

    @property
    def done(self) -> bool:
        return self._sealed_all

    def _resume(self) -> None:
        """Read back the chunks already sealed (a restart, or another process's state lost): the
        running digest is rebuilt from them, and a torn last chunk is cut off."""
        with self.path.open("rb") as f:
            salt, chunk_size = crypto.parse_header(f.read(crypto.HEADER_SIZE))
            if chunk_size != self.chunk_size:
                raise TamperedError(f"{self.path.name}: staged with another chunk size")
            self._cipher = BlobCipher(self._key, self._root, self.sha256, salt)
            good = crypto.HEADER_SIZE
            for index in range(self.chunks):
                last = index == self.chunks - 1
                want = min(self.chunk_size, self.size - index * self.chunk_size) + crypto.TAG_SIZE
                sealed = f.read(want)
                if len(sealed) != want:
                    break
                try:
                    plain = self._cipher.open(index, last, sealed)
                except TamperedError:
                    break
                self._hash.update(plain)
                self.received += len(plain)
                good += want
                if last:
                    self._sealed_all = True
        with self.path.open("r+b") as f:
            f.truncate(good)

    def write(self, offset: int, data: bytes) -> None:
        """Take plaintext bytes at `offset` (the next byte expected). A part ends at a multiple of
        the chunk size or at the file's end: only whole chunks are sealed, so that what is staged
        is always whole chunks, which a restart can read back."""
        if offset != self.received:
            raise OffsetMismatch(self.received, offset)
        end = offset + len(data)
        if end > self.size:
            raise UsageError(f"the file is {self.size:,} bytes; this part goes past its end")
        if end != self.size and end % self.chunk_size:
            raise UsageError(
                f"a part must end at a multiple of {self.chunk_size:,} bytes or at the file's end"
            )
        if self._sealed_all:
            if data:
                raise UsageError("the file is complete")
            return
        sealed: list[bytes] = []
        view = memoryview(data)  # chunks sealed and hashed in place, not copied out first
        at = 0
        while True:
            index = (offset + at) // self.chunk_size
            last = index == self.chunks - 1
            want = self.chunk_size if not last else self.size - index * self.chunk_size
            if len(data) - at < want or (want == 0 and not last):
                break
            plain = view[at : at + want]
            sealed.append(self._cipher.seal(index, last, plain))
            self._hash.update(plain)
            at += want
            if last:
                self._sealed_all = True
                break
        with self.path.open("ab") as f:
            for s in sealed:
                f.write(s)
        self.received = end
        if self._sealed_all and self._hash.digest() != self.sha256:
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise VerificationError(
                f"the bytes sent are not file sha256:{self.sha256.hex()}: their SHA-256 is "
                f"{self._hash.hexdigest()} (the part is refused; send the file again)"
            )


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("wb") as f:
        f.write(data)


class Unsealer:
    """Reads a blob's plaintext from any chunk: `header` (the blob's first bytes) gives its salt
    and chunk size; `chunks(reader, start)` gives the plaintext of chunk `start` on, from a
    reader positioned at that chunk's sealed bytes, each chunk checked before it is given."""

    def __init__(self, dataset_key: bytes, root: bytes, sha256: bytes, size: int, header: bytes) -> None:
        salt, self.chunk_size = crypto.parse_header(header)
        self.size = size
        self.count = crypto.chunk_count(size, self.chunk_size)
        self._cipher = BlobCipher(dataset_key, root, sha256, salt)

    def offset_of(self, chunk: int) -> int:
        """Where chunk `chunk`'s sealed bytes start in the blob."""
        return crypto.HEADER_SIZE + chunk * (self.chunk_size + crypto.TAG_SIZE)

    def chunks(self, reader: Readable, start: int = 0) -> Iterator[bytes]:
        for index in range(start, self.count):
            last = index == self.count - 1
            want = min(self.chunk_size, self.size - index * self.chunk_size) + crypto.TAG_SIZE
            sealed = _read_exactly(reader, want)
            if len(sealed) != want:
                raise TamperedError(f"the blob is cut short at chunk {index} of {self.count}")
            yield self._cipher.open(index, last, sealed)
        if reader.read(1):
            raise TamperedError("the blob goes on past its last chunk")


def _read_exactly(reader: Readable, n: int) -> bytes:
    parts: list[bytes] = []
    left = n
    while left > 0:
        got = reader.read(left)
        if not got:
            break
        parts.append(got)
        left -= len(got)
    return b"".join(parts)
