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
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from chainproof.server.access import Denied, Principal
from chainproof.server.calls import call
from chainproof.server.service import NotFound

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
    return JSONResponse(await call(request, lambda srv, p: srv.grant_uses(p, artifact)))
