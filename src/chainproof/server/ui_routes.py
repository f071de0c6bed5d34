"""The web UI: its static files at `/ui/`, and the two JSON answers it needs beyond the API.

The UI holds no session and no password. The browser signs every request itself (RFC 9421, with
the actor key the user picks, imported into WebCrypto as a non-extractable key), so each of its
requests is an ordinary signed API request: the roles, rate limits and denials, and their entries
in the log, apply unchanged. `GET /v1/whoami` proves a key at sign-in; `GET /v1/grants/uses` says
who used a dataset (its `access` records), under the rules of `GET /v1/grants`.

The files are served as shipped inside the package (no build step, nothing fetched at run time),
under a Content-Security-Policy that allows only this origin's scripts and styles, and with an
ETag so that a browser revalidates them rather than keeping a stale copy after an upgrade. The
file routes are left out of the OpenAPI document: they are pages, not API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from chainproof.custody.hops import Hop
from chainproof.custody.predicates import parse_time
from chainproof.custody.records import Digest
from chainproof.custody.service import GrantState, parse_artifact
from chainproof.server import access
from chainproof.server.access import Denied, Principal
from chainproof.server.calls import call
from chainproof.server.service import CustodyServer, NotFound, _granted

routes = APIRouter()

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Revalidate every time (an ETag makes that a 304): a page never mixes files of two versions.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def assets() -> dict[str, Asset]:
    """The UI's files by name, read once from the package."""
    found: dict[str, Asset] = {}
    for item in resources.files("chainproof.server").joinpath("ui").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in _TYPES:
            data = item.read_bytes()
            found[item.name] = Asset(data, _TYPES[suffix], '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
    return found


def _serve(request: Request, name: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise NotFound(f"the UI has no file {name[:80]!r}")
    headers = {**_HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@routes.get("/ui", include_in_schema=False)
async def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@routes.get("/ui/", include_in_schema=False)
async def ui_index(request: Request) -> Response:
    return _serve(request, "index.html")


@routes.get("/ui/{name}", include_in_schema=False)
async def ui_file(request: Request, name: str) -> Response:
    return _serve(request, name)


@routes.get("/v1/whoami", tags=["custody"])
async def whoami(request: Request) -> Response:
    """Who signed this request: the key's name, key id, role and organisation (the UI's sign-in
    proof). An unsigned request is refused (401) and the refusal is logged."""
    return JSONResponse(await call(request, lambda srv, p: whoami_json(p)))


def whoami_json(principal: Principal) -> dict[str, Any]:
    if not principal.signed:
        raise Denied("unsigned", "this request must be signed (RFC 9421) by a registered key", 401)
    return {
        "name": principal.name,
        "keyid": principal.keyid,
        "role": None if principal.role is None else principal.role.value,
        "organisation": principal.organisation,
    }


@routes.get("/v1/grants/uses", tags=["custody"])
async def grant_uses(request: Request, artifact: str) -> Response:
    """Who used a dataset: its `access` records in log order, each with the actor that signed it
    and the grant that covered it (null when none did). Readable by whoever may read the
    dataset's grants (`GET /v1/grants?artifact=`)."""
    return JSONResponse(await call(request, lambda srv, p: uses(srv, p, artifact)))


def uses(srv: CustodyServer, principal: Principal, artifact: str) -> dict[str, Any]:
    wanted = parse_artifact(artifact)
    access.may_read_artifact(principal, wanted, _granted(srv.custody, srv._custody))
    with srv._custody():
        grants = srv.custody.grants(artifact=wanted)
        with srv.custody.lineage_index() as index:
            found = []
            for hop in index.consumers(wanted):
                if hop.record.hop is not Hop.ACCESS:
                    continue
                keyid = hop.keyids[0] if hop.keyids else ""
                actor = index.actor_of(keyid, hop.index)
                name = actor.record.name if actor is not None else None
                found.append(
                    {
                        "index": hop.index,
                        "actor": name,
                        "keyid": keyid,
                        "time": hop.record.time,
                        "grant_id": _covering(grants, name, hop.index, hop.record.time),
                    }
                )
    return {"artifact": wanted, "uses": found}


def _covering(
    grants: Sequence[GrantState], grantee: str | None, index: int, when: str | None
) -> Digest | None:
    """The grant to `grantee` in force at entry `index`: granted before it and not revoked before
    it, by the log's order (which no signer can change), and not expired at the time the hop
    states."""
    for g in grants:
        e = g.entry
        if e.record.grantee != grantee or e.index >= index:
            continue
        if e.revoked_at is not None and e.revoked_at < index:
            continue
        if when is not None and parse_time(when, "time") >= parse_time(e.record.expires, "expires"):
            continue
        return e.grant_id
    return None
