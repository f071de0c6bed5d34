"""Entries in bundles of 256: stores of the earlier row-per-entry format, damaged bundles, limits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from store_support import Built, audit_store, bundle_entries, query, snapshot, sql

from chainproof.errors import StoreError
from chainproof.log import merkle
from chainproof.log.custody import DB_FILE, CustodyLog
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import FORMAT

ROWS_FORMAT = "chainproof-log/1"


def _entries(directory: Path) -> list[bytes]:
    [(count,)] = query(directory, "SELECT count(*) FROM entry_bundles")
    assert isinstance(count, int)
    return [e for k in range(count) for e in bundle_entries(directory, k)]


def _as_rows_format(directory: Path, *, skip: int | None = None) -> None:
    """Turn a store back into the earlier format: one row per entry (without entry `skip`)."""
    rows = [(i, e) for i, e in enumerate(_entries(directory)) if i != skip]
    sql(
        directory,
        [
            ("CREATE TABLE entries (idx INTEGER PRIMARY KEY, body BLOB NOT NULL)", ()),
            *[("INSERT INTO entries (idx, body) VALUES (?, ?)", row) for row in rows],
            ("DROP TABLE entry_bundles", ()),
            ("UPDATE meta SET value = ? WHERE key = 'format'", (ROWS_FORMAT,)),
        ],
    )


@pytest.fixture
def three_bundles(make_log: Callable[..., Built]) -> Built:
    """2 + 600 entries: two full bundles and a partial third."""
    built = make_log([300, 300])
    built.log.close()
    return built


def test_a_store_of_the_row_format_is_converted_when_opened(three_bundles: Built) -> None:
    directory = three_bundles.log.directory
    entries = _entries(directory)
    assert len(entries) == 602
    _as_rows_format(directory)
    log = CustodyLog.open(directory)
    try:
        assert query(directory, "SELECT value FROM meta WHERE key = 'format'") == [(FORMAT,)]
        assert query(directory, "SELECT name FROM sqlite_master WHERE name = 'entries'") == []
        assert query(directory, "SELECT idx, width FROM entry_bundles") == [(0, 256), (1, 256), (2, 90)]
        assert log.size() == 602
        assert log.entry(601) == entries[601]
        assert audit_store(directory, three_bundles.vkey).ok
    finally:
        log.close()
    assert _entries(directory) == entries


def test_a_store_of_the_row_format_with_a_missing_row_is_left_as_it_was(three_bundles: Built) -> None:
    directory = three_bundles.log.directory
    _as_rows_format(directory, skip=300)
    before = query(directory, "SELECT idx, body FROM entries ORDER BY idx")
    with pytest.raises(StoreError, match="entry 300 is missing, so the store cannot be converted"):
        CustodyLog.open(directory)
    assert query(directory, "SELECT value FROM meta WHERE key = 'format'") == [(ROWS_FORMAT,)]
    assert query(directory, "SELECT idx, body FROM entries ORDER BY idx") == before
    assert query(directory, "SELECT name FROM sqlite_master WHERE name = 'entry_bundles'") == []


@pytest.mark.parametrize(
    ("change", "params", "message"),
    [
        (
            "UPDATE entry_bundles SET width = 91 WHERE idx = 2",
            (),
            "entry bundle 2 is damaged: 360 bytes of offsets",
        ),
        (
            "UPDATE entry_bundles SET body = CAST(body || x'00' AS BLOB) WHERE idx = 1",
            (),
            "entry bundle 1 is damaged: its entries",
        ),
        ("UPDATE entry_bundles SET ends = ? WHERE idx = 0", (b"\xff" * 1024,), "entry bundle 0 is damaged"),
        ("UPDATE entry_bundles SET ends = 'text' WHERE idx = 0", (), "entry bundle 0 is not stored as bytes"),
        ("UPDATE entry_bundles SET width = 'x' WHERE idx = 2", (), "entry bundle 2 claims 'x' entries"),
        ("UPDATE entry_bundles SET width = 300 WHERE idx = 2", (), "entry bundle 2 claims 300 entries"),
    ],
)
def test_a_damaged_bundle_is_a_store_error(
    three_bundles: Built, change: str, params: tuple[object, ...], message: str
) -> None:
    directory = three_bundles.log.directory
    sql(directory, [(change, params)])
    with pytest.raises(StoreError, match=message):
        audit_store(directory, three_bundles.vkey)


def test_an_append_extends_the_last_bundle_then_starts_new_ones(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_FILE, create=True)
    leaves = [b"leaf %d" % i for i in range(700)]
    try:
        for start, end in ((0, 5), (5, 256), (256, 257), (257, 700)):
            with store.writer() as w:
                assert w.append(leaves[start:end], merkle.leaf_hashes(leaves[start:end])) == start
        with store.reader() as r:
            assert list(r.entries(0, 700)) == leaves
            assert list(r.entries(250, 513)) == leaves[250:513]
            assert [r.entry(i) for i in (0, 255, 256, 699)] == [leaves[i] for i in (0, 255, 256, 699)]
    finally:
        store.close()
    assert query(tmp_path, "SELECT idx, width FROM entry_bundles") == [(0, 256), (1, 256), (2, 188)]


def test_a_bundle_too_large_for_the_database_is_refused_whole(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    assert isinstance(log.store, SqliteStore)
    log.store._db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64 * 1024)
    big = [b"x" * 40_000, b"y" * 40_000]
    with (
        pytest.raises(StoreError, match=r"entries 0 to 9 add up to 8\d,\d{3} bytes"),
        log.store.writer() as w,
    ):
        w.append(big, merkle.leaf_hashes(big))
    assert snapshot(log) == before
