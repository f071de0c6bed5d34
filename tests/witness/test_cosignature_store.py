"""The server's cosignature stores, SQLite beside a store directory and PostgreSQL in a log's
database, against one contract; and `Witnessing`'s checks without HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from server_support import build_store, serving
from witness_support import chainproof, checkpoint, witness_key

from chainproof.attest import keys
from chainproof.log.note import Checkpoint, NoteSigner
from chainproof.server.access import Denied
from chainproof.server.cosignatures import (
    CosignatureStore,
    PostgresCosignatures,
    SqliteCosignatures,
    Witnessing,
)
from chainproof.witness.cosignature import CosignatureSigner

BODY_A = Checkpoint("log.test", 5, b"\x01" * 32).body()
BODY_B = Checkpoint("log.test", 9, b"\x02" * 32).body()


def _database(url: str) -> str:
    """A database as a log's leaves it: with the `chainproof` schema (the log makes it)."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS chainproof")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CosignatureStore]:
    if request.param == "sqlite":
        made: CosignatureStore = SqliteCosignatures(tmp_path / "cosignatures.db")
    else:
        made = PostgresCosignatures(_database(request.getfixturevalue("postgres_url")), "log-one")
    try:
        yield made
    finally:
        made.close()


def test_keeps_the_newest_per_witness_and_size(store: CosignatureStore) -> None:
    store.add("w1", 5, BODY_A, 100, "line-a-100\n")
    store.add("w1", 5, BODY_A, 90, "line-a-90\n")  # older: not kept over the newer
    store.add("w2", 5, BODY_A, 95, "line-a-w2\n")
    store.add("w1", 9, BODY_B, 200, "line-b\n")
    assert [(s.witness, s.time, s.line) for s in store.at(5, BODY_A)] == [
        ("w1", 100, "line-a-100\n"),
        ("w2", 95, "line-a-w2\n"),
    ]
    assert store.at(5, BODY_B) == []
    latest = store.latest()
    assert {w: (s.size, s.time) for w, s in latest.items()} == {"w1": (9, 200), "w2": (5, 95)}


def test_postgresql_logs_are_kept_apart(postgres_url: str) -> None:
    _database(postgres_url)
    one, two = PostgresCosignatures(postgres_url, "one"), PostgresCosignatures(postgres_url, "two")
    try:
        one.add("w1", 5, BODY_A, 1, "x\n")
        assert two.at(5, BODY_A) == []
        assert two.latest() == {}
    finally:
        one.close()
        two.close()


def test_witnessing_checks_and_serves(tmp_path: Path) -> None:
    log = NoteSigner("log.test", keys.generate())
    issued = {5: log.sign(BODY_A)}
    w1 = CosignatureSigner("w1.test", keys.generate())
    witnessing = Witnessing(SqliteCosignatures(tmp_path / "c.db"), [w1.verifier])
    try:
        note = issued[5] + w1.cosign(BODY_A, 1234).line()
        assert witnessing.accept(note, "log.test", issued.get) == [
            {"name": "w1.test", "vkey": w1.verifier.vkey, "time": 1234}
        ]
        with pytest.raises(Denied) as elsewhere:  # another origin's checkpoint
            witnessing.accept(note.replace("log.test\n", "other.test\n", 1), "log.test", issued.get)
        assert elsewhere.value.code == "not-issued"
        served = witnessing.served({"tree_size": 5, "note": issued[5]})
        assert served["note"] == note
        assert served["cosignatures"] == [{"name": "w1.test", "vkey": w1.verifier.vkey, "time": 1234}]
        assert witnessing.status(7) == {
            "tree_size": 7,
            "witnesses": [{"name": "w1.test", "vkey": w1.verifier.vkey, "size": 5, "time": 1234}],
        }
    finally:
        witnessing.close()


def test_a_log_without_witnesses_serves_none(tmp_path: Path) -> None:
    witnessing = Witnessing(SqliteCosignatures(tmp_path / "c.db"), [])
    try:
        assert witnessing.served({"tree_size": 1, "note": "n"}) == {
            "tree_size": 1,
            "note": "n",
            "cosignatures": [],
        }
        assert witnessing.status(3) == {"tree_size": 3, "witnesses": []}
    finally:
        witnessing.close()


def test_a_postgresql_log_keeps_its_cosignatures_in_its_database(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "home"))  # the log's local directory
    store = build_store(postgres_url + "#witnessed", tmp_path)
    key_file, signer = witness_key(tmp_path, "witness.test/pg")
    with serving(store.directory, "--witness", signer.verifier.vkey, work=tmp_path) as server:
        done = chainproof(
            "witness", "check", "--log", server.url, "--state", str(tmp_path / "w"), "--key", str(key_file),
            "--name", signer.name, home=tmp_path / "home",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert [c["name"] for c in checkpoint(server)["cosignatures"]] == ["witness.test/pg"]  # type: ignore[attr-defined]
    with psycopg.connect(postgres_url) as db:
        rows = db.execute("SELECT log, witness FROM chainproof.cosignatures").fetchall()
    assert rows == [("witnessed", signer.verifier.vkey)]
