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
import sys
import time
from contextlib import AbstractContextManager
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


def _store(location: Path | str, work: Path | None = None) -> Path:
    """A log with one recorder, `client`; its key's file."""
    directory = work if work is not None else Path(location)
    log = TransparencyLog.create(location, "bench.example/server")
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


def _load(urls: list[str], key_file: Path, kind: str, first: int = 0) -> tuple[float, float, int]:
    """Requests a second, p99 latency (s) and non-200 answers of CLIENTS kept-alive connections
    for SECONDS. The requests are signed beforehand and sent by one asyncio process over raw
    sockets: a client that signs as it sends, in Python, takes the cores the server needs."""
    per = PER_CONNECTION if kind == "append" else PER_CONNECTION * 4
    targets = [urls[n % len(urls)] for n in range(CLIENTS)]  # the connections spread over the servers
    batches = [_requests(u, key_file, kind, first + n * per, per) for n, u in enumerate(targets)]
    done: list[tuple[float, int]] = []

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(int(u.rsplit(":", 1)[1]), b, t0 + SECONDS, done)
                for u, b in zip(targets, batches, strict=True)
            )
        )
        return time.perf_counter() - t0

    spent = asyncio.run(run())
    latencies = [t for t, _ in done]
    return len(done) / spent, c.quantile(latencies, 0.99), sum(1 for _, code in done if code != 200)


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


_SERVE = [sys.executable, "-m", "chainproof"]


def _serving(
    store: str, work: Path, env: dict[str, str], workers: int = 1
) -> AbstractContextManager[tuple[str, int]]:
    c.say(f"starting `chainproof serve --workers {workers}`")
    return c.serving(store, work, "--workers", str(workers), env=env)


def _sqlite(work: Path) -> list[c.Figure]:
    key_file = _store(work / "store")
    with _serving(str(work / "store"), work, {**os.environ}) as (url, _):
        c.say(f"{CLIENTS} clients appending signed single-entry requests for {SECONDS:.0f} s")
        appends, p99, errors = _load([url], key_file, "append")
        c.say(f"{CLIENTS} clients reading inclusion proofs for {SECONDS:.0f} s")
        proofs, proof_p99, proof_errors = _load([url], key_file, "proof")
        c.say(f"{CLIENTS} clients reading inclusion proofs unsigned for {SECONDS:.0f} s")
        public, public_p99, public_errors = _load([url], key_file, "public-proof")
    with _serving(str(work / "store"), work, {**os.environ}, workers=2) as (url, _):
        c.say(f"the same with two server processes (--workers 2), for {SECONDS:.0f} s each")
        appends2, p99_2, errors2 = _load([url], key_file, "append", first=1_000_000)
        proofs2, _, proof_errors2 = _load([url], key_file, "proof")
        public2, _, public_errors2 = _load([url], key_file, "public-proof")
    c.say("the same appends through the library, without HTTP")
    library = _library_appends(key_file, work / "store")
    two = "--workers 2 on this machine's two cores"
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
        c.Figure(AREA, "appends/s, SQLite, --workers 2", appends2, "/s", note=_errors(errors2) or two),
        c.Figure(AREA, "append p99 latency, SQLite, --workers 2", p99_2 * 1000, "ms"),
        c.Figure(AREA, "proof reads/s, unsigned, --workers 2", public2, "/s", note=_errors(public_errors2)),
        c.Figure(AREA, "proof reads/s, signed, --workers 2", proofs2, "/s", note=_errors(proof_errors2)),
        c.Figure(
            AREA,
            "library single-entry appends/s (no HTTP, one caller)",
            library,
            "/s",
            note=f"HTTP costs {library / appends:.2f}x" if appends else "",
        ),
    ]


