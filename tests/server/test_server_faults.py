"""The server under fault: killed during concurrent appends, rewriting its history, flooded."""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path

import pytest
from server_support import Appenders, assert_kept, build_store, cli, envelope, free_port, request, serving

from chainproof.errors import VerificationError
from chainproof.remote.log import RemoteLog


def test_sigkill_during_concurrent_appends_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    with serving(store.directory) as server, Appenders(server, store) as appends:
        appends.wait_for(200)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    assert_kept(store.directory, appends.acknowledged)
    assert len(appends.acknowledged) >= 200


def test_the_client_catches_a_server_that_rewrites_its_history(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    forked = tmp_path / "forked"
    shutil.copytree(store.directory, forked)
    port = free_port()
    home = tmp_path / "home"
    with serving(store.directory, port=port) as server:
        for n in range(3):
            request(
                server.url,
                "POST",
                "/v1/log/entries",
                store.keys["alice"],
                body=envelope(store.keys["alice"], n),
            )
        remote = RemoteLog(server.url, home=home)
        seen = remote.size()
        remote.close()
    # The same server, the same keys, but another history from the copy on: more entries, not these.
    with serving(forked, port=port) as server:
        for n in range(5):
            body = envelope(store.keys["alice"], n, tag="other-")
            assert (
                request(server.url, "POST", "/v1/log/entries", store.keys["alice"], body=body).status_code
                == 200
            )
        remote = RemoteLog(server.url, home=home)
        with pytest.raises(VerificationError, match="does not extend the checkpoint seen last"):
            remote.checkpoint()
        remote.close()
        p = cli(server.url, "log", "checkpoint", home=home)
        assert p.returncode == 1
        assert b"does not extend" in p.stderr
    assert seen > 0


def test_a_flood_is_rate_limited(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    with serving(store.directory, "--rate", "1", "--burst", "3") as server:
        codes = [request(server.url, "GET", "/v1/actors", store.keys["carol"]).status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200]
        assert 429 in codes[3:]
        limited = request(server.url, "GET", "/v1/actors", store.keys["carol"])
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate-limited"
        assert int(limited.headers["retry-after"]) >= 1
        # Another signer has a bucket of its own.
        assert request(server.url, "GET", "/v1/actors", store.keys["alice"]).status_code == 200


def test_sigterm_answers_the_requests_in_flight_and_commits_them(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    with serving(store.directory) as server, Appenders(server, store) as appends:
        appends.wait_for(100)
        server.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then raises the signal again: the exit status is the signal's.
        assert server.process.wait(60) in (0, -signal.SIGTERM)
        appends.stop()
        assert "Application shutdown complete" in server.stderr()
        assert "Traceback" not in server.stderr()
    assert set(appends.statuses) <= {200, 503}
    assert_kept(store.directory, appends.acknowledged, audit=True)


def test_a_slow_client_is_cut_off_and_the_server_serves_on(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    with serving(store.directory, "--body-timeout", "1") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            slow.settimeout(10)
            answer = b""
            while b'"message"' not in answer:  # the status line and the body may come apart
                chunk = slow.recv(4096)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"too-slow"' in answer
        assert request(server.url, "GET", "/healthz").status_code == 200


def test_a_private_log_is_read_by_signers_and_its_entries_not_by_contractors(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    with serving(store.directory, "--private") as server:
        bob, carol = store.keys["bob"], store.keys["carol"]
        assert request(server.url, "GET", "/v1/log/checkpoint").status_code == 401
        assert request(server.url, "GET", "/v1/log/checkpoint", bob).status_code == 200
        proof = request(server.url, "GET", "/v1/log/proofs/inclusion", bob, params={"index": 1})
        assert proof.status_code == 200
        for path in ("/v1/log/entries/1", "/v1/log/entries", "/v1/keys"):
            assert request(server.url, "GET", path, bob).status_code == 403, path
            assert request(server.url, "GET", path, carol).status_code == 200, path
