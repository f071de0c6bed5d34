"""HTTP to a chainproof server: requests signed per RFC 9421, answers and errors as JSON.

The server's errors come back as the families the local library raises, so that a command on a
remote store fails as it would on a local one: a refused entry is a `VerificationError` (exit 1),
a bad request or a refusal of the access rules a `UsageError`, a server that cannot answer a
`StoreError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Self

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        return self._answer(self.exchange(self.signed("GET", path, params, b"")))

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        return self._answer(self.exchange(self.signed("POST", path, None, body)))

    def signed(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None,
        body: bytes,
        content_type: str | None = "application/json",
    ) -> httpx.Request:
        """A request to `path` on the server, signed with the client's key when it has one."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = httpx.URL(self.url + path, params=query)
        headers = {"accept": "application/json"}
        if content_type is not None:
            headers["content-type"] = content_type
        if self._key is not None:
            headers |= hs.sign_request(method, str(url), headers, body, self._key)
        return self._http.build_request(method, url, content=body, headers=headers)

    def exchange(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send `request`; a server that cannot be reached or does not answer in time is a
        `StoreError`. With `stream`, the caller reads the body and closes the response."""
        try:
            return self._http.send(request, stream=stream)
        except httpx.TimeoutException:
            raise StoreError(f"{self.url}: no answer in time") from None
        except httpx.HTTPError as e:
            raise StoreError(f"{self.url}: {describe(e)}") from None

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        if not response.is_success:
            self._fail(response, json_object(response))
        obj = json_object(response)
        if obj is None:
            raise FormatError(f"{self.url}: the server's answer is not a JSON object")
        return obj

    def _fail(self, response: httpx.Response, obj: dict[str, Any] | None) -> NoReturn:
        """Raise the library's error for the server's refusal or failure."""
        code = str(obj.get("code", "")) if obj else ""
        message = str(obj.get("message", "")) if obj else ""
        message = f"{self.url}: {message or response.reason_phrase} ({response.status_code} {code})".rstrip()
        if response.status_code == 400 and code == "rejected":
            raise VerificationError(message)
        if response.status_code >= 500:
            raise StoreError(message)
        raise RemoteRefused(message, code, response.status_code)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        obj = json.loads(response.content)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def describe(e: httpx.HTTPError) -> str:
    """A transport error in a few words."""
    cause = e.__cause__ or e.__context__
    text = str(cause or e) or type(e).__name__
    return "connection refused" if "refused" in text.lower() else text.splitlines()[0][:200]
