"""HTTP to a chainproof server: requests signed per RFC 9421, answers and errors as JSON.

The server's errors come back as the families the local library raises, so that a command on a
remote store fails as it would on a local one: a refused entry is a `VerificationError` (exit 1),
a bad request or a refusal of the access rules a `UsageError`, a server that cannot answer a
`StoreError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from chainproof.attest import http_signatures as hs
from chainproof.errors import FormatError, StoreError, UsageError, VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_TIMEOUT = 60.0


class RemoteRefused(UsageError):
    """The server refused the request (401, 403, 429, 413, ...): `code` is its stable reason."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


class RemoteClient:
    def __init__(
        self, url: str, key: Ed25519PrivateKey | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        if not is_url(url):
            raise UsageError(f"{url!r} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self._key = key
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        return self._send("GET", path, params, b"")

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        return self._send("POST", path, None, body)

    def _send(
        self, method: str, path: str, params: Mapping[str, object] | None, body: bytes
    ) -> dict[str, Any]:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = httpx.URL(self.url + path, params=query)
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self._key is not None:
            headers |= hs.sign_request(method, str(url), headers, body, self._key)
        try:
            response = self._http.request(method, url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise StoreError(f"{self.url}: no answer in time") from None
        except httpx.HTTPError as e:
            raise StoreError(f"{self.url}: {_reason(e)}") from None
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            obj = json.loads(response.content)
        except ValueError:
            obj = None
        if response.is_success:
            if not isinstance(obj, dict):
                raise FormatError(f"{self.url}: the server's answer is not a JSON object")
            return obj
        code = str(obj.get("code", "")) if isinstance(obj, dict) else ""
        message = str(obj.get("message", "")) if isinstance(obj, dict) else ""
        message = f"{self.url}: {message or response.reason_phrase} ({response.status_code} {code})".rstrip()
        if response.status_code == 400 and code == "rejected":
            raise VerificationError(message)
        if response.status_code >= 500:
            raise StoreError(message)
        raise RemoteRefused(message, code, response.status_code)


def _reason(e: httpx.HTTPError) -> str:
    cause = e.__cause__ or e.__context__
    text = str(cause or e) or type(e).__name__
    return "connection refused" if "refused" in text.lower() else text.splitlines()[0][:200]
