"""The leaf-hash index in `leaf-index.db`: a hint that never changes what `find_leaves` answers.

The index is derived from the level-0 tiles and written without fsync, so it may be missing,
damaged, behind, ahead, or another log's. Whatever state it is in, `find_leaves` must return
exactly the indexes the log holds, and `TransparencyLog.append` must flag exactly the envelopes
already in the log as duplicates.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from store_support import Built, envelope, envelopes, leaf_hashes, query, sql

from chainproof.attest import keys
from chainproof.log import merkle
from chainproof.log import sqlite as sqlite_mod
from chainproof.log.service import TransparencyLog
from chainproof.log.sqlite import LEAF_INDEX_FILE, SqliteStore, leaf_key
from chainproof.log.store import append_leaves

SIDE_FILES = (LEAF_INDEX_FILE, f"{LEAF_INDEX_FILE}-wal", f"{LEAF_INDEX_FILE}-shm")


def assert_exact(log: TransparencyLog, absent: int = 5) -> None:
    """find_leaves answers every leaf hash of the log with its index, and nothing else."""
    hashes = leaf_hashes(log)
    assert len(set(hashes)) == len(hashes), "an envelope is in the log twice"
    strangers = [merkle.leaf_hash(b"not in the log %d" % i) for i in range(absent)]
    with log.reading() as r:
        assert r.find_leaves([*hashes, *strangers]) == {h: i for i, h in enumerate(hashes)}
        assert r.find_leaves(strangers) == {}
        if hashes:
            assert r.find_leaves([hashes[-1]]) == {hashes[-1]: len(hashes) - 1}


def assert_dedups(built: Built, log: TransparencyLog, fresh: int) -> None:
    """Re-sent envelopes are duplicates at their index; a new one is appended once."""
    size = log.size()
    sent = envelopes(built.actor, 0, 3)  # build_log's first batch: entries 2, 3, 4
    result = log.append(sent)
    assert [(e.index, e.duplicate) for e in result.entries] == [(2, True), (3, True), (4, True)]
    assert log.size() == size
    new = envelope(built.actor, fresh, "fresh")
    first = log.append([new])
    again = log.append([new])
    assert first.entries[0].index == again.entries[0].index == size
    assert (first.entries[0].duplicate, again.entries[0].duplicate) == (False, True)
    assert_exact(log)


def side_sql(directory: Path, statements: list[tuple[str, tuple[object, ...]]]) -> None:
    db = sqlite3.connect(directory / LEAF_INDEX_FILE)
    try:
        for text, params in statements:
            db.execute(text, params)
        db.commit()
    finally:
        db.close()


def indexed_size(directory: Path, name: str = LEAF_INDEX_FILE) -> int:
    db = sqlite3.connect(directory / name)
    try:
        return int(db.execute("SELECT value FROM state WHERE key = 'indexed_size'").fetchone()[0])
    finally:
        db.close()


def index_rows(directory: Path, name: str = LEAF_INDEX_FILE) -> int:
    db = sqlite3.connect(directory / name)
    try:
        return int(db.execute("SELECT count(*) FROM leaf_keys").fetchone()[0])
    finally:
        db.close()


def reopen(built: Built) -> TransparencyLog:
    built.log.close()
    built.log = TransparencyLog.open(built.log.directory)
    return built.log


# -- the index in normal use -----------------------------------------------------------------


def test_the_index_lives_beside_the_log_and_is_complete(built: Built) -> None:
    directory = built.log.directory
    assert (directory / LEAF_INDEX_FILE).is_file()
    assert query(directory, "SELECT name FROM sqlite_master WHERE name = 'leaf_index'") == []
    assert indexed_size(directory) == built.log.size()
    assert_exact(built.log)
    assert_dedups(built, built.log, 100)


def test_dedup_across_batches_connections_and_processes(built: Built, tmp_path: Path) -> None:
    log = built.log
    assert_dedups(built, log, 100)
    other = TransparencyLog.open(log.directory)
    try:
        new = envelope(built.actor, 200, "other")
        at = other.append([new]).entries[0].index
        assert log.append([new]).entries[0] == other.append([new]).entries[0]
        assert log.append([new]).entries[0].index == at
    finally:
        other.close()
    key_file = tmp_path / "actor.pem"
    keys.write_private(key_file, built.actor)
    child = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from chainproof.attest import keys\n"
        "from chainproof.log.service import TransparencyLog\n"
        "from store_support import envelope\n"
        "log = TransparencyLog.open(Path(sys.argv[1]))\n"
        "actor = keys.read_private(Path(sys.argv[2]))\n"
        "r = log.append([envelope(actor, 200, 'other'), envelope(actor, 300, 'child')])\n"
        "print(json.dumps([[e.index, e.duplicate] for e in r.entries]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", child, str(log.directory), str(key_file)],
        check=True,
        capture_output=True,
        env=env,
    ).stdout
    size = log.size()
    assert json.loads(out) == [[at, True], [size - 1, False]]
    assert log.append([envelope(built.actor, 300, "child")]).entries[0].duplicate
    assert_exact(log)


def test_a_rolled_back_append_leaves_no_false_duplicate(built: Built) -> None:
    log = built.log
    new = envelope(built.actor, 400, "rolled back")
    leaf = new.canonical()

    def append_then_roll_back() -> None:
        with log.store.writer() as w:
            append_leaves(w, [leaf], [merkle.leaf_hash(leaf)])
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        append_then_roll_back()
    assert_exact(log)
    assert not log.append([new]).entries[0].duplicate
    assert_exact(log)


# -- a missing, damaged, foreign or stale side file ------------------------------------------


def _delete(directory: Path) -> None:
    for name in SIDE_FILES:
        (directory / name).unlink(missing_ok=True)


def _truncate(directory: Path) -> None:
    path = directory / LEAF_INDEX_FILE
    os.truncate(path, path.stat().st_size // 2)


def _truncate_to_nothing(directory: Path) -> None:
    os.truncate(directory / LEAF_INDEX_FILE, 0)


def _garbage_header(directory: Path) -> None:
    with (directory / LEAF_INDEX_FILE).open("r+b") as f:
        f.write(b"this is not a database at all" * 4)


def _garbage_pages(directory: Path) -> None:
    path = directory / LEAF_INDEX_FILE
    size = path.stat().st_size
    rng = random.Random(7)
    with path.open("r+b") as f:
        for offset in range(4096, size, 4096):  # every page but the first: the B-trees
            f.seek(offset + 8)
            f.write(rng.randbytes(200))


def _a_text_file(directory: Path) -> None:
    (directory / LEAF_INDEX_FILE).write_text("hello\n" * 1000)


def _foreign_tables(directory: Path) -> None:
    _delete(directory)
    db = sqlite3.connect(directory / LEAF_INDEX_FILE)
    db.execute("CREATE TABLE leaf_index (a TEXT, b TEXT, c TEXT)")
    db.execute("CREATE TABLE state (x)")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "damage",
    [
        _delete,
        _truncate,
        _truncate_to_nothing,
        _garbage_header,
        _garbage_pages,
        _a_text_file,
        _foreign_tables,
    ],
)
def test_a_missing_or_damaged_index_is_rebuilt(
    make_log: Callable[..., Built], damage: Callable[[Path], None]
) -> None:
    built = make_log([40, 300, 7])  # a few tiles of leaves, so the index spans several pages
    directory = built.log.directory
    built.log.close()
    damage(directory)
    log = built.log = TransparencyLog.open(directory)
    assert_exact(log)
    assert_dedups(built, log, 1000)
    log = reopen(built)
    assert_exact(log)
    assert indexed_size(directory) == log.size()


def test_an_index_found_damaged_in_use_is_rebuilt_before_the_next_transaction(
    make_log: Callable[..., Built],
) -> None:
    """Damage the open checks do not see (the schema and the state pages are intact) is found by
    the first lookup: that one falls back to the tiles, and the store rebuilds the index after it."""
    built = make_log([40, 300, 7])
    directory = built.log.directory
    built.log.close()
    path = directory / LEAF_INDEX_FILE
    db = sqlite3.connect(path)
    pages = {
        int(name_page[1])
        for name_page in db.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'")
        if name_page[0] == "state"
    }
    db.close()
    rng = random.Random(8)
    with path.open("r+b") as f:
        for page in range(2, path.stat().st_size // 4096 + 1):  # page 1 is the schema
            if page not in pages:
                f.seek((page - 1) * 4096 + 8)
                f.write(rng.randbytes(200))
    log = built.log = TransparencyLog.open(directory)
    assert_exact(log)
    assert_dedups(built, log, 1000)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    log = reopen(built)
    assert_exact(log)


def test_an_older_copy_of_the_index_catches_up(make_log: Callable[..., Built], tmp_path: Path) -> None:
    built = make_log([5, 9])
    directory = built.log.directory
    built.log.close()
    shutil.copyfile(directory / LEAF_INDEX_FILE, tmp_path / "old-index.db")
    old_size = indexed_size(directory)
    log = built.log = TransparencyLog.open(directory)
    later = envelopes(built.actor, 500, 30, "later")
    log.append(later)
    log.close()
    shutil.copyfile(tmp_path / "old-index.db", directory / LEAF_INDEX_FILE)
    log = built.log = TransparencyLog.open(directory)
    assert indexed_size(directory) == old_size < log.size()
    assert_exact(log)
    result = log.append(later)
    assert all(e.duplicate for e in result.entries)
    assert [e.index for e in result.entries] == list(range(old_size, old_size + 30))
    assert_dedups(built, log, 1000)


def test_another_logs_index_is_not_trusted(make_log: Callable[..., Built]) -> None:
    a = make_log([50, 50], name="a")
    b = make_log([3], name="b")  # another admin and actor key: other envelopes
    a.log.close()
    b.log.close()
    shutil.copyfile(a.log.directory / LEAF_INDEX_FILE, b.log.directory / LEAF_INDEX_FILE)
    log = b.log = TransparencyLog.open(b.log.directory)
    assert_exact(log)
    assert_dedups(b, log, 1000)


def test_stale_rows_never_dedup_another_envelope(built: Built) -> None:
    """Rows at a wrong index, or past the end (left by a lost append), are confirmed or ignored."""
    log = built.log
    directory = log.directory
    size = log.size()
    wrong = envelope(built.actor, 600, "wrong")
    past = envelope(built.actor, 601, "past")
    side_sql(
        directory,
        [
            ("INSERT INTO leaf_keys VALUES (?, ?)", (leaf_key(merkle.leaf_hash(wrong.canonical())), 3)),
            ("INSERT INTO leaf_keys VALUES (?, ?)", (leaf_key(merkle.leaf_hash(past.canonical())), size)),
            ("INSERT INTO leaf_keys VALUES (?, ?)", (leaf_key(merkle.leaf_hash(b"beyond")), size + 5)),
            ("UPDATE state SET value = ? WHERE key = 'indexed_size'", (size + 6,)),
        ],
    )
    assert_exact(log)
    result = log.append([wrong, past])
    assert [(e.index, e.duplicate) for e in result.entries] == [(size, False), (size + 1, False)]
    assert_exact(log)
    log = reopen(built)
    assert_exact(log)
    assert_dedups(built, log, 1000)


def test_an_index_behind_the_log_is_scanned_then_caught_up(make_log: Callable[..., Built]) -> None:
    """What a crash between the log's commit and the index's leaves: rows and mark behind."""
    built = make_log([20, 20, 20])
    log = built.log
    directory = log.directory
    hashes = leaf_hashes(log)
    behind = 30
    side_sql(
        directory,
        [
            *(("DELETE FROM leaf_keys WHERE k = ?", (leaf_key(h),)) for h in hashes[behind:]),
            ("UPDATE state SET value = ? WHERE key = 'indexed_size'", (behind,)),
        ],
    )
    assert_exact(log)  # a reader scans the tail from the tiles
    assert indexed_size(directory) == behind
    assert_dedups(built, log, 1000)  # a writer indexes the tail before it appends
    assert indexed_size(directory) == log.size()
    assert index_rows(directory) == log.size()


def test_a_store_with_its_index_in_the_main_file_is_migrated(make_log: Callable[..., Built]) -> None:
    """A store written before the index moved out: leaf_index in log.db, no side file."""
    built = make_log([10, 4])
    directory = built.log.directory
    hashes = leaf_hashes(built.log)
    built.log.close()
    _delete(directory)
    sql(
        directory,
        [
            ("CREATE TABLE leaf_index (hash BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID", ()),
            *(("INSERT INTO leaf_index VALUES (?, ?)", (h, i)) for i, h in enumerate(hashes)),
            ("DELETE FROM meta WHERE key = 'leaf_index_id'", ()),
        ],
    )
    log = built.log = TransparencyLog.open(directory)
    assert query(directory, "SELECT name FROM sqlite_master WHERE name = 'leaf_index'") == []
    assert (directory / LEAF_INDEX_FILE).is_file()
    assert_exact(log)
    assert_dedups(built, log, 1000)
    log = reopen(built)
    assert_exact(log)


def test_an_index_of_whole_hashes_is_replaced_by_one_of_keys(make_log: Callable[..., Built]) -> None:
    """The side file as earlier versions wrote it (a `leaf_index` table of whole hashes), even one
    whose mark claims it is complete, is started afresh: its rows are not carried over."""
    built = make_log([10, 4])
    directory = built.log.directory
    size = built.log.size()
    hashes = leaf_hashes(built.log)
    built.log.close()
    side_sql(
        directory,
        [
            ("DROP TABLE leaf_keys", ()),
            ("CREATE TABLE leaf_index (hash BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID", ()),
            *(("INSERT INTO leaf_index VALUES (?, ?)", (h, i)) for i, h in enumerate(hashes[:3])),
        ],
    )
    assert indexed_size(directory) == size
    log = built.log = TransparencyLog.open(directory)
    side = sqlite3.connect(directory / LEAF_INDEX_FILE)
    try:
        tables = {name for (name,) in side.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        side.close()
    assert "leaf_index" not in tables
    assert index_rows(directory) == indexed_size(directory) == size
    assert_exact(log)
    assert_dedups(built, log, 1000)


def test_leaf_hashes_that_share_a_key_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a key of one byte, hundreds of leaves share each key (as crafted 8-byte prefixes
    could): every hit is confirmed by its whole hash, and a leaf stored twice answers its first
    index."""
    monkeypatch.setattr(sqlite_mod, "leaf_key", lambda leaf_hash: leaf_hash[0])
    leaves = [b"leaf %d" % i for i in range(3000)]
    stored = [*leaves, *leaves[:50]]
    store = SqliteStore(tmp_path / "keys.db", create=True)
    try:
        for start in range(0, len(stored), 700):
            part = stored[start : start + 700]
            with store.writer() as w:
                w.catch_up()
                append_leaves(w, part, merkle.leaf_hashes(part))
        strangers = [merkle.leaf_hash(b"stranger %d" % i) for i in range(200)]
        with store.reader() as r:
            expected = {merkle.leaf_hash(leaf): i for i, leaf in enumerate(leaves)}
            assert r.find_leaves([*merkle.leaf_hashes(leaves), *strangers]) == expected
    finally:
        store.close()
    assert index_rows(tmp_path, "keys.db.leaf-index") == len(stored)


