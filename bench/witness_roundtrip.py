"""The witness cosigning round trip, over loopback: a real `chainproof serve --witness VKEY` and a
real `chainproof witness serve`. Each round, after one entry is appended (not timed), a feeder
reads the log's checkpoint and a consistency proof from the size the witness cosigned, posts them
to the witness's tlog-witness `add-checkpoint`, hands the cosignature to the log
(`POST /v1/log/cosignatures`), and reads the checkpoint again until it is served with the
cosignature: latency per round, and of its add-checkpoint step alone.

    .venv/bin/python bench/witness_roundtrip.py [--quick]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

import _common as c
from chainproof.attest import http_signatures as hs
from chainproof.attest import keys, signing
from chainproof.attest.statement import Statement, Subject
from chainproof.custody.service import Custody
from chainproof.log.note import parse_checkpoint
from chainproof.log.proofs import ConsistencyProof
from chainproof.log.proofs import parse as parse_proof
from chainproof.log.service import TransparencyLog
from chainproof.witness.cosignature import CosignatureSigner, cosignatures_by, split_note, with_lines
from chainproof.witness.http import submit
from chainproof.witness.protocol import AddCheckpoint

AREA = "witness"
_CLI = [sys.executable, "-m", "chainproof"]


def _store(directory: Path) -> Path:
    """A log with one recorder; its key's file."""
    log = TransparencyLog.create(directory, "bench.example/witnessed")
    custody = Custody(log)
    admin, _ = log.admin_key()
    key = keys.generate()
    keys.write_private(directory.parent / "recorder.pem", key)
    log.register_key("recorder", key)
    custody.add_actor(
        "recorder", role="recorder", organisation="bench", keyid=keys.keyid(key.public_key()), admin=admin
    )
    custody.close()
    return directory.parent / "recorder.pem"


@contextmanager
def _process(args: list[str], work: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    with (work / f"{name}.log").open("w") as err:
        process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "CHAINPROOF_HOME": str(work)},
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT if name == "witness" else signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _append(http: httpx.Client, url: str, key_file: Path, n: int) -> None:
    key = keys.read_private(key_file)
    st = Statement(
        (Subject(f"bench-{n}", {"sha256": f"{n:064x}"}),), "https://chainproof.test/plain/v1", {"n": n}
    )
    body = json.dumps(signing.sign_statement(st, key).to_json_obj()).encode()
    target = url + "/v1/log/entries"
    headers = {"content-type": "application/json"}
    headers |= hs.sign_request("POST", target, headers, body, key)
    http.post(target, content=body, headers=headers).raise_for_status()


def _round(
    http: httpx.Client, url: str, witness_url: str, signer: CosignatureSigner, old: int
) -> tuple[float, float, int]:
    """One round trip; its seconds, the add-checkpoint step's seconds, and the size cosigned."""
    t0 = time.perf_counter()
    note = http.get(url + "/v1/log/checkpoint").json()["note"]
    body = note.rpartition("\n\n")[0] + "\n"
    size = parse_checkpoint(body).size
    proof: tuple[bytes, ...] = ()
    if 0 < old < size:
        got = parse_proof(
            http.get(url + "/v1/log/proofs/consistency", params={"old": old, "new": size}).json()
        )
        assert isinstance(got, ConsistencyProof)
        proof = got.proof
    t1 = time.perf_counter()
    lines = submit(witness_url, AddCheckpoint(old, proof, note), client=http)
    t2 = time.perf_counter()
    target, cosigned = url + "/v1/log/cosignatures", with_lines(note, [x.text for x in lines]).encode()
    headers = {"content-type": "text/plain"}
    headers |= hs.sign_request("POST", target, headers, cosigned, signer.private_key)  # as the witness
    http.post(target, content=cosigned, headers=headers).raise_for_status()
    served = http.get(url + "/v1/log/checkpoint").json()
    served_body, served_lines = split_note(served["note"])
    if served_body != body or not cosignatures_by(served_lines, body, [signer.verifier]):
        raise RuntimeError("the log does not serve the cosignature it was given")
    return time.perf_counter() - t0, t2 - t1, size


def measure(cfg: c.Config) -> list[c.Figure]:
    work = c.fresh_dir("witness")
    key_file = _store(work / "store")
    witness_key = keys.generate()
    keys.write_private(work / "witness.pem", witness_key)
    signer = CosignatureSigner("bench.example/witness", witness_key)
    port = c.free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [
        *_CLI,
        "--store",
        str(work / "store"),
        "serve",
        "--port",
        str(port),
        "--rate",
        "1e6",
        "--burst",
        "1000000",
    ]
    rounds = 50 if cfg.quick else 300
    with _process([*serve, "--witness", signer.verifier.vkey], work, "server"):
        _ready(url)
        witness = [
            *_CLI, "witness", "serve", "--log", url, "--state", str(work / "witness-state"), "--key",
            str(work / "witness.pem"), "--name", signer.name, "--port", "0", "--interval", "86400", "--json",
        ]  # fmt: skip
        with _process(witness, work, "witness") as w, httpx.Client(timeout=30) as http:
            assert w.stdout is not None
            witness_url = json.loads(w.stdout.readline())["listen"]
            c.say(f"witness round trips: {rounds} rounds against {url} and {witness_url}")
            old = 0
            for _ in range(100):  # the witness's own first round cosigns the log as it starts
                row = http.get(url + "/v1/witnesses").json()["witnesses"][0]
                if row["size"] is not None:
                    old = int(row["size"])
                    break
                time.sleep(0.1)
            totals: list[float] = []
            steps: list[float] = []
            began = time.perf_counter()
            for n in range(rounds):
                _append(http, url, key_file, n)
                total, step, old = _round(http, url, witness_url, signer, old)
                totals.append(total)
                steps.append(step)
            spent = time.perf_counter() - began
    return [
        c.Figure(AREA, "cosigning round trip, median", c.quantile(totals, 0.5) * 1000, "ms"),
        c.Figure(AREA, "cosigning round trip, p99", c.quantile(totals, 0.99) * 1000, "ms"),
        c.Figure(
            AREA,
            "add-checkpoint (witness check + cosign + fsync), median",
            c.quantile(steps, 0.5) * 1000,
            "ms",
        ),
        c.Figure(AREA, "rounds/s, with one append each", rounds / spent, "/s", note=f"{rounds} rounds"),
    ]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
