"""What every route does with its request: read the body (bounded, timed), authenticate its
signature, charge its signer's bucket, and run the operation where it is cheapest (`call`); and
the errors the HTTP layer itself raises. Shared by the server's route modules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from chainproof.errors import ChainproofError, StoreError, UsageError
from chainproof.server.access import ANONYMOUS, Principal, require_signature
from chainproof.server.service import CustodyServer, WouldWait
from chainproof.server.settings import ServerSettings

T = TypeVar("T")


def server(request: Request) -> CustodyServer:
    found = request.app.state.server
    if not isinstance(found, CustodyServer):
        raise StoreError("the server is starting or stopping")
    return found


async def call(
    request: Request,
    operation: Callable[[CustodyServer, Principal], T],
    *,
    quick: bool = False,
    signed: bool = False,
) -> T:
    """Authenticate the request, charge its signer's bucket and run `operation` for it, all in one
    trip to a request thread: the store's reads block, and each trip between the event loop and a
    thread costs more than most requests' own work (and, the two taking turns at the interpreter's
    lock, more again under load). The body is read first (bounded).

    A `quick` operation (a checkpoint, a proof, an entry, a small append: a few hundred
    microseconds of work) runs on the event loop itself where the store allows it
    (`CustodyServer.read_here`), unless it finds it would wait (`WouldWait`: an actor not looked
    up in the last second, a contractor's grants), when a request thread takes it from there.

    A `signed` operation refuses an unsigned request before it reads anything else of it (its
    parameters, its body), so that such a request is told it must be signed, whatever else is
    wrong with it."""
    data = await body(request)
    srv = server(request)
    carries_signature = "signature" in request.headers or "signature-input" in request.headers
    parts = (request.method, target_uri(request), dict(request.headers), data)
    client = client_address(request)
    principal: Principal | None = None

    def run() -> T:
        nonlocal principal
        if principal is None:  # authenticated once: its nonce is spent
            principal = srv.authenticate(*parts) if carries_signature else ANONYMOUS
            request.state.principal = principal
            if not srv.limiter.allow(principal.keyid or client):
                raise TooMany(srv.limiter.retry_after())
        if signed:
            require_signature(principal)
        return operation(srv, principal)

    if quick and request.app.state.quick:
        try:
            return run()
        except WouldWait:
            pass
    return await asyncio.get_running_loop().run_in_executor(request.app.state.threads, run)


def number(request: Request, name: str, *, required: bool = False) -> int | None:
    """The query parameter `name`, a whole number (none: None, unless `required`)."""
    raw = request.query_params.get(name)
    if raw is None:
        if required:
            raise UsageError(f"give {name}")
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 20):
        raise UsageError(f"{name} must be a whole number, not {raw[:40]!r}")
    return int(raw)


class TooMany(ChainproofError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests from this signer; slow down")
        self.retry_after = retry_after


class TooLarge(ChainproofError):
    pass


class TooSlow(ChainproofError):
    pass


async def body(request: Request) -> bytes:
    """The request body, read once: refused past `max_body` bytes (declared or sent) or when it
    takes longer than `body_timeout`, so that a slow client holds a connection, never a thread."""
    if hasattr(request, "_body"):
        return request._body
    settings: ServerSettings = request.app.state.settings
    limit, seconds = settings.max_body, settings.body_timeout
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the request body is {int(declared):,} bytes; this server takes at most {limit:,}")

    async def read() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the request body is over {limit:,} bytes, the most this server takes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        data = await asyncio.wait_for(read(), seconds)
    except TimeoutError:
        raise TooSlow(f"the request body did not arrive within {seconds:g} s") from None
    request._body = data
    return data


def target_uri(request: Request) -> str:
    """The URL as the client sent it, percent-encoding and all: what it signed. Starlette's
    `request.url` decodes the path, so it is built again from the raw one."""
    scheme = request.url.scheme
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = f"{scheme}://{host}{raw_path.decode('latin-1')}"
    return f"{target}?{query.decode('latin-1')}" if query else target


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)
