"""Helpers for the server tests: a store with four actors, a real `chainproof serve` on a free
loopback port, and signed requests made by hand (as any other client would make them)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest import dsse, keys, signing
from chainproof.attest import http_signatures as hs
from chainproof.attest.statement import Statement, Subject
from chainproof.custody import predicates
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody, hop_record
from chainproof.log import merkle
from chainproof.log.note import parse_vkey
from chainproof.log.service import TransparencyLog
from chainproof.server.denials import DENIED
from pg_support import free_port

ORIGIN = "test.example/server"
DATA = Digest("sha256:" + "d1" * 32)
OTHER = Digest("sha256:" + "d2" * 32)
ACTORS = {  # name -> (role, organisation)
    "alice": ("recorder", "lab"),
    "bob": ("contractor", "annotators"),
    "carol": ("auditor", "lab"),
    "victor": ("recorder", "vendor"),
}
CHAINPROOF = [sys.executable, "-m", "chainproof"]


@dataclass
class Store:
    directory: Path | str
    keys: dict[str, Ed25519PrivateKey]
    work: Path

    def key_file(self, name: str) -> Path:
        return self.work / f"{name}.pem"


def build_store(directory: Path | str, work: Path | None = None) -> Store:
    """A store (a directory, or a PostgreSQL log with its key files in `work`) with alice
    (recorder, lab), bob (contractor), carol (auditor) and victor (recorder, vendor); alice
    ingested DATA and OTHER, and granted bob DATA alone."""
    work = work or Path(directory).parent
    log = TransparencyLog.create(directory, ORIGIN)
    custody = Custody(log)
    try:
        admin, _ = log.admin_key()
        made: dict[str, Ed25519PrivateKey] = {"admin": admin}
        for name, (role, organisation) in ACTORS.items():
            key = made[name] = keys.generate()
            keys.write_private(work / f"{name}.pem", key)
            log.register_key(name, key)
            custody.add_actor(
                name, role=role, organisation=organisation, keyid=keys.keyid(key.public_key()), admin=admin
            )
        keys.write_private(work / "admin.pem", admin)
        custody.record(Hop.INGEST, made["alice"], outputs=[DATA, OTHER])
        custody.grant("bob", DATA, purpose="labelling", expires="2999-01-01T00:00:00Z", key=made["alice"])
    finally:
        custody.close()
    return Store(directory, made, work)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_file: Path

    def stderr(self) -> str:
        return self.log_file.read_text(errors="replace")


@contextmanager
def serving(
    store: Path | str, *args: str, port: int | None = None, work: Path | None = None
) -> Iterator[Server]:
    """`chainproof serve` on the store, ready; stopped (SIGTERM) when the block ends. `work` holds
    its log file and CHAINPROOF_HOME (default: beside a store directory)."""
    port = port or free_port()
    work = work or Path(store).parent
    log_file = work / f"server-{port}.log"
    with log_file.open("wb") as err:
        process = subprocess.Popen(
            [*CHAINPROOF, "--store", str(store), "serve", "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "CHAINPROOF_HOME": os.environ.get("CHAINPROOF_HOME") or str(work / "home")},
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_file)
    try:
        wait_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(server: Server) -> None:
    for _ in range(300):
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited {server.process.returncode}: {server.stderr()[-2000:]}")
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server was not ready within 30 s: {server.stderr()[-2000:]}")


def request(
    url: str,
    method: str,
    path: str,
    key: Ed25519PrivateKey | None = None,
    *,
    body: bytes = b"",
    params: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """A request signed by `key` (unsigned without one), as a client other than ours would send it."""
    target = httpx.URL(url + path, params={k: str(v) for k, v in (params or {}).items()})
    sent = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        sent |= hs.sign_request(method, str(target), sent, body, key)
    return httpx.request(method, target, content=body, headers=sent, timeout=30)


def envelope(key: Ed25519PrivateKey, n: int, tag: str = "") -> bytes:
    """A distinct plain statement signed by `key`, as the JSON `log append` takes."""
    name = f"artifact-{tag}{n}"
    st = Statement(
        (Subject(name, {"sha256": f"{n:064x}"}),), "https://chainproof.test/plain/v1", {"n": n, "tag": tag}
    )
    return json.dumps(signing.sign_statement(st, key).to_json_obj()).encode()


def hop_envelope(key: Ed25519PrivateKey, hop: Hop, inputs: tuple[Digest, ...], output: Digest) -> bytes:
    record = hop_record(hop, inputs=inputs, outputs=[] if hop is Hop.ACCESS else [output])
    return json.dumps(signing.sign_statement(predicates.to_statement(record), key).to_json_obj()).encode()


def cli(
    store: str, *args: str, key: Path | None = None, home: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    options = ["--store", store, *(["--key", str(key)] if key else [])]
    return subprocess.run(
        [*CHAINPROOF, *options, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "CHAINPROOF_HOME": str(home)},
        check=False,
    )


class Appenders:
    """`workers` threads appending distinct entries through `server`, signed by alice, until
    `stop`: the entries acknowledged (index -> leaf hash), and every status answered. A thread
    ends at its first connection error (a server stopped or killed under it)."""

    def __init__(self, server: Server, store: Store, workers: int = 8, tag: str = "a") -> None:
        self.acknowledged: dict[int, str] = {}
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(server, store, f"{tag}{w}-")) for w in range(workers)
        ]

    def __enter__(self) -> Appenders:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self, server: Server, store: Store, tag: str) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            body = envelope(store.keys["alice"], n, tag=tag)
            try:
                r = request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body)
            except httpx.HTTPError:
                return
            with self._lock:
                self.statuses.append(r.status_code)
                if r.status_code == 200:
                    [e] = r.json()["entries"]
                    self.acknowledged[e["index"]] = e["leaf_hash"]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, (
                f"only {len(self.acknowledged)} of {count} appends acknowledged"
            )
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def assert_kept(location: Path | str, acknowledged: dict[int, str], *, audit: bool = False) -> None:
    """Every acknowledged entry at its index in the store; with `audit`, the whole log audits clean."""
    log = TransparencyLog.open(location)
    try:
        with log.reading() as r:
            for index, leaf_hash in acknowledged.items():
                assert merkle.leaf_hash(r.entry(index)).hex() == leaf_hash
        if audit:
            assert log.audit(parse_vkey(log.vkey)).ok
    finally:
        log.close()


def denials(server: Server) -> list[dict[str, object]]:
    """The predicates of every denied-request entry the server's log holds, read through its API."""
    found = []
    start: int | None = 0
    while start is not None:
        page = request(server.url, "GET", "/v1/log/entries", params={"start": start, "limit": 1000}).json()
        for item in page["entries"]:
            st = json.loads(dsse.parse(base64.b64decode(item["leaf"])).payload)
            if st["predicateType"] == DENIED:
                found.append(st["predicate"])
        start = page["next"]
    return found


def wait_for_denial(server: Server, code: str, path: str) -> dict[str, object]:
    """The denial of `path` with `code`, once the server's committer has appended it."""
    for _ in range(100):  # the committer appends refusals within a fraction of a second
        for d in denials(server):
            if d["code"] == code and d["path"] == path:
                return d
        time.sleep(0.1)
    raise AssertionError(f"no denial {code} of {path} was appended")
