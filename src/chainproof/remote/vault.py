"""HTTP to a server's vault (`server/vault_routes.py`): every request signed per RFC 9421, file
bytes streamed both ways, the server's refusals as the library's error families.

A refusal of the access rules (401, 403: no grant, an expired or revoked one, a role that may
not push) is a `Refused`, a `VerificationError`, so that `data pull` exits 1 as for any refusal;
a blob the server found tampered with is a `TamperedError` (also exit 1).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from chainproof.errors import StoreError, UsageError, VerificationError
from chainproof.remote.client import DEFAULT_TIMEOUT, RemoteClient, describe, json_object
from chainproof.vault.crypto import TamperedError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

READ_BYTES = 1 << 20
_LARGE = 1 << 20


class Refused(VerificationError):
    """The server refused the request (its access rules): `code` says why."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ServerOffset(UsageError):
    """The server holds another number of bytes of a file than the part sent assumed."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received


class VaultClient(RemoteClient):
    """A vault's routes on a server, every request signed with `key`."""

    def __init__(self, url: str, key: Ed25519PrivateKey, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(url, key, timeout=timeout)

    # -- the routes -------------------------------------------------------------------------

    def begin_push(self, manifest: bytes) -> dict[str, Any]:
        return self._json("POST", "/v1/vault/datasets", body=manifest)

    def put_part(self, root: str, sha256: str, offset: int, data: bytes) -> dict[str, Any]:
        return self._json(
            "PUT",
            f"/v1/vault/datasets/{root}/files/{sha256}",
            {"offset": offset},
            data,
            "application/octet-stream",
        )

    def put_files(self, root: str, body: bytes) -> dict[str, Any]:
        """Whole files at once, framed (`chainproof.vault.framing.pack`)."""
        return self._json("PUT", f"/v1/vault/datasets/{root}/files", None, body, "application/octet-stream")

    def commit(self, root: str, envelope: bytes) -> dict[str, Any]:
        return self._json("POST", f"/v1/vault/datasets/{root}/commit", body=envelope)

    def begin_pull(self, root: str, access_record: bytes = b"") -> dict[str, Any]:
        """Without a record: the facts of the access record to sign; with it: the pull."""
        return self._json("POST", f"/v1/vault/datasets/{root}/pull", body=access_record)

    @contextmanager
    def file(self, root: str, sha256: str, access: int, offset: int) -> Iterator[Iterator[bytes]]:
        """The bytes of one file from `offset`, as they arrive."""
        path = f"/v1/vault/datasets/{root}/files/{sha256}"
        request = self.signed("GET", path, {"access": access, "offset": offset}, b"", None)
        with self._streamed(request) as pieces:
            yield pieces

    @contextmanager
    def files(self, root: str, access: int, sha256s: bytes) -> Iterator[Iterator[bytes]]:
        """Whole files, framed (`chainproof.vault.framing`), as they arrive."""
        path = f"/v1/vault/datasets/{root}/files"
        request = self.signed("POST", path, {"access": access}, sha256s, "application/octet-stream")
        with self._streamed(request) as pieces:
            yield pieces

    @contextmanager
    def _streamed(self, request: httpx.Request) -> Iterator[Iterator[bytes]]:
        response = self.exchange(request, stream=True)
        try:
            if not response.is_success:
                response.read()
                self._fail(response, json_object(response))
            yield _pieces(response, self.url)
        finally:
            response.close()

    # -- requests ---------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        params: dict[str, object] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        request = self.signed(method, path, params, body, content_type)
        del body  # the request holds it
        try:
            return self._answer(self.exchange(request))
        finally:
            if len(request.content) >= _LARGE:
                # httpx's response and its stream refer to each other, and the response holds
                # the request, which holds the body: without a collection here, a push kept a
                # dozen 8 MiB parts alive at a time (client RSS 148 MB for 100 MB pushed, 256 MB
                # for 800 MB). Collected once the exchange is over and the cycle unreachable.
                del request
                gc.collect(1)

    def _fail(self, response: httpx.Response, obj: dict[str, Any] | None) -> NoReturn:
        obj = obj or {}
        code, status = str(obj.get("code", "")), response.status_code
        message = f"{self.url}: {obj.get('message') or response.reason_phrase} ({status} {code})".rstrip()
        if code == "offset" and isinstance(obj.get("received"), int):
            raise ServerOffset(message, int(obj["received"]))
        if code == "tampered":
            raise TamperedError(message)
        if status in (401, 403):
            raise Refused(message, code, status)
        if status == 400 and code == "rejected":
            raise VerificationError(message)
        if status >= 500:
            raise StoreError(message)
        raise UsageError(message)


def _pieces(response: httpx.Response, url: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(READ_BYTES)
    except httpx.HTTPError as e:
        raise StoreError(f"{url}: the transfer broke off ({describe(e)})") from None
