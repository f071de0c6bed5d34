"""The server's vault routes: push a dataset in parts, pull it back under a grant.

    POST /v1/vault/datasets                          the manifest -> what the server still needs
    PUT  /v1/vault/datasets/{root}/files/{sha256}?offset=N   a part of one file (whole chunks)
    PUT  /v1/vault/datasets/{root}/files             whole small files, framed
    POST /v1/vault/datasets/{root}/files?access=I    whole small files back, framed, streamed
    POST /v1/vault/datasets/{root}/commit            the pusher's signed statement -> its entry
    POST /v1/vault/datasets/{root}/pull              the access record to sign; then, signed, logged
    GET  /v1/vault/datasets/{root}/files/{sha256}?access=I&offset=N  the file's bytes, streamed

Every request is signed (RFC 9421). The operations are `chainproof.server.vault`'s.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from chainproof.server.access import ANONYMOUS, Denied, Principal
from chainproof.server.calls import body, call, client_address, number, server
from chainproof.server.service import CustodyServer
from chainproof.server.vault import VaultOperations
from chainproof.vault.crypto import TamperedError
from chainproof.vault.sealing import OffsetMismatch

routes = APIRouter(prefix="/v1/vault", tags=["vault"])


def _ops(request: Request) -> VaultOperations:
    """The vault's operations of this application (their caches live as long as it does)."""
    state = request.app.state
    ops = getattr(state, "vault_ops", None)
    if not isinstance(ops, VaultOperations):
        ops = state.vault_ops = VaultOperations()
    return ops


@routes.post("/datasets")
async def begin_push(request: Request) -> Response:
    """Start or resume a push: the body is the manifest JSON (`data manifest --out`); the answer
    lists the files the server does not hold yet, with the bytes of each it has."""
    ops, data = _ops(request), await body(request)
    return JSONResponse(await call(request, lambda srv, p: ops.begin(srv, p, data), signed=True))


@routes.put("/datasets/{root}/files/{sha256}")
async def push_part(request: Request, root: str, sha256: str) -> Response:
    """A part of one file, from `offset` (the next byte the server expects): whole chunks, or up
    to the file's end. 409 with `received` when the offset is not the server's."""
    ops, data = _ops(request), await body(request)
    try:
        answer = await call(
            request,
            lambda srv, p: ops.write_part(
                srv, p, root, sha256, offset=_required(request, "offset"), data=data
            ),
            signed=True,
        )
    except OffsetMismatch as e:
        return JSONResponse({"code": "offset", "message": str(e), "received": e.expected}, status_code=409)
    return JSONResponse(answer)


@routes.put("/datasets/{root}/files")
async def push_files(request: Request, root: str) -> Response:
    """Whole files at once, framed (`chainproof.vault.framing`): each its SHA-256, its length and
    its bytes. For the many small files of a dataset; answers each file's state."""
    ops, data = _ops(request), await body(request)
    return JSONResponse(await call(request, lambda srv, p: ops.write_files(srv, p, root, data), signed=True))


@routes.post("/datasets/{root}/commit")
async def commit_push(request: Request, root: str) -> Response:
    """Finish a push: the body is the pusher's DSSE envelope of the stored statement naming the
    root; appended once every file is stored. Answers the entry's index and leaf hash."""
    ops, data = _ops(request), await body(request)
    return JSONResponse(await call(request, lambda srv, p: ops.commit(srv, p, root, data), signed=True))


@routes.post("/datasets/{root}/pull")
async def begin_pull(request: Request, root: str) -> Response:
    """A pull, for a holder of a live grant: with no body, the facts of the access record to
    sign; with that record (a DSSE envelope signed by the puller), the record appended (committed
    before this answers), then the manifest, the stored entry and the access entry."""
    ops, data = _ops(request), await body(request)
    return JSONResponse(await call(request, lambda srv, p: ops.pull(srv, p, root, data), signed=True))


@routes.get("/datasets/{root}/files/{sha256}")
async def read_file(request: Request, root: str, sha256: str) -> Response:
    """One file's bytes from `offset` (a multiple of the chunk size), for the pull whose access
    entry is `access`, streamed chunk by chunk, each checked before it is sent."""
    ops = _ops(request)

    def read(srv: CustodyServer, p: Principal) -> tuple[int, Iterator[bytes]]:
        access, offset = _required(request, "access"), number(request, "offset") or 0
        return ops.read_file(srv, p, root, sha256, access_index=access, offset=offset)

    length, chunks = await call(request, read, signed=True)
    return StreamingResponse(
        _guarded(request, chunks),
        media_type="application/octet-stream",
        headers={"content-length": str(length)},
    )


@routes.post("/datasets/{root}/files")
async def read_files(request: Request, root: str) -> Response:
    """Many whole files for the pull whose access entry is `access`: the body lists their
    SHA-256s (32 bytes each); the answer frames each file as a push sends it, streamed."""
    ops, data = _ops(request), await body(request)
    length, chunks = await call(
        request,
        lambda srv, p: ops.read_files(srv, p, root, access_index=_required(request, "access"), body=data),
        signed=True,
    )
    return StreamingResponse(
        _guarded(request, chunks),
        media_type="application/octet-stream",
        headers={"content-length": str(length)},
    )


def _required(request: Request, name: str) -> int:
    """A whole-number query parameter the route needs: read once the request is authenticated,
    so that an unsigned request is refused as such whatever else is wrong with it."""
    value = number(request, name, required=True)
    assert value is not None
    return value


def _guarded(request: Request, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks; one that fails its check mid-way is kept for the log as a denied request, and
    the answer is cut off there (the client sees it short, and never the bad bytes)."""
    try:
        yield from chunks
    except TamperedError as e:
        srv = server(request)
        principal = getattr(request.state, "principal", None)
        srv.deny(
            principal if isinstance(principal, Principal) else ANONYMOUS,
            request.method,
            request.url.path,
            Denied("tampered", f"refused: {e}", 500),
            client_address(request),
        )
        raise
