"""Many small files in one request body, pure: each file as its SHA-256 (32 bytes), its length
(8 bytes, big-endian) and its bytes, one after the other. A push of thousands of small files
then costs a few requests, not thousands (each signed, checked and answered on its own)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from chainproof.errors import UsageError

HEAD = 40
"""A file's header: its SHA-256 and its length."""


def header(sha256: bytes, size: int) -> bytes:
    return sha256 + size.to_bytes(8, "big")


def pack(files: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The body of `files`, each (sha256, bytes)."""
    out = bytearray()
    for sha256, data in files:
        if len(sha256) != 32:
            raise UsageError("a file's SHA-256 is 32 bytes")
        out += header(sha256, len(data)) + data
    return bytes(out)


def unpack(body: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (sha256, bytes) of each file of a body `pack` made; UsageError for a malformed one."""
    view = memoryview(body)
    at = 0
    while at < len(body):
        if len(body) - at < HEAD:
            raise UsageError("the files' body ends inside a file's header")
        sha256 = bytes(view[at : at + 32])
        size = int.from_bytes(view[at + 32 : at + HEAD], "big")
        start = at + HEAD
        if size > len(body) - start:
            raise UsageError("the files' body ends inside a file's bytes")
        yield sha256, bytes(view[start : start + size])
        at = start + size
