"""Tests of chainproof.server.nonces: the replay stores, alone, shared and against the verifier."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.attest import http_signatures as hs
from chainproof.attest import keys
from chainproof.errors import StoreError, UsageError
from chainproof.server.nonces import MemoryNonces, NonceStore, SqliteNonces

NOW = 1_700_000_000
WINDOW = 300
KEYID = "a" * 64
OTHER = "b" * 64

Store = MemoryNonces | SqliteNonces


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = (
        MemoryNonces(WINDOW) if request.param == "memory" else SqliteNonces(tmp_path / "n.db", WINDOW)
    )
    as_protocol: NonceStore = made  # both satisfy the Protocol the server is written against
    yield made
    as_protocol.close()


def test_a_nonce_is_new_once(store: Store) -> None:
    assert store.remember(KEYID, "n1", NOW, now=NOW) is True
    assert store.remember(KEYID, "n1", NOW, now=NOW) is False
    assert store.remember(KEYID, "n1", NOW + 5, now=NOW + 5) is False  # created plays no part
    assert store.remember(KEYID, "n2", NOW, now=NOW) is True


def test_keyids_are_independent(store: Store) -> None:
    assert store.remember(KEYID, "n", NOW, now=NOW) is True
    assert store.remember(OTHER, "n", NOW, now=NOW) is True
    assert store.remember(OTHER, "n", NOW, now=NOW) is False
    assert store.remember(KEYID, "n", NOW, now=NOW) is False


def test_no_separator_confusion(store: Store) -> None:
    assert store.remember("ab", "c", NOW, now=NOW) is True
    assert store.remember("a", "bc", NOW, now=NOW) is True


def test_pruning_forgets_old_entries_only(store: Store) -> None:
    for created in (NOW - WINDOW - 1, NOW - WINDOW, NOW, NOW + WINDOW):
        assert store.remember(KEYID, str(created), created, now=NOW - 2 * WINDOW)
    assert store.prune(now=NOW + 0.9) == 1  # whole seconds, as the verifier counts them
    assert store.prune(now=NOW) == 0
    for created in (NOW - WINDOW, NOW, NOW + WINDOW):
        assert store.remember(KEYID, str(created), created, now=NOW) is False  # kept
    assert store.remember(KEYID, str(NOW - WINDOW - 1), NOW - WINDOW - 1, now=NOW) is True  # forgotten


def test_remember_prunes_now_and_then_not_every_time(store: Store) -> None:
    assert store.remember(KEYID, "old", NOW - 2 * WINDOW, now=NOW)  # the first call prunes (nothing)
    # Stale, but no prune is due yet: the entry stays.
    assert store.remember(KEYID, "old", NOW - 2 * WINDOW, now=NOW + 1) is False
    # A window later a prune is due, and runs before the nonce is looked up.
    assert store.remember(KEYID, "old", NOW - 2 * WINDOW, now=NOW + WINDOW) is True


def test_a_negative_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        MemoryNonces(-1)
    with pytest.raises(UsageError):
        SqliteNonces(tmp_path / "n.db", -1)


# -- SQLite: shared between instances, threads and processes ---------------------------------------


def test_two_instances_on_one_file_share_their_nonces(tmp_path: Path) -> None:
    first, second = SqliteNonces(tmp_path / "n.db"), SqliteNonces(tmp_path / "n.db")
    try:
        assert first.remember(KEYID, "n", NOW, now=NOW) is True
        assert second.remember(KEYID, "n", NOW, now=NOW) is False
        assert second.remember(KEYID, "m", NOW, now=NOW) is True
        assert first.remember(KEYID, "m", NOW, now=NOW) is False
        assert second.prune(now=NOW + 2 * WINDOW) == 2
        assert first.remember(KEYID, "n", NOW, now=NOW) is True
    finally:
        first.close()
        second.close()


def test_the_file_is_in_wal_mode_and_outlives_the_store(tmp_path: Path) -> None:
    store = SqliteNonces(tmp_path / "n.db")
    store.remember(KEYID, "n", NOW, now=NOW)
    store.close()
    db = sqlite3.connect(tmp_path / "n.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT keyid, nonce, created FROM nonces").fetchall() == [(KEYID, "n", NOW)]
    finally:
        db.close()
    reopened = SqliteNonces(tmp_path / "n.db")
    try:
        assert reopened.remember(KEYID, "n", NOW, now=NOW) is False
    finally:
        reopened.close()


def test_threads_sharing_an_instance_see_each_nonce_new_once(tmp_path: Path) -> None:
    store = SqliteNonces(tmp_path / "n.db")
    nonces = [f"n{i}" for i in range(200)] * 4
    try:
        with ThreadPoolExecutor(4) as pool:
            new = list(pool.map(lambda n: store.remember(KEYID, n, NOW, now=NOW), nonces))
    finally:
        store.close()
    assert sum(new) == 200


def _remember_all(path: str, nonces: list[str]) -> list[str]:
    """In a process of its own: the nonces this process was first to remember."""
    store = SqliteNonces(Path(path))
    try:
        return [n for n in nonces if store.remember(KEYID, n, NOW, now=NOW)]
    finally:
        store.close()


def test_processes_sharing_a_file_see_each_nonce_new_once(tmp_path: Path) -> None:
    path = str(tmp_path / "n.db")
    nonces = [f"n{i}" for i in range(300)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        firsts = pool.starmap(_remember_all, [(path, nonces), (path, nonces[::-1])])
    assert sorted(firsts[0] + firsts[1]) == sorted(nonces)  # each exactly once, by one process


def test_a_closed_store_is_a_store_error(tmp_path: Path) -> None:
    store = SqliteNonces(tmp_path / "n.db")
    store.close()
    with pytest.raises(StoreError):
        store.remember(KEYID, "n", NOW, now=NOW)


def test_an_unopenable_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SqliteNonces(tmp_path / "missing" / "n.db")
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        SqliteNonces(tmp_path / "junk.db")


# -- with the verifier: a forgotten nonce is always an expired signature ---------------------------

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
URL = "https://log.example/v1/entries"


def _instants(low: int, high: int) -> st.SearchStrategy[float]:
    """Seconds in [low, high], whole or not: the edges are where whole and fractional meet."""
    fractions = st.sampled_from([0.0, 0.25, 0.5, 0.999])
    return st.builds(lambda whole, fraction: whole + fraction, st.integers(low, high), fractions)


@settings(max_examples=200, deadline=None)
@given(window=st.integers(0, 5), skew=_instants(-7, 7), later=st.tuples(_instants(0, 12), _instants(0, 3)))
def test_a_replay_is_refused_as_expired_or_replayed(
    window: int, skew: float, later: tuple[float, float]
) -> None:
    """Sign at NOW; verify and remember at NOW + skew; prune at a later time and try the same
    request again later still: either the verifier refuses it, or the store still knows it."""
    headers = hs.sign_request("POST", URL, {}, b"", KEY, now=NOW)
    lookup = {keys.keyid(KEY.public_key()): KEY.public_key()}.get
    first = NOW + skew
    try:
        verified = hs.verify_request("POST", URL, headers, b"", lookup, now=first, window=window)
    except hs.SignatureRejected:
        return  # outside the window from the start
    store = MemoryNonces(window)
    assert store.remember(verified.keyid, verified.nonce, verified.created, now=first)
    pruned_at = first + later[0]
    store.prune(now=pruned_at)
    replay_at = pruned_at + later[1]
    try:
        again = hs.verify_request("POST", URL, headers, b"", lookup, now=replay_at, window=window)
    except hs.SignatureRejected as e:
        refused = e.code
    else:
        refused = (
            "replayed" if not store.remember(again.keyid, again.nonce, again.created, now=replay_at) else ""
        )
    assert refused in {"expired", "replayed"}
