"""The HTTP face of `CustodyServer`: routes, authentication, limits, errors, logs and metrics.

Routes parse a request, call the server's operation and send its JSON; every error is JSON
`{"code", "message"}` with a stable code. A request is authenticated before its route runs: its
body is read first (bounded, and within a time limit, so that a slow client holds a connection,
never a worker), its RFC 9421 signature checked, its signer's bucket charged. A refusal of the
access rules is also kept for the log (`CustodyServer.deny`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chainproof import __version__
from chainproof.errors import ChainproofError, StoreError, UsageError, VerificationError
from chainproof.log import shapes
from chainproof.server import ui_routes, vault_routes, witness_routes
from chainproof.server.access import ANONYMOUS, Denied, Principal
from chainproof.server.calls import (
    TooLarge,
    TooMany,
    TooSlow,
    body,
    call,
    client_address,
    error,
    number,
)
from chainproof.server.service import CustodyServer, NotFound
from chainproof.server.settings import ServerSettings

access_log = logging.getLogger("chainproof.access")
_QUICK_APPEND = 64 << 10
_REQUEST_THREADS = 16
"""Threads that run requests' work (the store's reads block): enough to keep reading while a few
long answers (lineage, impact) are computed, few enough not to fight over the interpreter."""


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chainproof_requests", "Requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.seconds = Histogram(
            "chainproof_request_seconds", "Time to answer a request", ["route"], registry=self.registry
        )
        self.appended = Counter("chainproof_appended_entries", "Entries appended", registry=self.registry)
        self.commits = Counter(
            "chainproof_commits", "Transactions that appended entries", registry=self.registry
        )
        self.denied = Counter(
            "chainproof_denied_requests", "Requests refused", ["code"], registry=self.registry
        )
        self.tree_size = Gauge("chainproof_tree_size", "Entries in the log", registry=self.registry)

    def committed(self, entries: int, requests: int) -> None:
        self.appended.inc(entries)
        self.commits.inc()


def create_app(settings: ServerSettings) -> FastAPI:
    """The server's ASGI application over the store `settings.store`: opened at start-up, its
    queued appends finished and its store closed at shutdown."""
    metrics = _Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.threads = ThreadPoolExecutor(_REQUEST_THREADS, thread_name_prefix="chainproof-request")
        loop = asyncio.get_running_loop()
        try:
            app.state.server = await loop.run_in_executor(
                app.state.threads, functools.partial(CustodyServer, settings, on_commit=metrics.committed)
            )
            app.state.quick = app.state.server.read_here()
            try:
                yield
            finally:
                srv, app.state.server = app.state.server, None
                await loop.run_in_executor(app.state.threads, srv.close)
        finally:
            app.state.threads.shutdown()

    app = FastAPI(
        title="chainproof",
        version=__version__,
        summary="A shared custody log: signed requests, roles, and proofs every client checks.",
        lifespan=lifespan,
    )
    app.state.server = None
    app.state.quick = False
    app.state.metrics = metrics
    app.state.settings = settings
    _install_errors(app)
    _install_access_log(app)
    for router in (
        operations,
        log_routes,
        custody_routes,
        vault_routes.routes,
        witness_routes.routes,
        ui_routes.routes,
    ):
        # The routes themselves, not the routers: an included router is matched anew, route by
        # route, for every request.
        app.router.routes.extend(router.routes)
    return app


Start = Annotated[int, Query(ge=0, description="The first item of the page.")]
Limit = Annotated[int, Query(ge=1, description="The most items the page holds (the server caps it).")]

# The routes are coroutines that answer through `_call` and return a `Response`: FastAPI runs a
# plain function on a thread of its own, and checks and encodes a returned dict on another.
operations = APIRouter(tags=["operations"])
log_routes = APIRouter(prefix="/v1", tags=["log"])
custody_routes = APIRouter(prefix="/v1", tags=["custody"])


@operations.get("/healthz")
async def healthz() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok"})


@operations.get("/readyz")
async def readyz(request: Request) -> Response:
    """The store answers and the committer runs."""
    srv = request.app.state.server
    if not isinstance(srv, CustodyServer) or not srv.committer.alive:
        return error(503, "not-ready", "the server is starting or stopping")
    size = await asyncio.get_running_loop().run_in_executor(request.app.state.threads, srv.size)
    request.app.state.metrics.tree_size.set(size)
    return JSONResponse({"status": "ready", "tree_size": size})


@operations.get("/metrics")
async def prometheus(request: Request) -> Response:
    """Prometheus metrics of this server process."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@log_routes.get("/log")
