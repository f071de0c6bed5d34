"""The SQLite store: opening errors, transactions, concurrency, and O(log n) reads for proofs."""

from __future__ import annotations

import math
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from store_support import Built, audit_store, envelope, snapshot

from chainproof.errors import StoreError, UsageError
from chainproof.log import merkle, tiles
from chainproof.log import sqlite as sqlite_mod
from chainproof.log.audit import AuditReport, check_tiles
from chainproof.log.merkle import Node
from chainproof.log.service import DB_FILE, TransparencyLog, root_at
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import FORMAT, append_leaves

# -- opening --------------------------------------------------------------------------------


def _open_and_read(directory: Path, vkey: str) -> None:
    """Open a store and read all of it, as `audit` does."""
    audit_store(directory, vkey)


def test_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no chainproof store at .*run `chainproof init` first"):
        TransparencyLog.open(tmp_path / "missing")
    with pytest.raises(StoreError, match="no log database at"):
        SqliteStore(tmp_path / "missing.db")
    (tmp_path / "dir" / DB_FILE).mkdir(parents=True)
    with pytest.raises(StoreError, match="no log database at"):
        TransparencyLog.open(tmp_path / "dir")


def test_a_foreign_file(tmp_path: Path) -> None:
    store = tmp_path / "s"
    store.mkdir()
    (store / DB_FILE).write_bytes(b"this is a text file, not a database\n" * 200)
    with pytest.raises(StoreError, match=r"log\.db is damaged or not a chainproof store") as caught:
        TransparencyLog.open(store)
    assert "\n" not in str(caught.value)


def test_a_foreign_sqlite_database(tmp_path: Path) -> None:
    store = tmp_path / "s"
    store.mkdir()
    db = sqlite3.connect(store / DB_FILE)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"is not a {FORMAT} store"):
        TransparencyLog.open(store)
    db = sqlite3.connect(store / DB_FILE)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('format', 'something-else/9')")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"is not a {FORMAT} store"):
        TransparencyLog.open(store)


def test_a_store_that_was_never_initialised(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DB_FILE, create=True)
    log = TransparencyLog(tmp_path, store)
    try:
        with pytest.raises(StoreError, match="the store has no 'origin'; it was not initialised"):
            _ = log.origin
        with pytest.raises(StoreError, match="has issued no checkpoint"):
            log.checkpoint()
    finally:
        log.close()


