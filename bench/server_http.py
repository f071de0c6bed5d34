"""The server: 32 concurrent clients on loopback appending signed single-entry requests, proof
reads, and the same appends through the library without HTTP, measured in one run.

Clients run in two processes of 16 threads (one process would measure its own GIL), each with a
kept-alive connection; every request is signed (RFC 9421) when it is sent, the envelopes it
carries are signed beforehand. The server runs with its defaults but a rate limit high enough not
to refuse the benchmark.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

import _common as c
from chainproof.attest import dsse, keys, signing
from chainproof.attest import http_signatures as hs
from chainproof.attest.statement import Statement, Subject
from chainproof.custody.service import Custody
from chainproof.log.service import TransparencyLog

AREA = "server"
CLIENTS = 32
PROCESSES = 2
SECONDS = 10.0


def _store(directory: Path) -> Path:
    log = TransparencyLog.create(directory, "bench.example/server")
    custody = Custody(log)
    admin, _ = log.admin_key()
    key = keys.generate()
    keys.write_private(directory / "bench-client.pem", key)
    log.register_key("client", key)
    custody.add_actor(
        "client", role="recorder", organisation="bench", keyid=keys.keyid(key.public_key()), admin=admin
    )
    custody.close()
    return directory / "bench-client.pem"


def _envelopes(key_file: Path, start: int, n: int) -> list[bytes]:
    key = keys.read_private(key_file)
    out = []
    for i in range(start, start + n):
        st = Statement(
            (Subject(f"a{i}", {"sha256": f"{i:064x}"}),), "https://chainproof.dev/bench/v1", {"i": i}
        )
        out.append(json.dumps(signing.sign_statement(st, key).to_json_obj()).encode())
    return out


def _client_process(
    url: str, key_file: str, first: int, threads: int, seconds: float, kind: str, out: str
) -> None:
    key = keys.read_private(Path(key_file))
    bodies = _envelopes(Path(key_file), first, threads * 4000) if kind == "append" else []
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start_at = time.time() + 1.0

    def run(t: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.time() < start_at:
                time.sleep(0.001)
            end = start_at + seconds
            n = 0
            while time.time() < end:
                if kind == "append":
                    method, target, body = "POST", url + "/v1/log/entries", bodies[t * 4000 + n]
                else:
                    method, target, body = "GET", f"{url}/v1/log/proofs/inclusion?index={n % 8}&size=8", b""
                headers = {"content-type": "application/json"}
                headers |= hs.sign_request(method, target, headers, body, key)
                t0 = time.perf_counter()
                r = http.request(method, target, content=body, headers=headers)
                latencies[t].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors[t] += 1
                n += 1

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    Path(out).write_text(
        json.dumps({"latencies": [x for ls in latencies for x in ls], "errors": sum(errors)})
    )


def _load(url: str, key_file: Path, kind: str, work: Path) -> tuple[float, float, int]:
    """Requests a second, p99 latency (s) and errors of CLIENTS clients for SECONDS."""
    ctx = multiprocessing.get_context("spawn")
    per = CLIENTS // PROCESSES
    outs = [work / f"{kind}-{p}.json" for p in range(PROCESSES)]
    procs = [
        ctx.Process(
            target=_client_process,
            args=(url, str(key_file), p * per * 4000, per, SECONDS, kind, str(outs[p])),
        )
        for p in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    results = [json.loads(o.read_text()) for o in outs]
    latencies = [x for r in results for x in r["latencies"]]
    return len(latencies) / SECONDS, c.quantile(latencies, 0.99), sum(r["errors"] for r in results)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _library_appends(key_file: Path, directory: Path) -> float:
    """Single-entry appends through `TransparencyLog.append`, one after another, without HTTP."""
    log = TransparencyLog.open(directory)
    envelopes = [dsse.parse(b) for b in _envelopes(key_file, 10_000_000, 2000)]
    t0 = time.perf_counter()
    for env in envelopes:
        log.append([env])
    spent = time.perf_counter() - t0
    log.close()
    return len(envelopes) / spent


def measure(cfg: c.Config) -> list[c.Figure]:
    work = c.fresh_dir("server")
    key_file = _store(work / "store")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    c.say(f"starting `chainproof serve` on {url}")
    err = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chainproof",
            "--store",
            str(work / "store"),
            "serve",
            "--port",
            str(port),
            "--rate",
            "1000000",
            "--burst",
            "1000000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env={**os.environ},
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        c.say(f"{CLIENTS} clients appending signed single-entry requests for {SECONDS:.0f} s")
        appends, p99, errors = _load(url, key_file, "append", work)
        c.say(f"{CLIENTS} clients reading inclusion proofs for {SECONDS:.0f} s")
        proofs, proof_p99, proof_errors = _load(url, key_file, "proof", work)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        err.close()
    c.say("the same appends through the library, without HTTP")
    library = _library_appends(key_file, work / "store")
    note = f"{errors} errors" if errors else ""
    return [
        c.Figure(AREA, f"appends/s, {CLIENTS} clients, SQLite", appends, "/s", 2000, note=note),
        c.Figure(AREA, "append p99 latency, SQLite", p99 * 1000, "ms", 50, at_most=True),
        c.Figure(
            AREA,
            f"proof reads/s, {CLIENTS} clients",
            proofs,
            "/s",
            5000,
            note=f"{proof_errors} errors" if proof_errors else "",
        ),
        c.Figure(AREA, "proof read p99 latency", proof_p99 * 1000, "ms"),
        c.Figure(
            AREA,
            "library single-entry appends/s (no HTTP, one caller)",
            library,
            "/s",
            note=f"HTTP costs {library / appends:.2f}x" if appends else "",
        ),
    ]