def test_raw_appends_leave_the_index_to_the_next_writer_that_looks_leaves_up(tmp_path: Path) -> None:
    """Raw leaves are not deduplicated, so their appends skip the index; readers find them from the
    tiles meanwhile, and a writer that looks up indexes them first, then what it appends."""
    leaves = [b"raw leaf %d" % i for i in range(700)]
    hashes = merkle.leaf_hashes(leaves)
    store = SqliteStore(tmp_path / "raw.db", create=True)
    side = tmp_path / "raw.db.leaf-index"
    try:
        for start in (0, 300):
            with store.writer() as w:
                append_leaves(w, leaves[start : start + 300], hashes[start : start + 300])
        assert (indexed_size(tmp_path, side.name), index_rows(tmp_path, side.name)) == (0, 0)
        with store.reader() as r:
            assert r.find_leaves(hashes[:600]) == {h: i for i, h in enumerate(hashes[:600])}
        with store.writer() as w:
            assert w.find_leaves([hashes[5], hashes[650]]) == {hashes[5]: 5}
            append_leaves(w, leaves[600:], hashes[600:])
        assert (indexed_size(tmp_path, side.name), index_rows(tmp_path, side.name)) == (700, 700)
        with store.reader() as r:
            assert r.find_leaves(hashes) == {h: i for i, h in enumerate(hashes)}
    finally:
        store.close()


