"""The real server on loopback, driven through raw HTTP and the CLI's remote store: proofs checked
on the client, the role matrix, contractor isolation, replay, revocation, limits, JSON errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_support import (
    DATA,
    OTHER,
    Server,
    Store,
    build_store,
    cli,
    envelope,
    hop_envelope,
    request,
    serving,
    wait_for_denial,
)

from chainproof.attest import dsse, keys, signing
from chainproof.attest import http_signatures as hs
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.errors import UsageError
from chainproof.log import entries, merkle
from chainproof.log.note import parse_vkey, verify_checkpoint
from chainproof.log.proofs import InclusionProof
from chainproof.remote.log import RemoteLog, key_record
from chainproof.server.denials import DENIED

LABELS = Digest("sha256:" + "1a" * 32)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_store(tmp_path_factory.mktemp("server") / "store")


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[Server]:
    with serving(store.directory, "--max-body", "65536") as s:
        yield s


def _vkey(server: Server) -> str:
    return str(request(server.url, "GET", "/v1/log").json()["vkey"])


def test_signed_append_is_proved_on_the_client(server: Server, store: Store) -> None:
    body = envelope(store.keys["alice"], 1)
    r = request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    cp = verify_checkpoint(answer["checkpoint"], parse_vkey(_vkey(server)))
    [e] = answer["entries"]
    leaf = merkle.leaf_hash(dsse.parse(body).canonical())
    assert e["leaf_hash"] == leaf.hex()
    got = request(
        server.url, "GET", "/v1/log/proofs/inclusion", params={"index": e["index"], "size": cp.size}
    ).json()
    proof = InclusionProof(e["index"], cp.size, leaf, cp.root, tuple(bytes.fromhex(h) for h in got["proof"]))
    proof.verify()
    stored = base64.b64decode(request(server.url, "GET", f"/v1/log/entries/{e['index']}").json()["leaf"])
    assert merkle.leaf_hash(stored) == leaf


def test_the_cli_works_on_a_remote_store(server: Server, store: Store, tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = store.key_file("alice")
    p = cli(
        server.url, "log", "append", "-", "--json", key=key, home=home, stdin=envelope(store.keys["alice"], 2)
    )
    assert p.returncode == 0, p.stderr
    index = json.loads(p.stdout)["entries"][0]["index"]
    got = cli(server.url, "log", "get", str(index), "--raw", home=home)
    assert got.returncode == 0, got.stderr
    assert dsse.parse(got.stdout).canonical() == dsse.parse(envelope(store.keys["alice"], 2)).canonical()
    for args in (
        ["log", "prove", str(index), "--json"],
        ["log", "consistency", "1", "--json"],
        ["log", "info", "--json"],
    ):
        p = cli(server.url, *args, home=home)
        assert p.returncode == 0, (args, p.stderr)
    assert (
        json.loads(cli(server.url, "log", "info", "--json", home=home).stdout)["origin"]
        == "test.example/server"
    )
    remembered = list((home / "servers").glob("*.json"))
    assert len(remembered) == 1
    assert json.loads(remembered[0].read_text())["size"] > index


def test_cli_refusal_is_one_line_and_exit_2(server: Server, store: Store, tmp_path: Path) -> None:
    p = cli(
        server.url,
        "log",
        "append",
        "-",
        key=store.key_file("carol"),
        home=tmp_path,
        stdin=envelope(store.keys["carol"], 3),
    )
    assert p.returncode == 2
    assert p.stderr.decode().count("\n") == 1
    assert "reads and never writes" in p.stderr.decode()


def test_unsigned_write_is_refused_and_the_refusal_logged(server: Server, store: Store) -> None:
    r = request(server.url, "POST", "/v1/log/entries", body=envelope(store.keys["alice"], 4))
    assert r.status_code == 401
    assert r.json()["code"] == "unsigned"
    assert r.json()["message"]
    denial = wait_for_denial(server, "unsigned", "/v1/log/entries")
    assert denial["method"] == "POST"
    assert denial["keyid"] == ""


@pytest.mark.parametrize(
    ("who", "hop", "inputs", "status"),
    [
        ("bob", Hop.ANNOTATE, (DATA,), 200),
        ("bob", Hop.ACCESS, (DATA,), 200),
        ("bob", Hop.ANNOTATE, (OTHER,), 403),  # no grant for OTHER
        ("bob", Hop.TRAIN, (DATA,), 403),
        ("alice", Hop.TRAIN, (DATA,), 200),
        ("victor", Hop.TRAIN, (DATA,), 200),
        ("carol", Hop.ANNOTATE, (DATA,), 403),
    ],
)
def test_appends_by_role(
    server: Server, store: Store, who: str, hop: Hop, inputs: tuple[Digest, ...], status: int
) -> None:
    output = Digest(
        "sha256:"
        + keys.keyid(store.keys[who].public_key())[:48]
        + f"{hop}".encode().hex()[:16].ljust(16, "0")
    )
    body = hop_envelope(store.keys[who], hop, inputs, output)
    r = request(server.url, "POST", "/v1/log/entries", store.keys[who], body=body)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["code"] == "forbidden"


def test_a_recorder_cannot_append_for_another_organisation(server: Server, store: Store) -> None:
    body = envelope(store.keys["victor"], 5)  # victor is the vendor's; alice the lab's
    r = request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body)
    assert r.status_code == 403
    assert "not of lab's actors" in r.json()["message"]


def test_only_the_admin_changes_the_registry(server: Server, store: Store) -> None:
    newcomer = keys.generate()
    st = entries.registration_statement("mallory", newcomer.public_key())
    body = json.dumps(signing.sign_statement(st, store.keys["alice"]).to_json_obj()).encode()
    assert request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body).status_code == 403


@pytest.mark.parametrize(
    ("who", "path", "params", "status"),
    [
        ("carol", "/v1/actors", {}, 200),
        ("alice", "/v1/impact", {"dataset": DATA}, 200),
        ("bob", "/v1/actors", {}, 403),
        ("bob", "/v1/impact", {"dataset": DATA}, 403),
        ("bob", "/v1/lineage", {"artifact": DATA}, 200),
        ("bob", "/v1/lineage", {"artifact": OTHER}, 403),
        ("bob", "/v1/verify", {"artifact": OTHER}, 403),
        ("bob", "/v1/grants", {"grantee": "bob"}, 200),
        ("bob", "/v1/grants", {"grantee": "alice"}, 403),
        ("carol", "/v1/verify", {"artifact": DATA}, 200),
        (None, "/v1/actors", {}, 401),
        (None, "/v1/log/checkpoint", {}, 200),  # the log itself is public by default
    ],
)
def test_reads_by_role(
    server: Server, store: Store, who: str | None, path: str, params: dict[str, str], status: int
) -> None:
    r = request(server.url, "GET", path, store.keys[who] if who else None, params=params)
    assert r.status_code == status, r.text


def test_a_contractor_sees_only_its_grants(server: Server, store: Store) -> None:
    r = request(server.url, "GET", "/v1/grants", store.keys["bob"], params={"grantee": "bob"})
    assert {g["artifact"] for g in r.json()["grants"]} == {DATA}


def test_a_replayed_request_is_refused(server: Server, store: Store) -> None:
    body = envelope(store.keys["alice"], 6)
    target = server.url + "/v1/log/entries"
    headers = {"content-type": "application/json"}
    headers |= hs.sign_request("POST", target, headers, body, store.keys["alice"])
    first = httpx.post(target, content=body, headers=headers)
    again = httpx.post(target, content=body, headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json()["code"] == "replayed"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("body", "bad-content-digest"),
        ("signature", "bad-signature"),
        ("old", "expired"),
        ("future", "not-yet-valid"),
        ("stranger", "unknown-key"),
    ],
)
def test_bad_signatures_are_refused(server: Server, store: Store, change: str, code: str) -> None:
    body = envelope(store.keys["alice"], 7)
    target = server.url + "/v1/log/entries"
    key = keys.generate() if change == "stranger" else store.keys["alice"]
    now = time.time() + {"old": -3600, "future": 3600}.get(change, 0)
    headers = {"content-type": "application/json"}
    headers |= hs.sign_request("POST", target, headers, body, key, now=now)
    if change == "body":
        body += b"\n"  # the same envelope, but not the bytes signed
    if change == "signature":
        sig = headers["Signature"]
        raw = bytearray(base64.b64decode(sig.split(":")[1]))
        raw[0] ^= 1
        headers["Signature"] = f"chainproof=:{base64.b64encode(bytes(raw)).decode()}:"
    r = httpx.post(target, content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (401, code), r.text


def test_limits_and_errors_are_json(server: Server, store: Store) -> None:
    alice = store.keys["alice"]
    big = request(server.url, "POST", "/v1/log/entries", alice, body=b"[" + b" " * 70000 + b"]")
    assert big.status_code == 413
    assert big.json()["code"] == "too-large"
    bad = request(server.url, "POST", "/v1/log/entries", alice, body=b"{not json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "rejected"
    missing = request(server.url, "GET", "/v1/log/entries/99999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not-found"
    assert request(server.url, "GET", "/v1/nowhere").json()["code"] == "not-found"
    assert request(server.url, "GET", "/v1/log/entries", params={"limit": 0}).status_code == 400
    odd = request(server.url, "GET", "/v1/lineage", alice, params={"artifact": "../../etc/passwd"})
    assert odd.status_code == 400
    assert odd.json()["code"] == "bad-request"
    quote = request(server.url, "GET", "/v1/grants", alice, params={"grantee": "x'; DROP TABLE keys; --"})
    assert quote.status_code == 200
    assert quote.json()["grants"] == []


@pytest.mark.parametrize(
    ("path", "params", "wanted"),
    [
        ("/v1/log/proofs/inclusion", {"index": "x", "size": 2}, "index must be a whole number"),
        ("/v1/log/proofs/inclusion", {"index": "-1", "size": 2}, "index must be a whole number"),
        ("/v1/log/proofs/inclusion", {"index": "1", "size": "²"}, "size must be a whole number"),
        ("/v1/log/proofs/inclusion", {"size": 2}, "give an index or a leaf_hash"),
        ("/v1/log/proofs/consistency", {"new": 2}, "give old"),
        ("/v1/log/proofs/consistency", {"old": "1e3"}, "old must be a whole number"),
        ("/v1/log/proofs/consistency", {"old": "9" * 21}, "old must be a whole number"),
    ],
)
def test_proof_parameters_are_checked(
    server: Server, path: str, params: dict[str, object], wanted: str
) -> None:
    r = request(server.url, "GET", path, params=params)
    assert r.status_code == 400
    assert r.json()["code"] == "bad-request"
    assert wanted in r.json()["message"]


def test_the_proofs_parameters_are_documented(server: Server) -> None:
    spec = request(server.url, "GET", "/openapi.json").json()["paths"]
    inclusion = {p["name"]: p for p in spec["/v1/log/proofs/inclusion"]["get"]["parameters"]}
    assert set(inclusion) == {"index", "leaf_hash", "size"}
    assert inclusion["size"]["schema"] == {"type": "integer", "minimum": 0}
    consistency = {p["name"]: p["required"] for p in spec["/v1/log/proofs/consistency"]["get"]["parameters"]}
    assert consistency == {"old": True, "new": False}


def test_listings_are_paginated(server: Server) -> None:
    first = request(server.url, "GET", "/v1/log/entries", params={"start": 0, "limit": 2}).json()
    assert [e["index"] for e in first["entries"]] == [0, 1]
    assert first["next"] == 2
    keys_page = request(server.url, "GET", "/v1/keys", params={"limit": 1}).json()
    assert len(keys_page["keys"]) == 1
    assert keys_page["next"] == 1
    assert keys_page["total"] >= 5


def test_operations_routes(server: Server) -> None:
    assert request(server.url, "GET", "/healthz").json() == {"status": "ok"}
    assert request(server.url, "GET", "/readyz").json()["status"] == "ready"
    metrics = request(server.url, "GET", "/metrics").text
    assert "chainproof_requests_total" in metrics
    assert "chainproof_appended_entries_total" in metrics
    spec = request(server.url, "GET", "/openapi.json").json()
    assert "/v1/log/entries" in spec["paths"]
    assert "post" in spec["paths"]["/v1/log/entries"]
    lines = [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]
    assert any(line["route"] == "/v1/log/entries" and line["actor"] == "alice" for line in lines)


def test_revoking_a_key_takes_effect_on_the_next_request(server: Server, store: Store) -> None:
    eve = keys.generate()
    admin = store.keys["admin"]
    reg = signing.sign_statement(entries.registration_statement("eve", eve.public_key()), admin)
    r = request(server.url, "POST", "/v1/log/entries", admin, body=json.dumps(reg.to_json_obj()).encode())
    assert r.status_code == 200, r.text
    assert request(server.url, "GET", "/v1/log/checkpoint", eve).status_code == 200
    records = request(server.url, "GET", "/v1/keys", params={"limit": 1000}).json()["keys"]
    record = next(k for k in records if k["name"] == "eve")
    revocation = entries.revocation_statement(key_record(record), r.json()["tree_size"], "lost laptop")
    body = json.dumps(signing.sign_statement(revocation, admin).to_json_obj()).encode()
    assert request(server.url, "POST", "/v1/log/entries", admin, body=body).status_code == 200
    after = request(server.url, "GET", "/v1/log/checkpoint", eve)
    assert after.status_code == 401
    assert after.json()["code"] == "unknown-key"


@pytest.mark.parametrize(
    ("who", "status"), [("carol", 200), ("admin", 200), ("alice", 403), ("bob", 403), (None, 401)]
)
def test_audits_run_for_admin_and_auditors(
    server: Server, store: Store, who: str | None, status: int
) -> None:
    r = request(server.url, "POST", "/v1/audit", store.keys[who] if who else None)
    assert r.status_code == status, r.text
    if status == 200:
        report = r.json()
        assert report["ok"] is True
        assert report["tree_size"] >= 11


def test_remote_key_changes_are_refused_as_local_ones_are(
    server: Server, store: Store, tmp_path: Path
) -> None:
    remote = RemoteLog(server.url, home=tmp_path / "home")
    try:
        admin_file = store.key_file("admin")
        admin_record = next(k for k in remote.keys() if k.role == "admin")  # noqa: SIM118 -- a log, not a dict
        before = remote.size()
        with pytest.raises(UsageError, match="the admin key cannot be revoked"):
            remote.revoke_key(admin_record, effective_from=None, reason="x", admin_key=admin_file)
        with pytest.raises(UsageError, match="a key named 'alice' is already registered"):
            remote.register_key("alice", keys.generate(), admin_key=admin_file)
        remote.checkpoint()
        # Nothing was sent: the log holds no more than the refusals of earlier requests (which
        # the server appends when it is next idle).
        grown = remote.size() - before
        for leaf in remote.leaves(before, grown) if grown else []:
            assert json.loads(dsse.parse(leaf).payload)["predicateType"] == DENIED
    finally:
        remote.close()
