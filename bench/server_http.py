"""The server: 32 concurrent clients on loopback appending signed single-entry requests, proof
reads, and the same appends through the library without HTTP, measured in one run.

The 32 clients are 32 kept-alive connections of one asyncio process, sending requests signed
(RFC 9421, each with a nonce of its own) and built just before the run, within the server's time
window: the figures are the server's, not those of a client signing as it goes. Proofs are read
twice: unsigned (the log is public, as a witness reads it) and signed. The server runs with its
defaults but a rate limit high enough not to refuse the benchmark.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
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
SECONDS = 10.0
PER_CONNECTION = 400  # requests signed for each connection: more than it sends in SECONDS here


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


def _requests(url: str, key_file: Path, kind: str, first: int, n: int) -> list[bytes]:
    """`n` whole HTTP/1.1 requests, each signed (RFC 9421) with a nonce of its own."""
    key = keys.read_private(key_file)
    host = url.removeprefix("http://")
    bodies = _envelopes(key_file, first, n) if kind == "append" else [b""] * n
    signed = kind != "public-proof"
    out = []
    for i, body in enumerate(bodies):
        if kind == "append":
            method, path = "POST", "/v1/log/entries"
        else:
            method, path = "GET", f"/v1/log/proofs/inclusion?index={i % 8}&size=8"
        headers = {"content-type": "application/json"}
        if signed:
            headers |= hs.sign_request(method, url + path, headers, body, key)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return out


async def _connection(
    port: int, requests: list[bytes], deadline: float, out: list[tuple[float, int]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for raw in requests:
        if time.perf_counter() >= deadline:
            break
        t0 = time.perf_counter()
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        out.append((time.perf_counter() - t0, int(head[9:12])))
    writer.close()


def _load(url: str, key_file: Path, kind: str) -> tuple[float, float, int]:
    """Requests a second, p99 latency (s) and non-200 answers of CLIENTS kept-alive connections
    for SECONDS. The requests are signed beforehand and sent by one asyncio process over raw
    sockets: a client that signs as it sends, in Python, takes the cores the server needs."""
    port = int(url.rsplit(":", 1)[1])
    per = PER_CONNECTION if kind == "append" else PER_CONNECTION * 4
    batches = [_requests(url, key_file, kind, c * per, per) for c in range(CLIENTS)]
    done: list[tuple[float, int]] = []

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_connection(port, b, t0 + SECONDS, done) for b in batches))
        return time.perf_counter() - t0

    spent = asyncio.run(run())
    latencies = [t for t, _ in done]
    return len(done) / spent, c.quantile(latencies, 0.99), sum(1 for _, code in done if code != 200)


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
        appends, p99, errors = _load(url, key_file, "append")
        c.say(f"{CLIENTS} clients reading inclusion proofs for {SECONDS:.0f} s")
        proofs, proof_p99, proof_errors = _load(url, key_file, "proof")
        c.say(f"{CLIENTS} clients reading inclusion proofs unsigned for {SECONDS:.0f} s")
        public, public_p99, public_errors = _load(url, key_file, "public-proof")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        err.close()
    c.say("the same appends through the library, without HTTP")
    library = _library_appends(key_file, work / "store")
    return [
        c.Figure(AREA, f"appends/s, {CLIENTS} clients, SQLite", appends, "/s", 2000, note=_errors(errors)),
        c.Figure(AREA, "append p99 latency, SQLite", p99 * 1000, "ms", 50, at_most=True),
        c.Figure(
            AREA,
            f"proof reads/s, {CLIENTS} clients, unsigned",
            public,
            "/s",
            5000,
            note=_errors(public_errors),
        ),
        c.Figure(AREA, "unsigned proof read p99 latency", public_p99 * 1000, "ms"),
        c.Figure(AREA, f"proof reads/s, {CLIENTS} clients, signed", proofs, "/s", note=_errors(proof_errors)),
        c.Figure(AREA, "signed proof read p99 latency", proof_p99 * 1000, "ms"),
        c.Figure(
            AREA,
            "library single-entry appends/s (no HTTP, one caller)",
            library,
            "/s",
            note=f"HTTP costs {library / appends:.2f}x" if appends else "",
        ),
    ]


def _errors(n: int) -> str:
    return f"{n} answers other than 200" if n else ""