def test_a_raw_store_under_another_name_keeps_its_own_index(tmp_path: Path) -> None:
    leaves = [b"leaf %d" % i for i in range(600)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    for name, part in (("one.db", leaves[:300]), ("two.db", leaves[300:])):
        store = SqliteStore(tmp_path / name, create=True)
        try:
            with store.writer() as w:
                append_leaves(w, part, [merkle.leaf_hash(leaf) for leaf in part])
            with store.reader() as r:
                assert r.find_leaves(hashes) == {merkle.leaf_hash(leaf): i for i, leaf in enumerate(part)}
        finally:
            store.close()
    assert not (tmp_path / LEAF_INDEX_FILE).exists()


# -- SIGKILL in the middle of appends ----------------------------------------------------------

CHILD = r"""
import json, sys
from pathlib import Path
from chainproof.attest import keys
from chainproof.log.service import TransparencyLog
from store_support import envelope

store, key_file, first = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
actor = keys.read_private(key_file)
log = TransparencyLog.open(store)
for b in range(first, first + 100000):
    # each batch re-sends the previous batch's last envelope: a duplicate whenever it was committed
    batch = [envelope(actor, n, "crash") for n in range(max(0, 5 * b - 1), 5 * b + 5)]
    result = log.append(batch)
    sys.stdout.write(json.dumps([b, [[e.index, e.duplicate] for e in result.entries]]) + "\n")
    sys.stdout.flush()
"""


@pytest.mark.slow
def test_sigkill_during_appends_keeps_dedup_exact(built: Built, tmp_path: Path) -> None:
    rng = random.Random(20240614)
    directory = built.log.directory
    built.log.close()
    key_file = tmp_path / "actor.pem"
    keys.write_private(key_file, built.actor)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
    }
    next_batch = 0
    for round_number in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(key_file), str(next_batch)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        lines: list[bytes] = []
        assert proc.stdout is not None
        pump = threading.Thread(target=lines.extend, args=(proc.stdout,), daemon=True)
        pump.start()
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        pump.join(30)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
        acked = [json.loads(line) for line in lines if line.endswith(b"\n")]
        if acked:
            next_batch = acked[-1][0] + 1
        if round_number % 3 == 2:
            _delete(directory)  # and sometimes the index goes too
        log = TransparencyLog.open(directory)
        try:
            assert_exact(log)
        finally:
            log.close()
    log = built.log = TransparencyLog.open(directory)
    result = log.append([envelope(built.actor, n, "crash") for n in range(5 * next_batch)])
    assert all(e.duplicate for e in result.entries)
    assert_exact(log)