async def info(request: Request) -> Response:
    """The log's origin, size, checkpoint verifier key and number of keys (`log info`)."""
    return JSONResponse(await call(request, CustodyServer.info))


@log_routes.get("/log/checkpoint")
async def checkpoint(request: Request) -> Response:
    """The latest signed checkpoint (`log checkpoint --json`); the client checks it."""
    return JSONResponse(await call(request, CustodyServer.checkpoint, quick=True))


@log_routes.get("/log/entries")
async def entries(request: Request, start: Start = 0, limit: Limit = 100) -> Response:
    """A page of entries, as base64 leaf bytes."""
    return JSONResponse(await call(request, lambda srv, p: srv.entries(p, start, limit)))


@log_routes.get("/log/entries/{index}")
async def entry(request: Request, index: int) -> Response:
    """One entry's leaf bytes (base64)."""
    return JSONResponse(await call(request, lambda srv, p: srv.entry(p, index), quick=True))


@log_routes.post(
    "/log/entries", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}}
)
async def append(request: Request) -> Response:
    """Append DSSE envelopes (one, a JSON array, or JSON Lines), all or none, as the signer's role
    allows (`log append --json`, with the checkpoint)."""
    data = await body(request)
    small = len(data) <= _QUICK_APPEND  # a large one takes long to parse: not on the event loop
    answer = await call(request, lambda srv, p: srv.submit(p, data), quick=small)
    try:
        seconds = request.app.state.settings.request_timeout
        result = await asyncio.wait_for(asyncio.wrap_future(answer), seconds)
    except TimeoutError:
        raise StoreError("the append was not committed in time; it may still be: retry it") from None
    return JSONResponse(shapes.append_json(result) | {"checkpoint": result.checkpoint})


# The proofs' query parameters are read by `_number`, and declared for the OpenAPI document only:
# FastAPI inspects an optional parameter's annotation again at every request, which cost a third
# of these routes' time (124 us in process against 61 us).


def _parameters(*documented: tuple[str, str, bool]) -> dict[str, Any]:
    """`openapi_extra` declaring query parameters (name, description, required): whole numbers,
    but for `leaf_hash`."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": required,
                "description": description,
                "schema": {"type": "string"} if name == "leaf_hash" else {"type": "integer", "minimum": 0},
            }
            for name, description, required in documented
        ]
    }


@log_routes.get(
    "/log/proofs/inclusion",
    openapi_extra=_parameters(
        ("index", "The entry's index (or give leaf_hash).", False),
        ("leaf_hash", "The entry's RFC 9162 leaf hash, 64 hex digits (or give index).", False),
        ("size", "The tree size the proof is for (default: the latest checkpoint's).", False),
    ),
)
async def inclusion(request: Request) -> Response:
    """An RFC 9162 inclusion proof of an entry, by index or leaf hash (`log prove --json`)."""
    index, size = number(request, "index"), number(request, "size")
    leaf_hash = request.query_params.get("leaf_hash")
    by_index = leaf_hash is None  # a leaf hash is looked up in the leaf index: not always quick
    proof = await call(request, lambda srv, p: srv.prove(p, index, leaf_hash, size), quick=by_index)
    return JSONResponse(proof)


@log_routes.get(
    "/log/proofs/consistency",
    openapi_extra=_parameters(
        ("old", "The earlier tree size.", True),
        ("new", "The later tree size (default: the latest checkpoint's).", False),
    ),
)
async def consistency(request: Request) -> Response:
    """An RFC 9162 consistency proof between two tree sizes (`log consistency --json`)."""
    old, new = number(request, "old", required=True), number(request, "new")
    assert old is not None
    return JSONResponse(await call(request, lambda srv, p: srv.consistency(p, old, new), quick=True))


@log_routes.get("/keys")
async def key_list(request: Request, start: Start = 0, limit: Limit = 100) -> Response:
    """The key registry, with each key's public key (base64)."""
    return JSONResponse(await call(request, lambda srv, p: srv.keys(p, start, limit)))


@log_routes.post("/audit")
async def audit(request: Request) -> Response:
    """Audit the whole store against its own verifier key, in a worker process (admin and
    auditors; `audit --json`). Each client should still check what it is given itself."""
    report = await call(request, CustodyServer.audit)
    return JSONResponse(await asyncio.wrap_future(report))


