"""The server on a PostgreSQL log: two server processes appending to one log, a replay across
them, and a PostgreSQL restart during appends. A real PostgreSQL: see tests/pg_support.py."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from server_support import Appenders, Server, Store, assert_kept, build_store, envelope, request, serving

from chainproof.attest import http_signatures as hs
from chainproof.attest import keys
from chainproof.log import location
from chainproof.log.service import TransparencyLog
from pg_support import PostgresServer


@pytest.fixture
def pg_store(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "home"))  # the log's local directory
    return build_store(postgres_url + "#shared", tmp_path)


def _append_from(servers: list[Server], store: Store, workers: int, each: int) -> dict[int, str]:
    """`workers` threads, each appending `each` entries, through the servers in turn; the entries
    acknowledged, by index."""
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()

    def work(w: int) -> None:
        for n in range(each):
            server = servers[(w + n) % len(servers)]
            body = envelope(store.keys["alice"], n, tag=f"w{w}-")
            r = request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body)
            assert r.status_code == 200, r.text
            [e] = r.json()["entries"]
            with lock:
                assert e["index"] not in acknowledged
                acknowledged[e["index"]] = e["leaf_hash"]

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acknowledged


def test_two_servers_on_one_postgresql_log_keep_one_log(pg_store: Store, tmp_path: Path) -> None:
    with (
        serving(pg_store.directory, work=tmp_path) as first,
        serving(pg_store.directory, work=tmp_path) as second,
    ):
        before = int(request(first.url, "GET", "/v1/log").json()["tree_size"])
        acknowledged = _append_from([first, second], pg_store, workers=6, each=20)
        assert len(acknowledged) == 120
        sizes = {int(request(s.url, "GET", "/v1/log").json()["tree_size"]) for s in (first, second)}
        assert sizes == {before + 120}  # nothing else was appended: no refusal, no duplicate
    assert_kept(pg_store.directory, acknowledged, audit=True)


@pytest.mark.parametrize("on_postgres", [True, False], ids=["postgresql", "sqlite"])
def test_a_replay_to_another_worker_process_is_refused(
    pg_store: Store, tmp_path: Path, on_postgres: bool
) -> None:
    """Worker processes share one port, so one signed request can reach each of them: the nonce
    store they share (the log's database, or a file beside the store) refuses it after the first."""
    store = pg_store if on_postgres else build_store(tmp_path / "local" / "store")
    with serving(store.directory, "--workers", "3", work=tmp_path) as server:
        target = server.url + "/v1/log/checkpoint"
        headers = hs.sign_request("GET", target, {}, b"", store.keys["carol"])
        codes = []
        for _ in range(12):  # a new connection each time: the kernel spreads them over the workers
            r = httpx.get(target, headers=headers)
            codes.append((r.status_code, r.json().get("code")))
        assert codes[0][0] == 200
        assert set(codes[1:]) == {(401, "replayed")}


def test_a_postgresql_restart_during_appends_loses_nothing_acknowledged(
    pg_store: Store, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    with (
        serving(pg_store.directory, work=tmp_path) as server,
        Appenders(server, pg_store, workers=4) as appends,
    ):
        appends.wait_for(40)
        postgres_server.restart()
        appends.wait_for(len(appends.acknowledged) + 40)  # it appends again after the restart
        appends.stop()
        assert request(server.url, "GET", "/readyz").status_code == 200
    assert set(appends.statuses) <= {200, 503}  # the store, never the request, while it restarted
    assert_kept(pg_store.directory, appends.acknowledged, audit=True)


def test_a_second_host_serves_the_log_with_keys_given(
    pg_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another host has none of the log's local directory: it is given the checkpoint key and a
    registered key of its own, and serves the same log."""
    signer = location.local_directory(str(pg_store.directory)) / "log-signer.pem"
    own = keys.generate()
    keys.write_private(tmp_path / "host2-server.pem", own)
    log = TransparencyLog.open(pg_store.directory)
    try:
        log.register_key("server-host2", own)
    finally:
        log.close()
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "host2"))  # an empty home: another host
    monkeypatch.setenv("CHAINPROOF_KEY", str(tmp_path / "host2-server.pem"))  # the global --key
    with serving(pg_store.directory, "--checkpoint-key", str(signer), work=tmp_path) as server:
        acknowledged = _append_from([server], pg_store, workers=2, each=5)
        assert len(acknowledged) == 10
        refused = request(server.url, "POST", "/v1/log/entries", body=envelope(pg_store.keys["alice"], 99))
        assert refused.status_code == 401
    assert not list((tmp_path / "host2" / "stores").glob("*/log-signer.pem"))  # never copied there
    assert_kept(pg_store.directory, acknowledged, audit=True)
