"""A split view, end to end: two copies of one store (same checkpoint key and origin) diverge,
each behind a real `chainproof serve`, and one address shows one history and then the other (a
loopback proxy switched between them, as a log could answer different clients differently).

The monitor that saw the first history detects the fork with both checkpoints as evidence; the
witness that cosigned the first refuses to cosign the second; a client that sees only the second
finds no cosignature by the witness on it and refuses it too."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from server_support import Server, Store, build_store, envelope, request, serving
from witness_support import chainproof, witness_key

from chainproof.log.note import parse_vkey, verify_checkpoint
from chainproof.witness.cosignature import CosignatureSigner


class _Forward(BaseHTTPRequestHandler):
    server: Proxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        # The Host header goes through as the client sent it (as a reverse proxy forwards it): a
        # signed request covers the URL it was sent to.
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
        answer = httpx.request(self.command, self.server.target + self.path, content=body, headers=headers)
        self.send_response(answer.status_code)
        self.send_header("content-type", answer.headers.get("content-type", "application/json"))
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, format: str, *args: object) -> None:
        return


class Proxy(ThreadingHTTPServer):
    """One loopback address in front of whichever server `target` names."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target = target
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class World:
    a: Server
    b: Server
    proxy: Proxy
    alice: Store
    key_file: Path
    signer: CosignatureSigner
    work: Path


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = build_store(tmp_path / "a" / "store", tmp_path)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the same keys and origin, the same history so far
    key_file, signer = witness_key(tmp_path, "witness.test/w1")
    vkey = signer.verifier.vkey
    with (
        serving(store.directory, "--witness", vkey, work=tmp_path / "a") as a,
        serving(tmp_path / "b" / "store", "--witness", vkey, work=tmp_path / "b") as b,
    ):
        proxy = Proxy(a.url)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            yield World(a, b, proxy, store, key_file, signer, tmp_path)
        finally:
            proxy.shutdown()
            proxy.server_close()


def _append(server: Server, store: Store, count: int, tag: str) -> None:
    alice = store.keys["alice"]
    for n in range(count):
        r = request(server.url, "POST", "/v1/log/entries", alice, body=envelope(alice, n, tag=tag))
        assert r.status_code == 200, r.text


def _witness_check(w: World) -> tuple[int, dict[str, object]]:
    done = chainproof(
        "witness", "check", "--log", w.proxy.url, "--state", str(w.work / "witness"),
        "--key", str(w.key_file), "--name", w.signer.name, "--json", home=w.work / "home",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _monitor(w: World, state: str) -> tuple[int, dict[str, object], str]:
    args = [
        "audit", "--remote", w.proxy.url, "--state", str(w.work / state),
        "--witness", w.signer.verifier.vkey, "--quorum", "1",
    ]  # fmt: skip
    done = chainproof(*args, "--json", home=w.work / "home")
    assert done.returncode in (0, 1), done.stderr
    text = chainproof(*args, home=w.work / "home").stdout if done.returncode else ""
    return done.returncode, json.loads(done.stdout), text


def test_the_monitor_and_the_witness_catch_a_split_view(world: World) -> None:
    w = world
    _append(w.a, w.alice, 2, "a")
    assert _witness_check(w)[0] == 0  # the witness cosigns history A
    code, first, _ = _monitor(w, "client-1")
    assert code == 0, first
    assert first["first_contact"] is True
    assert [c["name"] for c in first["cosignatures"]] == ["witness.test/w1"]  # type: ignore[attr-defined]

    _append(w.a, w.alice, 1, "a-more")
    _append(w.b, w.alice, 4, "b")  # history B: another tree from the copy on
    w.proxy.target = w.b.url  # the same address now shows history B

    code, refused = _witness_check(w)
    assert code == 1
    assert refused["refusal"]["status"] in (409, 422)  # type: ignore[index]
    evidence = refused["evidence"]
    assert evidence["cosigned"] != evidence["offered"]  # type: ignore[index]
    assert "witness.test/w1" not in str(request(w.b.url, "GET", "/v1/log/checkpoint").json()["note"])

    code, report, text = _monitor(w, "client-1")
    assert code == 1
    assert "fork" in [f["kind"] for f in report["findings"]]  # type: ignore[attr-defined]
    remembered, offered = report["evidence"]["remembered"], report["evidence"]["offered"]  # type: ignore[index]
    log_key = parse_vkey(str(request(w.a.url, "GET", "/v1/log").json()["vkey"]))
    one, two = verify_checkpoint(remembered, log_key), verify_checkpoint(offered, log_key)
    assert (one.origin, one.root) != (two.origin, two.root)  # both signed by the log: proof of the fork
    assert one.origin == two.origin
    assert Path(str(report["evidence_file"])).exists()
    assert "MONITOR FAILED" in text
    assert remembered.split("\n")[2] in text  # both checkpoints printed
    assert offered.split("\n")[2] in text

    code, fresh, _ = _monitor(w, "client-2")  # a client that only ever sees history B
    assert code == 1
    assert [f["kind"] for f in fresh["findings"]] == ["quorum"]  # type: ignore[attr-defined]

    w.proxy.target = w.a.url  # history A again: still consistent with what client 1 remembers
    assert _witness_check(w)[0] == 0
    assert _monitor(w, "client-1")[0] == 0
