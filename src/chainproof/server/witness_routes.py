"""The server's witness routes: witnesses hand in their cosignatures of the log's checkpoints,
and anyone who may read the log sees which witness cosigned what (`cosignatures`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from chainproof.server.calls import body, call
from chainproof.server.service import CustodyServer

routes = APIRouter(prefix="/v1", tags=["witnesses"])


@routes.post(
    "/log/cosignatures",
    openapi_extra={"requestBody": {"required": True, "content": {"text/plain": {}}}},
)
async def add_cosignatures(request: Request) -> Response:
    """Hand in a witness's cosignatures: the body is the log's checkpoint note with the witness's
    C2SP cosignature lines appended (a tlog-witness answer added to the note); the request is
    signed (RFC 9421) by a listed witness's cosigning key or a registered key. Kept when by a
    witness the server lists (`serve --witness`), valid, and over a checkpoint this log issued;
    refused (403, and logged) otherwise. `{"cosignatures": [{"name", "vkey", "time"}]}`."""
    data = await body(request)
    return JSONResponse(await call(request, lambda srv, p: srv.add_cosignatures(p, data), signed=True))


@routes.get("/witnesses")
async def witnesses(request: Request) -> Response:
    """`{"tree_size", "witnesses": [{"name", "vkey", "size", "time"}]}`: each witness the server
    lists and the largest tree size it cosigned, with the cosignature's time (null: none yet)."""
    return JSONResponse(await call(request, CustodyServer.witnesses, quick=True))
