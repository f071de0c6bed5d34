"""A store opened read-only: readers work and write nothing, not even beside the store; writers are
refused; a store written meanwhile is not reported from a mix of its states.

As root every file is writable, so these tests ask for read-only explicitly; the CLI tests run the
same reads as another user and on a read-only mount."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from store_support import Built, envelopes

from chainproof.errors import StoreError
from chainproof.log import merkle, tiles
from chainproof.log.export import Event
from chainproof.log.note import parse_vkey
from chainproof.log.rehash_workers import Jobs
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.sqlite import SqliteStore


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def closed(built: Built) -> Built:
    """The small log, closed: no writer at work, so no -wal or -shm file."""
    built.log.close()
    assert not (built.log.directory / f"{DB_FILE}-wal").exists()
    return built


@pytest.fixture
def reader(closed: Built) -> Iterator[TransparencyLog]:
    log = TransparencyLog.open(closed.log.directory, read_only=True)
    yield log
    log.close()


def test_every_read_works_and_nothing_is_written(closed: Built, reader: TransparencyLog) -> None:
    directory = closed.log.directory
    before = files(directory)
    expected = TransparencyLog.open(directory)
    try:
        size = expected.size()
        assert reader.size() == size
        assert (reader.origin, reader.vkey, reader.keys()) == (
            expected.origin,
            expected.vkey,
            expected.keys(),
        )
        assert reader.checkpoint() == expected.checkpoint()
        assert reader.entry(size - 1) == expected.entry(size - 1)
        assert reader.prove(3) == expected.prove(3)
        assert reader.consistency(2) == expected.consistency(2)
        leaf = merkle.leaf_hash(expected.entry(4))
        assert reader.prove_leaf(leaf) == expected.prove(4)  # found from the tiles: no index
        with pytest.raises(Exception, match="no entry with leaf hash"):
            reader.prove_leaf(b"\1" * 32)
    finally:
        expected.close()
    report = reader.audit(parse_vkey(closed.vkey))
    assert report.ok, report.problems
    parallel = reader.audit(parse_vkey(closed.vkey), jobs=Jobs(workers=2, span=tiles.WIDTH, min_size=0))
    assert parallel.ok, parallel.problems
    assert files(directory) == before  # before closing: nothing beside the store, not even -shm


def test_a_read_only_store_refuses_writes_with_one_line(closed: Built, reader: TransparencyLog) -> None:
    with pytest.raises(StoreError, match="cannot write the store") as caught:
        reader.append(envelopes(closed.actor, 100, 1))
    assert "\n" not in str(caught.value)
    assert reader.size() == closed.batches[-1][1]


def test_a_store_written_while_it_is_read_without_locks_is_not_reported(
    closed: Built, reader: TransparencyLog
) -> None:
    size = reader.size()
    writer = TransparencyLog.open(closed.log.directory)
    try:
        writer.append(envelopes(closed.actor, 100, 3))
    finally:
        writer.close()  # folds the write-ahead log into log.db
    with pytest.raises(StoreError, match="was written while this user read it"):
        reader.size()
    fresh = TransparencyLog.open(closed.log.directory, read_only=True)
    try:
        assert fresh.size() == size + 3
    finally:
        fresh.close()


def test_a_writer_at_work_is_read_through_its_write_ahead_log(closed: Built) -> None:
    directory = closed.log.directory
    writer = TransparencyLog.open(directory)
    try:
        writer.append(envelopes(closed.actor, 100, 3))  # committed to the -wal file, still open
        assert (directory / f"{DB_FILE}-wal").exists()
        reader = TransparencyLog.open(directory, read_only=True)
        try:
            assert reader.size() == writer.size()
            assert reader.audit(parse_vkey(closed.vkey)).ok
            writer.append(envelopes(closed.actor, 200, 2))
            assert reader.size() == writer.size()  # with a -shm file it sees new commits
        finally:
            reader.close()
    finally:
        writer.close()
    assert not (directory / f"{DB_FILE}-wal").exists()


def test_a_store_left_by_a_killed_writer_without_its_shm_file_says_what_to_do(closed: Built) -> None:
    directory = closed.log.directory
    (directory / f"{DB_FILE}-wal").write_bytes(b"")
    with pytest.raises(StoreError, match="as a user who may write it"):
        SqliteStore(directory / DB_FILE, read_only=True)
    (directory / f"{DB_FILE}-wal").unlink()


def test_a_writable_store_is_opened_for_writing_and_reads_leave_nothing_behind(closed: Built) -> None:
    directory = closed.log.directory
    before = files(directory)
    log = TransparencyLog.open(directory)
    try:
        assert not log.store.read_only  # type: ignore[attr-defined]
        assert log.size() > 0
    finally:
        log.close()
    assert files(directory) == before


def test_an_export_of_a_store_written_meanwhile_is_not_completed(
    closed: Built, reader: TransparencyLog, tmp_path: Path
) -> None:
    def write_meanwhile(events: Iterable[Event], size: int) -> Iterator[Event]:
        writer = TransparencyLog.open(closed.log.directory)
        try:
            writer.append(envelopes(closed.actor, 100, 3))
        finally:
            writer.close()
        yield from events

    with pytest.raises(StoreError, match="was written while this user read it"):
        reader.export(tmp_path / "export.txt", watch=write_meanwhile)
    assert not (tmp_path / "export.txt").exists()
