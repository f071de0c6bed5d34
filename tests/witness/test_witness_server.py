"""A real server with a listed witness: `witness check` cosigns and hands in, the server keeps and
serves the cosignatures, and refuses (and logs) forged, unknown and misplaced ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_support import Server, Store, build_store, envelope, request, serving, wait_for_denial
from witness_support import chainproof, checkpoint, witness_key

from chainproof.attest import keys
from chainproof.log.note import Checkpoint, parse_vkey, verify_checkpoint
from chainproof.witness import cosignature as cs
from chainproof.witness.cosignature import CosignatureSigner


@dataclass
class Setup:
    store: Store
    server: Server
    key_file: Path
    signer: CosignatureSigner
    state: Path
    home: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("witnessed")
    store = build_store(work / "store")
    key_file, signer = witness_key(work, "witness.test/w1")
    with serving(store.directory, "--witness", signer.verifier.vkey) as server:
        yield Setup(store, server, key_file, signer, work / "w1-state", work / "home")


def _check(s: Setup) -> dict[str, object]:
    done = chainproof(
        "witness", "check", "--log", s.server.url, "--state", str(s.state), "--key", str(s.key_file),
        "--name", s.signer.name, "--json", home=s.home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(json.loads(done.stdout))


def _body(note: str) -> str:
    return note.rpartition("\n\n")[0] + "\n"


def test_check_cosigns_and_the_server_serves_it(setup: Setup) -> None:
    first = _check(setup)
    assert first["vkey"] == setup.signer.verifier.vkey
    assert first["handed_in"] == [
        {"name": "witness.test/w1", "vkey": setup.signer.verifier.vkey, "time": first["handed_in"][0]["time"]}  # type: ignore[index]
    ]
    served = checkpoint(setup.server)
    note = str(served["note"])
    assert served["tree_size"] == first["tree_size"]
    log_key = parse_vkey(str(request(setup.server.url, "GET", "/v1/log").json()["vkey"]))
    verify_checkpoint(note, log_key)  # the log's signature still opens the note
    _, lines = cs.split_note(note)
    [(_, cosig)] = cs.cosignatures_by(lines, _body(note), [setup.signer.verifier])
    assert served["cosignatures"] == [
        {"name": "witness.test/w1", "vkey": setup.signer.verifier.vkey, "time": cosig.timestamp}
    ]
    status = request(setup.server.url, "GET", "/v1/witnesses").json()
    assert status == {
        "tree_size": status["tree_size"],
        "witnesses": [
            {
                "name": "witness.test/w1",
                "vkey": setup.signer.verifier.vkey,
                "size": first["tree_size"],
                "time": cosig.timestamp,
            }
        ],
    }


def test_check_follows_the_log_as_it_grows(setup: Setup) -> None:
    before = _check(setup)
    for n in range(3):
        body = envelope(setup.store.keys["alice"], n, tag="grow")
        assert request(
            setup.server.url, "POST", "/v1/log/entries", setup.store.keys["alice"], body=body
        ).is_success
    after = _check(setup)
    assert int(after["tree_size"]) >= int(before["tree_size"]) + 3  # type: ignore[call-overload]
    assert checkpoint(setup.server)["cosignatures"]


def _post(setup: Setup, note: str) -> tuple[int, dict[str, object]]:
    # handed in as a witness does: signed with its cosigning key, which the server lists
    r = request(
        setup.server.url, "POST", "/v1/log/cosignatures", setup.signer.private_key, body=note.encode()
    )
    return r.status_code, dict(r.json())


def _bare(setup: Setup) -> str:
    """The log's latest checkpoint with its own signature only."""
    body, [own, *_] = cs.split_note(str(checkpoint(setup.server)["note"]))
    return body + "\n" + own.text


def test_an_unsigned_or_unknown_hand_in_is_refused(setup: Setup) -> None:
    note = _bare(setup)
    line = setup.signer.cosign(_body(note), 1_800_000_000).line()
    unsigned = request(
        setup.server.url, "POST", "/v1/log/cosignatures", body=cs.with_lines(note, [line]).encode()
    )
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "unsigned")
    stranger = keys.generate()
    unknown = request(
        setup.server.url, "POST", "/v1/log/cosignatures", stranger, body=cs.with_lines(note, [line]).encode()
    )
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unknown-key")
    # a registered actor may hand in a listed witness's cosignature (as `witness feed` does)
    alice = setup.store.keys["alice"]
    relayed = request(
        setup.server.url, "POST", "/v1/log/cosignatures", alice, body=cs.with_lines(note, [line]).encode()
    )
    assert relayed.status_code == 200, relayed.text


def test_a_witness_key_reads_the_log_and_nothing_more(setup: Setup) -> None:
    key = setup.signer.private_key
    assert request(setup.server.url, "GET", "/v1/log/checkpoint", key).status_code == 200
    for path, params in (("/v1/actors", {}), ("/v1/impact", {"actor": "alice"})):
        refused = request(setup.server.url, "GET", path, key, params=params)
        assert (refused.status_code, refused.json()["code"]) == (403, "no-role")
    append = request(setup.server.url, "POST", "/v1/log/entries", key, body=b"{}")
    assert append.status_code == 403


def test_a_forged_cosignature_is_denied_and_logged(setup: Setup) -> None:
    note = _bare(setup)
    real = setup.signer.cosign(_body(note), 1_800_000_000)
    forged = cs.Cosignature(real.name, real.key_hash, real.timestamp + 1, real.signature)
    status, answer = _post(setup, cs.with_lines(note, [forged.line()]))
    assert (status, answer["code"]) == (403, "forged-cosignature")
    wait_for_denial(setup.server, "forged-cosignature", "/v1/log/cosignatures")


def test_an_unknown_witness_is_denied(setup: Setup) -> None:
    note = _bare(setup)
    stranger = CosignatureSigner("witness.test/stranger", keys.generate())
    status, answer = _post(setup, cs.with_lines(note, [stranger.cosign(_body(note), 1_800_000_000).line()]))
    assert (status, answer["code"]) == (403, "unknown-witness")
    wait_for_denial(setup.server, "unknown-witness", "/v1/log/cosignatures")


def test_a_checkpoint_the_log_never_issued_is_denied(setup: Setup) -> None:
    served = checkpoint(setup.server)
    origin, size = str(served["origin"]), int(served["tree_size"])  # type: ignore[call-overload]
    for fake in (Checkpoint(origin, size, b"\x07" * 32), Checkpoint(origin, size + 10, b"\x07" * 32)):
        body = fake.body()
        note = body + "\n" + setup.signer.cosign(body, 1_800_000_000).line()
        status, answer = _post(setup, note)
        assert (status, answer["code"]) == (403, "not-issued")
    wait_for_denial(setup.server, "not-issued", "/v1/log/cosignatures")


def test_an_older_issued_checkpoint_is_kept_but_not_served_as_latest(setup: Setup) -> None:
    served = checkpoint(setup.server)
    body = _body(str(served["note"]))
    line = setup.signer.cosign(body, 1_900_000_000).line()
    status, answer = _post(setup, body + "\n" + line)
    assert status == 200, answer
    assert answer["cosignatures"] == [
        {"name": "witness.test/w1", "vkey": setup.signer.verifier.vkey, "time": 1_900_000_000}
    ]


def test_a_bad_witness_vkey_stops_the_server(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    done = chainproof(
        "--store", str(store.directory), "serve", "--port", "1", "--witness", "w+00000000+AAAA", home=tmp_path
    )
    assert done.returncode == 2
    assert "--witness" in done.stderr
