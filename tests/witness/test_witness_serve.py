"""`chainproof witness serve`: a real witness process beside a real server. Its first round
cosigns the log's checkpoint and hands it in; its tlog-witness endpoint answers add-checkpoint
with cosignatures, and with 409, 422, 403, 404 and 400 as the spec says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from server_support import CHAINPROOF, Server, Store, build_store, envelope, request, serving
from witness_support import checkpoint, witness_key

from chainproof.attest import keys
from chainproof.log.note import Checkpoint, NoteSigner, parse_checkpoint
from chainproof.log.proofs import parse as parse_proof
from chainproof.witness import cosignature as cs
from chainproof.witness.cosignature import CosignatureSigner
from chainproof.witness.http import Refused, submit
from chainproof.witness.protocol import AddCheckpoint


@dataclass
class Running:
    server: Server
    store: Store
    signer: CosignatureSigner
    listen: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("witness-serve")
    store = build_store(work / "store")
    key_file, signer = witness_key(work, "witness.test/served")
    with serving(store.directory, "--witness", signer.verifier.vkey) as server:
        process = subprocess.Popen(
            [
                *CHAINPROOF,
                "witness",
                "serve",
                "--log",
                server.url,
                "--state",
                str(work / "state"),
                "--key",
                str(key_file),
                "--name",
                signer.name,
                "--port",
                "0",
                "--interval",
                "3600",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CHAINPROOF_HOME": str(work / "home")},
        )
        try:
            assert process.stdout is not None
            start = json.loads(process.stdout.readline())
            assert start["vkey"] == signer.verifier.vkey
            yield Running(server, store, signer, str(start["listen"]), process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                stopped = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
            assert stopped == 0, process.stderr.read() if process.stderr else ""  # a clean stop


def _witnessed_size(server: Server) -> int | None:
    for _ in range(300):  # the first round runs as the witness starts
        [row] = request(server.url, "GET", "/v1/witnesses").json()["witnesses"]
        if row["size"] is not None:
            return int(row["size"])
        time.sleep(0.1)
    return None


def test_the_first_round_is_handed_in(running: Running) -> None:
    size = _witnessed_size(running.server)
    assert size is not None
    assert httpx.get(running.listen + "/").json()["vkey"] == running.signer.verifier.vkey


def _request(running: Running, old: int) -> AddCheckpoint:
    note = str(checkpoint(running.server)["note"])
    cp = parse_checkpoint(note.rpartition("\n\n")[0] + "\n")
    proof = ()
    if 0 < old < cp.size:
        got = request(
            running.server.url, "GET", "/v1/log/proofs/consistency", params={"old": old, "new": cp.size}
        )
        proof = parse_proof(got.json()).proof  # type: ignore[union-attr]
    return AddCheckpoint(old, tuple(proof), note)


def test_add_checkpoint_over_http(running: Running) -> None:
    cosigned = _witnessed_size(running.server)
    assert cosigned is not None
    with pytest.raises(Refused) as conflict:
        submit(running.listen, _request(running, 0))
    assert (conflict.value.status, conflict.value.size) == (409, cosigned)

    alice = running.store.keys["alice"]
    for n in range(3):
        r = request(running.server.url, "POST", "/v1/log/entries", alice, body=envelope(alice, n, tag="http"))
        assert r.status_code == 200
    good = _request(running, cosigned)
    bad = AddCheckpoint(good.old_size, (bytes(32), *good.proof[1:]), good.note)
    with pytest.raises(Refused) as unprocessable:
        submit(running.listen, bad)
    assert unprocessable.value.status == 422

    lines = submit(running.listen, good)
    body = good.note.rpartition("\n\n")[0] + "\n"
    [(_, cosig)] = cs.cosignatures_by(lines, body, [running.signer.verifier])
    assert cosig.timestamp > 0


def test_refusals_over_http(running: Running) -> None:
    note = str(checkpoint(running.server)["note"])
    body = note.rpartition("\n\n")[0] + "\n"
    cp = parse_checkpoint(body)
    impostor = NoteSigner(cp.origin, keys.generate()).sign(body)
    with pytest.raises(Refused) as forbidden:
        submit(running.listen, AddCheckpoint(0, (), impostor))
    assert forbidden.value.status == 403
    stranger = NoteSigner("other.test/log", keys.generate())
    with pytest.raises(Refused) as unknown:
        submit(
            running.listen,
            AddCheckpoint(0, (), stranger.sign(Checkpoint("other.test/log", 1, bytes(32)).body())),
        )
    assert unknown.value.status == 404
    answer = httpx.post(running.listen + "/add-checkpoint", content=b"old x\n\nnothing\n")
    assert answer.status_code == 400
