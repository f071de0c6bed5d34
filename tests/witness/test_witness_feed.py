"""`chainproof witness feed`: a witness reached only through its tlog-witness endpoint (here the
project's own, in this process, as any C2SP witness would be) cosigns a real server's log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_support import Server, Store, build_store, envelope, request, serving
from witness_support import chainproof, checkpoint, witness_key

from chainproof.log.note import parse_checkpoint
from chainproof.witness.http import WitnessHTTPServer, submit
from chainproof.witness.protocol import AddCheckpoint
from chainproof.witness.state import Cosigned, WitnessState
from chainproof.witness.witness import Witness


@dataclass
class Fed:
    server: Server
    store: Store
    witness: Witness
    url: str
    home: Path


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Fed]:
    store = build_store(tmp_path / "store")
    _, signer = witness_key(tmp_path, "witness.test/remote")
    with serving(store.directory, "--witness", signer.verifier.vkey) as server:
        state = WitnessState(tmp_path / "remote-state")
        state.pin(str(request(server.url, "GET", "/v1/log").json()["origin"]), _log_vkey(server))
        witness = Witness(signer, state)
        endpoint = WitnessHTTPServer(witness)
        endpoint.start()
        try:
            yield Fed(server, store, witness, f"http://127.0.0.1:{endpoint.port}", tmp_path / "home")
        finally:
            endpoint.shutdown()
            endpoint.server_close()


def _log_vkey(server: Server) -> str:
    return str(request(server.url, "GET", "/v1/log").json()["vkey"])


def _feed(f: Fed) -> tuple[int, dict[str, object]]:
    done = chainproof(
        "--key", str(f.store.key_file("alice")),  # a registered key signs the hand-in
        "witness", "feed", "--log", f.server.url, "--witness-url", f.url,
        "--witness-vkey", f.witness.vkey, "--json", home=f.home,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _append(f: Fed, n: int, tag: str) -> None:
    alice = f.store.keys["alice"]
    for i in range(n):
        assert request(
            f.server.url, "POST", "/v1/log/entries", alice, body=envelope(alice, i, tag=tag)
        ).is_success


def test_feed_cosigns_and_follows_the_log(fed: Fed) -> None:
    code, first = _feed(fed)
    assert code == 0, first
    served = checkpoint(fed.server)
    assert [c["name"] for c in served["cosignatures"]] == ["witness.test/remote"]  # type: ignore[attr-defined]
    _append(fed, 3, "feed")
    code, second = _feed(fed)
    assert code == 0
    assert int(second["tree_size"]) == int(first["tree_size"]) + 3  # type: ignore[call-overload]


def test_feed_learns_the_witness_size_from_a_409(fed: Fed) -> None:
    note = str(checkpoint(fed.server)["note"])
    submit(fed.url, AddCheckpoint(0, (), note))  # cosigned behind the log's back: its hint is stale
    _append(fed, 2, "ahead")
    code, answer = _feed(fed)
    assert code == 0, answer


def test_a_refusing_witness_fails_the_feed(fed: Fed) -> None:
    cp = parse_checkpoint(str(checkpoint(fed.server)["note"]).rpartition("\n\n")[0] + "\n")
    fed.witness.state.save(Cosigned(cp.origin, cp.size + 100, b"\x09" * 32, "another history\n"))
    code, answer = _feed(fed)
    assert code == 1
    assert answer["ok"] is False
    assert answer["status"] == 409