@pytest.mark.parametrize(
    "failure",
    [
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.DatabaseError("database disk image is malformed"),
    ],
)
def test_an_index_that_cannot_be_written_never_fails_an_append(
    built: Built, monkeypatch: pytest.MonkeyPatch, failure: sqlite3.Error
) -> None:
    """The index is written after the log's commit, in a transaction of its own: when that fails,
    the append has succeeded all the same, and lookups scan the tiles until a writer catches up."""
    log = built.log
    directory = log.directory
    real = sqlite_mod._Session.catch_up

    def failing(self: sqlite_mod._Session, since: int | None = None) -> None:
        if since is None:  # a rebuild, after a failure taken for damage
            real(self)
        else:  # what a writer indexes after its commit
            raise failure

    monkeypatch.setattr(sqlite_mod._Session, "catch_up", failing)
    indexed = indexed_size(directory)
    later = envelopes(built.actor, 700, 5, "unindexed")
    result = log.append(later)
    assert [e.duplicate for e in result.entries] == [False] * 5
    assert indexed_size(directory) == indexed < log.size()
    assert all(e.duplicate for e in log.append(later).entries)
    monkeypatch.setattr(sqlite_mod._Session, "catch_up", real)
    log.append(envelopes(built.actor, 800, 1))
    assert indexed_size(directory) == log.size()
    assert_exact(log)
