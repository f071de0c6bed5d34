"""Entries in bundles of 256: stores of the earlier row-per-entry format, damaged bundles, limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from store_support import Built, audit_store, bundle_entries, entry_body, envelope, query, sql

from chainproof.errors import StoreError
from chainproof.log import bundles, merkle
from chainproof.log.note import parse_vkey
from chainproof.log.rehash_workers import Jobs
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import FORMAT, append_leaves

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
            ("DROP TABLE large_entries", ()),
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
    log = TransparencyLog.open(directory)
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
        TransparencyLog.open(directory)
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
        (
            "UPDATE entry_bundles SET outside = x'05' WHERE idx = 0",
            (),
            "entry 5 is kept outside but has bytes",
        ),
        ("UPDATE entry_bundles SET outside = 'x' WHERE idx = 1", (), "entry bundle 1 is not stored as bytes"),
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
    # One entry is read from the bundle's body alone: the same damage is found.
    k = int(change.split("idx = ")[1])
    store = SqliteStore(directory / DB_FILE)
    try:
        with store.reader() as r, pytest.raises(StoreError, match=message):
            r.entry(k * bundles.WIDTH + 5)
    finally:
        store.close()


def test_one_entry_is_read_alone_as_the_bundle_holds_it(three_bundles: Built) -> None:
    directory = three_bundles.log.directory
    entries = _entries(directory)
    store = SqliteStore(directory / DB_FILE)
    try:
        with store.reader() as r:
            assert [r.entry(i) for i in range(len(entries))] == entries
            with pytest.raises(StoreError, match=f"entry {len(entries)} is missing from the store"):
                r.entry(len(entries))
            with pytest.raises(StoreError, match="entry 768 is missing from the store"):
                r.entry(800)
    finally:
        store.close()


def test_an_append_extends_the_last_bundle_then_starts_new_ones(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_FILE, create=True)
    leaves = [b"leaf %d" % i for i in range(700)]
    try:
        for start, end in ((0, 5), (5, 256), (256, 257), (257, 700)):
            with store.writer() as w:
                assert append_leaves(w, leaves[start:end], merkle.leaf_hashes(leaves[start:end])) == start
        with store.reader() as r:
            assert list(r.entries(0, 700)) == leaves
            assert list(r.entries(250, 513)) == leaves[250:513]
            assert [r.entry(i) for i in (0, 255, 256, 699)] == [leaves[i] for i in (0, 255, 256, 699)]
    finally:
        store.close()
    assert query(tmp_path, "SELECT idx, width FROM entry_bundles") == [(0, 256), (1, 256), (2, 188)]


def test_large_entries_live_in_rows_of_their_own(tmp_path: Path) -> None:
    """Entries of 64 KiB and more stay out of their bundle: 300 of 70 KB make 21 MB of entries,
    and no bundle's body holds any of it."""
    store = SqliteStore(tmp_path / DB_FILE, create=True)
    leaves = [(b"%05d" % i) * (14_000 if i % 3 else 3) for i in range(300)]  # 70 KB, but every third 15 B
    try:
        for start, end in ((0, 1), (1, 255), (255, 300)):
            with store.writer() as w:
                append_leaves(w, leaves[start:end], merkle.leaf_hashes(leaves[start:end]))
        with store.reader() as r:
            assert list(r.entries(0, 300)) == leaves
            assert [len(chunk) for chunk in r.entry_chunks(0, 300)] == [300]  # under 32 MiB: one chunk
            assert [r.entry(i) for i in (0, 1, 255, 299)] == [leaves[i] for i in (0, 1, 255, 299)]
    finally:
        store.close()
    assert query(tmp_path, "SELECT count(*) FROM large_entries") == [(200,)]
    assert query(tmp_path, "SELECT max(length(body)) FROM entry_bundles") == [(15 * 86,)]


def test_a_large_entry_forged_or_missing_is_found(make_log: Callable[..., Built]) -> None:
    built = make_log([2])
    log, directory = built.log, built.log.directory
    big = envelope(built.actor, 7, "x" * bundles.LARGE)
    index = log.append([big]).entries[0].index
    log.close()
    assert query(directory, "SELECT idx FROM large_entries") == [(index,)]
    body = big.canonical()
    middle = len(body) // 2  # inside the base64 payload
    forged = body[:middle] + (b"A" if body[middle : middle + 1] != b"A" else b"B") + body[middle + 1 :]
    sql(directory, [("UPDATE large_entries SET body = ? WHERE idx = ?", (forged, index))])
    report = audit_store(directory, built.vkey)
    assert report.problems[0].index == index
    sql(directory, [("DELETE FROM large_entries", ())])
    with pytest.raises(StoreError, match=f"entry {index} is missing from the store"):
        audit_store(directory, built.vkey)


def test_a_store_of_the_row_format_keeps_its_large_entries(make_log: Callable[..., Built]) -> None:
    built = make_log([1])
    log = built.log
    log.append([envelope(built.actor, 9, "z" * bundles.LARGE)])
    log.close()
    directory = log.directory
    entries = _entries(directory)
    _as_rows_format(directory)
    TransparencyLog.open(directory).close()
    assert _entries(directory) == entries
    assert query(directory, "SELECT idx FROM large_entries") == [(len(entries) - 1,)]
    assert audit_store(directory, built.vkey).ok


def test_the_parallel_audit_reads_large_entries_too(make_log: Callable[..., Built], runs: list[int]) -> None:
    """Worker processes read their ranges on connections of their own: large entries included."""
    built = make_log([300])
    log = built.log
    large = [envelope(built.actor, 1000 + i, "w" * bundles.LARGE) for i in range(3)]
    first = log.append(large).entries[0].index
    log.append([envelope(built.actor, 2000 + i) for i in range(200)])
    parallel = Jobs(workers=2, span=bundles.WIDTH, min_size=0)
    verifier = parse_vkey(built.vkey)
    assert log.audit(verifier, jobs=parallel).ok
    log.close()
    forged = entry_body(log.directory, first + 1).replace(b'"sig":"', b'"sig":"A', 1)
    sql(log.directory, [("UPDATE large_entries SET body = ? WHERE idx = ?", (forged, first + 1))])
    reopened = TransparencyLog.open(log.directory)
    try:
        report = reopened.audit(verifier, jobs=parallel)
    finally:
        reopened.close()
    assert report.problems[0].index == first + 1
    assert runs == [2, 2]