@pytest.mark.parametrize("keep", [0, 1, 100, 4096, 8192, "half", "all but one page"])
def test_a_truncated_database(make_log: Callable[..., Built], keep: int | str) -> None:
    built = make_log([5] * 30)  # a few dozen pages
    directory, vkey = built.log.directory, built.vkey
    built.log.close()  # the last connection checkpoints the WAL into log.db and removes it
    assert not (directory / f"{DB_FILE}-wal").exists()
    data = (directory / DB_FILE).read_bytes()
    assert len(data) > 10 * 4096
    length = {"half": len(data) // 2, "all but one page": len(data) - 4096}.get(str(keep), keep)
    assert isinstance(length, int)
    (directory / DB_FILE).write_bytes(data[:length])
    with pytest.raises(StoreError) as caught:
        _open_and_read(directory, vkey)
    message = str(caught.value)
    assert str(directory / DB_FILE) in message
    assert "damaged or not a chainproof store" in message or f"not a {FORMAT} store" in message
    assert "\n" not in message


# -- transactions ---------------------------------------------------------------------------


def test_a_writer_that_fails_writes_nothing(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    leaf = b"raw leaf"

    def write_then_fail() -> None:
        with log.store.writer() as w:
            append_leaves(w, [leaf], [merkle.leaf_hash(leaf)])
            w.add_checkpoint(999, "note")
            assert w.size() == before[0] + 1  # type: ignore[operator]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert snapshot(log) == before
    log.append([envelope(built.actor, 77)])
    assert log.size() == before[0] + 1  # type: ignore[operator]


def test_a_database_error_in_a_writer_is_a_store_error_and_rolls_back(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    no_note: str = None  # type: ignore[assignment]  # violates NOT NULL on checkpoints.note

    def write_twice() -> None:
        with log.store.writer() as w:
            append_leaves(w, [b"fresh"], [merkle.leaf_hash(b"fresh")])
            w.add_checkpoint(w.size(), no_note)

    with pytest.raises(StoreError, match=str(log.directory / DB_FILE)):
        write_twice()
    assert snapshot(log) == before


def test_a_database_error_in_a_reader_is_a_store_error_and_ends_the_read(built: Built) -> None:
    size = built.log.size()
    foreign = sqlite3.connect(built.log.directory / DB_FILE)
    foreign.execute("ALTER TABLE tiles RENAME TO tiles_elsewhere")
    foreign.commit()
    foreign.close()
    log = TransparencyLog.open(built.log.directory)  # with no tiles in memory yet
    try:
        with pytest.raises(StoreError, match="no such table: tiles") as caught:
            log.prove(size - 1)
        assert str(log.directory / DB_FILE) in str(caught.value)
        assert log.size() == size  # the failed read ended its transaction: the next one runs
    finally:
        log.close()


def test_a_reader_inside_a_reader_shares_its_snapshot(built: Built) -> None:
    reader = TransparencyLog.open(built.log.directory)
    try:
        with reader.reading() as r:
            size = r.size()
            built.log.append([envelope(built.actor, 87)])  # another connection commits meanwhile
            assert (reader.origin, reader.size()) == (built.log.origin, size)  # each opens a reader
            assert reader.prove(size - 1).tree_size == size
            assert r.size() == size  # the inner readers did not end the outer one's transaction
        assert reader.size() == size + 1
    finally:
        reader.close()


def test_a_transaction_inside_a_write_is_refused_and_the_store_stays_usable(built: Built) -> None:
    store = built.log.store
    size = built.log.size()
    read_refused = "a read cannot begin inside this store's write transaction"
    write_refused = "a write cannot begin inside another transaction"
    with pytest.raises(StoreError, match=read_refused), store.writer():
        built.log.prove(0)
    with store.writer() as w:
        w.set_meta("note", "committed")
        with pytest.raises(StoreError, match=write_refused), store.writer():
            pass
    with pytest.raises(StoreError, match=write_refused), built.log.reading():
        built.log.append([envelope(built.actor, 86)])
    with store.reader() as r:
        assert r.meta("note") == "committed"  # the outer write went on after the refusal inside it
    assert built.log.size() == size
    built.log.append([envelope(built.actor, 86)])
    assert built.log.size() == size + 1


def test_a_read_transaction_sees_one_snapshot(built: Built) -> None:
    reader = TransparencyLog.open(built.log.directory)
    try:
        with reader.reading() as r:
            size, note = r.size(), r.checkpoint()
            built.log.append([envelope(built.actor, 88)])  # another connection commits meanwhile
            assert r.size() == size
            assert r.checkpoint() == note
            assert list(r.entries(0, size))[-1] == built.log.entry(size - 1)
        assert reader.size() == size + 1
        assert reader.checkpoint() != note
    finally:
        reader.close()


# -- one writer, many readers -------------------------------------------------------------


@pytest.fixture
def foreign_writer(built: Built) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock, with uncommitted changes."""
    db = sqlite3.connect(built.log.directory / DB_FILE, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM entry_bundles")
    db.execute("DELETE FROM checkpoints")
    yield db
    if db.in_transaction:
        db.execute("ROLLBACK")
    db.close()


def test_readers_work_while_a_writer_holds_the_lock(built: Built, foreign_writer: sqlite3.Connection) -> None:
    directory, vkey = built.log.directory, built.vkey
    expected = snapshot(built.log)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            log = TransparencyLog.open(directory)
            try:
                for _ in range(5):
                    assert snapshot(log) == expected
                    size = log.size()
                    p = log.prove(size // 2)
                    merkle.verify_inclusion(p.index, size, p.leaf_hash, p.proof, p.root_hash)
                assert audit_store(directory, vkey).ok
            finally:
                log.close()
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert foreign_writer.in_transaction


def test_a_second_writer_gets_a_clear_error_after_the_busy_timeout(
    built: Built, foreign_writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_mod, "_BUSY_TIMEOUT_S", 0.3)
    log = TransparencyLog.open(built.log.directory)  # opens with the patched timeout
    try:
        before = snapshot(log)
        started = time.monotonic()
        with pytest.raises(StoreError, match="another writer held the store") as caught:
            log.append([envelope(built.actor, 99)])
        waited = time.monotonic() - started
        assert 0.25 <= waited < 10
        assert str(built.log.directory / DB_FILE) in str(caught.value)
        assert snapshot(log) == before
        foreign_writer.execute("ROLLBACK")
        assert log.append([envelope(built.actor, 99)]).tree_size == before[0] + 1  # type: ignore[operator]
    finally:
        log.close()


def test_a_second_writer_waits_for_the_lock(
    built: Built, foreign_writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_mod, "_BUSY_TIMEOUT_S", 20.0)
    log = TransparencyLog.open(built.log.directory)
    size = log.size()
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(log.append([envelope(built.actor, 123)]))
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            outcome.append(e)

    try:
        t = threading.Thread(target=write)
        started = time.monotonic()
        t.start()
        time.sleep(0.5)
        assert not outcome  # still waiting for the lock
        foreign_writer.execute("ROLLBACK")
        t.join(20)
        assert len(outcome) == 1
        result = outcome[0]
        assert not isinstance(result, BaseException), result
        assert time.monotonic() - started >= 0.5
        assert log.size() == size + 1
        assert audit_store(log.directory, built.vkey).ok
    finally:
        log.close()


# -- O(log n) reads -------------------------------------------------------------------------

BIG = 70_001


@dataclass
class Big:
    path: Path
    hashes: list[bytes]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Big:
    """A store of 70,001 synthetic leaves, written in three appends (so edge tiles were extended)."""
    path = tmp_path_factory.mktemp("big") / DB_FILE
    leaves = [b"synthetic leaf %d" % i for i in range(BIG)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    store = SqliteStore(path, create=True)
    try:
        for start, end in ((0, 1000), (1000, 60_001), (60_001, BIG)):
            with store.writer() as w:
                assert append_leaves(w, leaves[start:end], hashes[start:end]) == start
    finally:
        store.close()
    return Big(path, hashes)


@dataclass
class Traced:
    log: TransparencyLog
    statements: list[str]

    def selects(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]


@pytest.fixture
def traced(big: Big, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    """The big store opened through a connection that records every statement it runs."""
    statements: list[str] = []
    real_connect = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = real_connect(*args, **kwargs)  # type: ignore[call-overload]
        db.set_trace_callback(statements.append)
        return db  # type: ignore[no-any-return]

    monkeypatch.setattr(sqlite_mod.sqlite3, "connect", connect)
    log = TransparencyLog(big.path.parent, SqliteStore(big.path))
    statements.clear()
    yield Traced(log, statements)
    log.close()


def _tile_levels(n: int) -> int:
    return max(1, math.ceil(math.log(n, tiles.WIDTH)))


LOG2 = math.ceil(math.log2(BIG))


@pytest.mark.parametrize("index", [0, 1, 255, 256, 4097, 65_535, 65_536, 69_999, BIG - 1])
def test_an_inclusion_proof_reads_o_log_n_rows(big: Big, traced: Traced, index: int) -> None:
    p = traced.log.prove(index)
    selects = traced.selects()
    tile_reads = [s for s in selects if "FROM tiles" in s]
    # One node lookup (proof, leaf and root together) reads each tile it needs once: at most the
    # tile on the leaf's path and the right-edge tile of each level
    assert len(tile_reads) <= 2 * _tile_levels(BIG)
    assert len(selects) <= LOG2, selects
    assert all("FROM entry_bundles" not in s or "LIMIT 1" in s for s in selects)  # only the size is read
    assert p.leaf_hash == big.hashes[index]
    merkle.verify_inclusion(index, BIG, big.hashes[index], p.proof, merkle.root_of_leaf_hashes(big.hashes))


@pytest.mark.parametrize(
    ("old", "new"), [(1, BIG), (256, BIG), (65_536, BIG), (1000, 60_001), (69_999, 70_000)]
)
def test_a_consistency_proof_reads_o_log_n_rows(big: Big, traced: Traced, old: int, new: int) -> None:
    c = traced.log.consistency(old, new)
    selects = traced.selects()
    assert len([s for s in selects if "FROM tiles" in s]) <= 3 * _tile_levels(BIG)  # two paths and the edge
    assert len(selects) <= LOG2, selects
    merkle.verify_consistency(
        old,
        new,
        merkle.root_of_leaf_hashes(big.hashes[:old]),
        merkle.root_of_leaf_hashes(big.hashes[:new]),
        c.proof,
    )


def test_a_proof_at_a_size_already_read_from_tiles_already_read_runs_no_sql(big: Big, traced: Traced) -> None:
    traced.log.prove(5, BIG)
    traced.statements.clear()
    p = traced.log.prove(6, BIG)  # the same tiles, the same right border, the same root
    assert traced.statements == []
    merkle.verify_inclusion(6, BIG, big.hashes[6], p.proof, merkle.root_of_leaf_hashes(big.hashes))
    traced.log.prove(7, 1000)  # a smaller size needs no size either, only tiles it has not read
    assert not [s for s in traced.statements if "entry_bundles" in s]
    with pytest.raises(UsageError, match=f"tree size {BIG + 1} is larger than the log \\(size {BIG}\\)"):
        traced.log.prove(0, BIG + 1)  # a larger one is checked against the store


def test_an_append_reads_o_log_n_rows(big: Big, traced: Traced) -> None:
    leaf = b"one more"
    counted: list[list[str]] = []

    def append_then_roll_back() -> None:
        with traced.log.store.writer() as w:
            traced.statements.clear()
            assert append_leaves(w, [leaf], [merkle.leaf_hash(leaf)], size=BIG) == BIG
            counted.append(list(traced.statements))
            raise RuntimeError("roll back")  # the store stays as the other tests expect it

    with pytest.raises(RuntimeError, match="roll back"):
        append_then_roll_back()
    [statements] = counted
    reads = [s for s in statements if s.upper().startswith("SELECT")]
    writes = [s for s in statements if s.upper().startswith("INSERT")]
    assert len(reads) <= _tile_levels(BIG) + 2, reads  # the size, the last bundle, each level's edge tile
    assert len(writes) <= 2 + _tile_levels(BIG), writes  # entry, leaf index, one tile per level
    assert traced.log.size() == BIG


def test_node_hashes_read_every_kind_of_node_from_the_tiles(big: Big) -> None:
    """Nodes at every in-tile level, in full and partial tiles, at every tile level, against roots
    computed here from the leaf hashes."""
    rng = random.Random(3)
    nodes = [Node(level, index) for level in range(8, 17) for index in range(BIG >> level)]
    nodes += [Node(level, (BIG >> level) - 1) for level in range(17)]  # the last of each level
    for level in range(8):
        nodes += [Node(level, rng.randrange(BIG >> level)) for _ in range(40)]
    store = SqliteStore(big.path)
    try:
        with store.reader() as r:
            got = r.node_hashes(nodes)
            again = r.node_hashes(nodes)  # now from the tiles the store kept
    finally:
        store.close()
    expected = [merkle.root_of_leaf_hashes(big.hashes[n.begin : n.end]) for n in nodes]
    assert got == expected
    assert again == expected


def _checked_proofs(log: TransparencyLog, hashes: list[bytes], rng: random.Random) -> None:
    """Inclusion and consistency proofs at random sizes up to the log's, checked against roots
    computed here from the leaf hashes."""
    for _ in range(40):
        size = rng.randint(1, len(hashes))
        index = rng.randrange(size)
        p = log.prove(index, size)
        assert p.leaf_hash == hashes[index]
        root = merkle.root_of_leaf_hashes(hashes[:size])
        merkle.verify_inclusion(index, size, hashes[index], p.proof, root)
        old = rng.randint(1, size)
        c = log.consistency(old, size)
        assert c.old_root == merkle.root_of_leaf_hashes(hashes[:old])
        merkle.verify_consistency(old, size, c.old_root, root, c.proof)


def _append_then_roll_back(store: SqliteStore, leaves: list[bytes]) -> None:
    with store.writer() as w:
        append_leaves(w, leaves, merkle.leaf_hashes(leaves))
        root_at(w, w.size())  # as a checkpoint of the append would: the writer reads its own tiles
        raise RuntimeError("roll back")


def test_proofs_from_one_open_store_stay_right_while_it_grows(tmp_path: Path) -> None:
    """The tiles a store keeps from earlier reads serve later proofs only where they are wide
    enough, at older sizes too, and a rolled-back append leaves nothing behind in them."""
    store = SqliteStore(tmp_path / DB_FILE, create=True)
    log = TransparencyLog(tmp_path, store)
    rng = random.Random(7)
    hashes: list[bytes] = []
    for count in (1, 255, 1, 3000, 62_400, 300):
        with pytest.raises(RuntimeError, match="roll back"):
            _append_then_roll_back(store, [b"rolled back %d" % i for i in range(count)])
        leaves = [b"leaf %d" % (len(hashes) + i) for i in range(count)]
        with store.writer() as w:
            append_leaves(w, leaves, merkle.leaf_hashes(leaves))
        hashes += merkle.leaf_hashes(leaves)
        _checked_proofs(log, hashes, rng)
    log.close()


def test_check_tiles_accepts_the_big_tree_and_catches_a_corrupt_upper_tile(big: Big, tmp_path: Path) -> None:
    copy = tmp_path / DB_FILE
    shutil.copyfile(big.path, copy)
    store = SqliteStore(copy)
    try:
        report = AuditReport()
        with store.reader() as r:
            check_tiles(r, BIG, report)
        assert report.ok, report.problems
    finally:
        store.close()
    db = sqlite3.connect(copy)
    width, encoded = db.execute("SELECT width, hashes FROM tiles WHERE level = 1 AND idx = 0").fetchone()
    assert width == tiles.WIDTH
    changed = bytearray(encoded)
    changed[5 * 32] ^= 0x01  # base hash 5 of the level-1 tile: the root of level-0 tile 5
    db.execute("UPDATE tiles SET hashes = ? WHERE level = 1 AND idx = 0", (bytes(changed),))
    db.commit()
    db.close()
    store = SqliteStore(copy)
    try:
        report = AuditReport()
        with store.reader() as r:
            check_tiles(r, BIG, report)
        messages = [p.message for p in report.problems]
        assert "tile 1/0 holds other base hashes than the tiles below" in messages
        # and a proof that uses that node (as the sibling of tile 4) no longer leads to the true root
        log = TransparencyLog(tmp_path, store)
        p = log.prove(4 * tiles.WIDTH + 3)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(
                p.index, BIG, p.leaf_hash, p.proof, merkle.root_of_leaf_hashes(big.hashes)
            )
    finally:
        store.close()