@custody_routes.get("/actors")
async def actors(request: Request, start: Start = 0, limit: Limit = 100) -> Response:
    """Every actor: name, role, organisation, key (`actor list --json`)."""
    return JSONResponse(await call(request, lambda srv, p: srv.actors(p, start, limit)))


@custody_routes.get("/grants")
async def grants(
    request: Request,
    grantee: str | None = None,
    artifact: str | None = None,
    *,
    start: Start = 0,
    limit: Limit = 100,
) -> Response:
    """Grants, by grantee or artifact, with their status (`grant list --json`)."""
    return JSONResponse(await call(request, lambda srv, p: srv.grants(p, grantee, artifact, start, limit)))


@custody_routes.get("/lineage")
async def lineage(request: Request, artifact: str) -> Response:
    """An artifact's lineage graph (`lineage --format json`)."""
    return JSONResponse(await call(request, lambda srv, p: srv.lineage(p, artifact)))


@custody_routes.get("/verify")
async def verify(request: Request, artifact: str) -> Response:
    """An artifact checked against the store's policy (`verify --json`)."""
    return JSONResponse(await call(request, lambda srv, p: srv.verify(p, artifact)))


_IMPACT = ("package", "advisory", "actor", "key", "dataset", "location")


@custody_routes.get("/impact")
async def impact(request: Request) -> Response:
    """What one compromise reaches (`impact --json`): give exactly one of the query parameters
    package (NAME==VERSION), advisory, actor, key, dataset or location."""
    given = [(k, v) for k, v in request.query_params.items() if k in _IMPACT]
    asked = len(request.query_params)

    def answer(srv: CustodyServer, p: Principal) -> dict[str, Any]:
        if len(given) != 1 or asked != 1:
            raise UsageError(f"give exactly one of {', '.join(_IMPACT)}")
        [(what, value)] = given
        return srv.impact(p, what, value)

    return JSONResponse(await call(request, answer))


_STATUS_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(Denied)
    async def denied(request: Request, e: Denied) -> JSONResponse:
        request.app.state.metrics.denied.labels(e.code).inc()
        principal = getattr(request.state, "principal", None)
        srv = request.app.state.server
        if isinstance(srv, CustodyServer):
            srv.deny(
                principal if isinstance(principal, Principal) else ANONYMOUS,
                request.method,
                request.url.path,
                e,
                client_address(request),
            )
        return error(e.status, e.code, str(e))

    @app.exception_handler(ChainproofError)
    async def refused(request: Request, e: ChainproofError) -> JSONResponse:
        if isinstance(e, TooMany):
            return error(429, "rate-limited", str(e), {"Retry-After": str(e.retry_after)})
        if isinstance(e, TooLarge):
            return error(413, "too-large", str(e))
        if isinstance(e, TooSlow):
            return error(408, "too-slow", str(e))
        if isinstance(e, VerificationError):
            return error(400, "rejected", str(e))
        if isinstance(e, NotFound):
            return error(404, "not-found", str(e))
        if isinstance(e, UsageError):
            return error(400, "bad-request", str(e))
        return error(503, "unavailable", str(e))  # StoreError: the store, not the request

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:3]
        )
        return error(400, "bad-request", problems or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def httperror(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(e.status_code, "http-error")
        return error(e.status_code, code, str(e.detail))


def _install_access_log(app: FastAPI) -> None:
    """One JSON line per request (actor, method, route, status, time), and the request metrics."""
    app.add_middleware(_AccessLog)


class _AccessLog:
    """A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` runs every request in a task group
    of its own, a cost paid by every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server answers when the application fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _record(scope, status, time.perf_counter() - began)


def _record(scope: Scope, status: int, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", "unmatched")
    principal = scope.get("state", {}).get("principal")
    method = str(scope["method"])
    metrics: _Metrics = scope["app"].state.metrics
    metrics.requests.labels(method, route, str(status)).inc()
    metrics.seconds.labels(route).observe(seconds)
    if not access_log.isEnabledFor(logging.INFO):
        return
    signer = principal if isinstance(principal, Principal) else None
    client = scope.get("client")
    access_log.info(
        json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "actor": signer.name if signer else None,
                "keyid": signer.keyid if signer else None,
                "method": method,
                "route": route,
                "status": status,
                "ms": round(seconds * 1000, 2),
                "client": client[0] if client else "unknown",
            }
        )
    )