def _postgres(work: Path) -> list[c.Figure]:
    """One server, then two, on one PostgreSQL log (a throwaway PostgreSQL, as the tests start)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import pg_support  # noqa: PLC0415 -- the tests' throwaway PostgreSQL, found on their path

    bin_dir = pg_support._binaries()
    if bin_dir is None:
        c.say("no PostgreSQL binaries (initdb, pg_ctl): the PostgreSQL figures are skipped")
        return []
    pg = pg_support._started(bin_dir)
    home = work / "home"
    env = {**os.environ, "CHAINPROOF_HOME": str(home)}
    os.environ["CHAINPROOF_HOME"] = str(home)
    try:
        store = pg.new_database() + "#bench"
        key_file = _store(store, work)
        with _serving(store, work, env) as (url, _):
            c.say(f"{CLIENTS} clients appending to one server on PostgreSQL for {SECONDS:.0f} s")
            one, one_p99, one_errors = _load([url], key_file, "append")
            with _serving(store, work, env) as (second, _):
                c.say(f"{CLIENTS} clients appending to two servers on one PostgreSQL log for {SECONDS:.0f} s")
                two, two_p99, two_errors = _load([url, second], key_file, "append", first=1_000_000)
    finally:
        pg.stop()
    return [
        c.Figure(
            AREA, f"appends/s, {CLIENTS} clients, PostgreSQL", one, "/s", 2000, note=_errors(one_errors)
        ),
        c.Figure(AREA, "append p99 latency, PostgreSQL", one_p99 * 1000, "ms", 50, at_most=True),
        c.Figure(AREA, "appends/s, two servers on one PostgreSQL log", two, "/s", note=_errors(two_errors)),
        c.Figure(AREA, "append p99 latency, two servers on PostgreSQL", two_p99 * 1000, "ms"),
    ]


def _soak(work: Path, seconds: float) -> list[c.Figure]:
    """The server's RSS, sampled while 8 clients append and read checkpoints for `seconds`."""
    key_file = _store(work / "soak")
    key = keys.read_private(key_file)
    samples: list[int] = []
    with _serving(str(work / "soak"), work, {**os.environ}) as (url, pid):
        c.say(f"soak: 8 clients for {seconds:.0f} s, the server's RSS sampled every 10 s")
        # Requests are signed as they are sent: a soak outlasts the signatures' time window.

        async def client(n: int, deadline: float) -> None:
            async with httpx.AsyncClient() as http:
                i = 0
                while time.time() < deadline:
                    i += 1
                    body = _envelopes(key_file, 50_000_000 + n * 10_000_000 + i, 1)[0] if i % 2 else b""
                    method, target = (
                        ("POST", url + "/v1/log/entries") if body else ("GET", url + "/v1/log/checkpoint")
                    )
                    headers = {"content-type": "application/json"} | hs.sign_request(
                        method, target, {}, body, key
                    )
                    await http.request(method, target, content=body, headers=headers)
                    await asyncio.sleep(0.05)  # a steady load, some 150 requests a second in all

        async def sampler(deadline: float) -> None:
            while time.time() < deadline:
                samples.append(_rss(pid))
                await asyncio.sleep(10)

        async def run() -> None:
            deadline = time.time() + seconds
            await asyncio.gather(sampler(deadline), *(client(n, deadline) for n in range(8)))

        asyncio.run(run())
    first, last, peak = samples[0] / 1024, samples[-1] / 1024, max(samples) / 1024
    return [
        c.Figure(AREA, f"server RSS after {seconds / 60:.0f} min of load (start {first:.0f} MB)", last, "MB"),
        c.Figure(AREA, "server RSS growth over the soak", last - first, "MB", note=f"peak {peak:.0f} MB"),
    ]


def _rss(pid: int) -> int:
    """A process's resident set in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(cfg: c.Config) -> list[c.Figure]:
    work = c.fresh_dir("server")
    figures = _sqlite(work)
    figures += _postgres(work)
    soak = float(os.environ.get("CHAINPROOF_BENCH_SOAK", "60" if cfg.quick else "600"))
    if soak > 0:
        figures += _soak(work, soak)
    return figures


def _errors(n: int) -> str:
    return f"{n} answers other than 200" if n else ""
