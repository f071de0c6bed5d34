"""The UI's routes without a browser: its files (types, Content-Security-Policy, revalidation,
nothing fetched from elsewhere, shipped in the wheel), `GET /v1/whoami` and `GET /v1/grants/uses`
with their access rules, and what the OpenAPI document says of them."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import httpx
from flit_core import wheel
from server_support import DATA, OTHER, request
from ui_support import UiWorld

from chainproof.server import ui_routes

ROOT = Path(__file__).resolve().parents[2]


def test_files_are_served_with_their_types_and_policy(world: UiWorld) -> None:
    moved = httpx.get(world.url + "/ui")
    assert moved.status_code == 308
    assert moved.headers["location"] == "/ui/"
    page = httpx.get(world.url + "/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == ui_routes.CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    again = httpx.get(world.url + "/ui/", headers={"if-none-match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    for name, media in (
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("sign.js", "text/javascript"),
    ):
        r = httpx.get(f"{world.url}/ui/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(media)
    for name in ("nothing.js", "..%2Fui_routes.py", "%2E%2E%2Fapp.py", "__init__.py"):
        r = httpx.get(f"{world.url}/ui/{name}")
        assert r.status_code == 404, name
        assert r.json()["code"] == "not-found"


def test_the_page_runs_only_its_own_files() -> None:
    """No inline script or handler (the policy would block it), no file from another origin, and
    every module the page imports is shipped."""
    files = ui_routes.assets()
    html = files["index.html"].body.decode()
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="/ui/app.js">']
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for name, asset in files.items():
        text = asset.body.decode()
        assert not re.search(r"""(fetch|import)\s*\(\s*["'`]https?:""", text), name
        for imported in re.findall(r"""from\s+["']([^"']+)["']""", text):
            assert imported.startswith("./"), (name, imported)
            assert imported[2:] in files, (name, imported)


def test_the_wheel_ships_the_ui(tmp_path: Path) -> None:
    built = wheel.make_wheel_in(ROOT / "pyproject.toml", tmp_path)
    shipped = {n.rpartition("/")[2] for n in zipfile.ZipFile(built.file).namelist() if "/server/ui/" in n}
    assert set(ui_routes.assets()) <= shipped


def test_whoami(world: UiWorld) -> None:
    for name, role, organisation in (
        ("alice", "recorder", "lab"),
        ("bob", "contractor", "annotators"),
        ("carol", "auditor", "lab"),
    ):
        key = world.store.keys[name]
        r = request(world.url, "GET", "/v1/whoami", key)
        assert r.status_code == 200, r.text
        assert r.json()["name"] == name
        assert r.json()["role"] == role
        assert r.json()["organisation"] == organisation
        assert len(r.json()["keyid"]) == 64
    unsigned = request(world.url, "GET", "/v1/whoami")
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "unsigned"


def test_grant_uses_follow_the_rules_of_grants(world: UiWorld) -> None:
    keys = world.store.keys
    r = request(world.url, "GET", "/v1/grants/uses", keys["carol"], params={"artifact": DATA})
    assert r.status_code == 200, r.text
    [use] = r.json()["uses"]
    assert r.json()["artifact"] == DATA
    assert use["actor"] == "bob"
    grants = request(world.url, "GET", "/v1/grants", keys["carol"], params={"artifact": DATA}).json()
    assert use["grant_id"] == grants["grants"][0]["grant_id"]
    assert use["index"] > grants["grants"][0]["index"]
    # A contractor reads the uses of what it is granted, and of nothing else.
    assert (
        request(world.url, "GET", "/v1/grants/uses", keys["bob"], params={"artifact": DATA}).status_code
        == 200
    )
    refused = request(world.url, "GET", "/v1/grants/uses", keys["bob"], params={"artifact": OTHER})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    ungranted = request(world.url, "GET", "/v1/grants/uses", keys["victor"], params={"artifact": OTHER})
    [use] = ungranted.json()["uses"]
    assert use["actor"] == "alice"
    assert use["grant_id"] is None
    assert request(world.url, "GET", "/v1/grants/uses", params={"artifact": DATA}).status_code == 401
    bad = request(world.url, "GET", "/v1/grants/uses", keys["carol"], params={"artifact": "sha256:zz"})
    assert bad.status_code == 400


def test_the_openapi_document_has_the_json_routes_not_the_files(world: UiWorld) -> None:
    paths = httpx.get(world.url + "/openapi.json").json()["paths"]
    assert "/v1/whoami" in paths
    assert "/v1/grants/uses" in paths
    assert not [p for p in paths if p.startswith("/ui")]
