"""The LogStore contract, one suite over every backend: SQLite, in memory, PostgreSQL.

Each test drives the protocol directly (`store.reader()`, `store.writer()`, `append_leaves`) and
checks what it reads back against `chainproof.log.merkle`, the reference. `Backend.open_again`
gives another handle on the same log, as a second process would have one: a SQLite store or a
PostgreSQL store of its own (its own connections), the very same object in memory. The last tests
run a whole custody log (`TransparencyLog`) on each store.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from store_support import ORIGIN, envelopes

from chainproof.attest import keys
from chainproof.attest.signing import sign_statement
from chainproof.errors import StoreError
from chainproof.log import entries, merkle, tiles
from chainproof.log.memory import MemoryStore
from chainproof.log.note import NoteSigner, parse_vkey, verify_checkpoint
from chainproof.log.postgres import PostgresStore
from chainproof.log.service import ADMIN_FILE, SIGNER_FILE, TransparencyLog, root_at
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import KeyRecord, KeyRole, LogReader, LogStore, append_leaves

BACKENDS = ["sqlite", "memory", "postgres"]


@dataclass
class Backend:
    name: str
    store: LogStore
    open_again: Callable[[], LogStore]
    opened: list[LogStore] = field(default_factory=list)


def _sqlite(tmp_path: Path) -> Backend:
    path = tmp_path / "log.db"
    backend = Backend("sqlite", SqliteStore(path, create=True), lambda: SqliteStore(path))
    return _tracked(backend)


def _memory() -> Backend:
    store = MemoryStore()
    return Backend("memory", store, lambda: store)


def _postgres(url: str) -> Backend:
    return _tracked(Backend("postgres", PostgresStore(url), lambda: PostgresStore(url)))


def _tracked(backend: Backend) -> Backend:
    """Close every handle `open_again` gives at teardown."""
    make = backend.open_again

    def open_again() -> LogStore:
        store = make()
        backend.opened.append(store)
        return store

    backend.open_again = open_again
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        made = _sqlite(tmp_path)
    elif request.param == "memory":
        made = _memory()
    else:
        made = _postgres(request.getfixturevalue("postgres_url"))
    yield made
    for store in [made.store, *made.opened]:
        store.close()


def leaves_for(start: int, count: int, tag: str = "") -> list[bytes]:
    """Distinct leaves of varied lengths; every 97th is large (the SQLite store keeps those outside
    its bundles)."""
    return [
        (b"leaf %s%d " % (tag.encode(), n)) * (1 + n % 5) + (b"x" * 70_000 if n % 97 == 96 else b"")
        for n in range(start, start + count)
    ]


def append(store: LogStore, leaves: Sequence[bytes]) -> int:
    with store.writer() as w:
        return append_leaves(w, leaves, merkle.leaf_hashes(leaves))


def reference_root(hashes: Sequence[bytes], size: int) -> bytes:
    return merkle.root_of_leaf_hashes(hashes[:size])


def interesting_sizes(size: int, rng: random.Random) -> list[int]:
    """Small sizes, both sides of every tile boundary up to `size`, some at random, and `size`."""
    around = [b + d for b in range(tiles.WIDTH, size + 1, tiles.WIDTH) for d in (-1, 0, 1)]
    picked = {*range(1, min(size, 20) + 1), *around, *rng.sample(range(1, size + 1), min(size, 25)), size}
    return sorted(s for s in picked if 0 < s <= size)


def check_tree(reader: LogReader, hashes: Sequence[bytes], sizes: Sequence[int] | None = None) -> None:
    """Every stored tile as the reference computes it in one go, and roots at `sizes` (by default
    `interesting_sizes`)."""
    size = len(hashes)
    assert reader.size() == size
    expected = tiles.extend(0, {}, hashes)
    for level in sorted({t.id.level for t in expected}):
        want = [(t.id.index, t.width, t.encode()) for t in expected if t.id.level == level]
        assert list(reader.tile_level(level)) == want
    assert reader.tiles([t.id for t in expected]) == {t.id: t for t in expected}
    for s in interesting_sizes(size, random.Random(size)) if sizes is None else sizes:
        assert root_at(reader, s) == reference_root(hashes, s), s


# -- metadata, entries, the tree ------------------------------------------------------------------


def test_meta_is_kept_verbatim_and_replaced(backend: Backend) -> None:
    odd_key = 'k\'; DROP TABLE meta; -- %s %(x)s \\ "q" é'
    odd_value = "v'); DELETE FROM entries; -- $1 ? %% \\x00 ☃\n second line"
    with backend.store.reader() as r:
        assert r.meta("origin") is None
    with backend.store.writer() as w:
        w.set_meta("origin", "first")
        w.set_meta(odd_key, odd_value)
        assert w.meta("origin") == "first"  # a writer reads its own writes
        w.set_meta("origin", "second")
    with backend.store.reader() as r:
        assert r.meta("origin") == "second"
        assert r.meta(odd_key) == odd_value
        assert r.meta("missing") is None


def test_entries_come_back_as_appended(backend: Backend) -> None:
    all_leaves: list[bytes] = []
    for count in (1, 254, 1, 300, 2, 700):
        leaves = leaves_for(len(all_leaves), count)
        assert append(backend.store, leaves) == len(all_leaves)
        all_leaves += leaves
    size = len(all_leaves)
    with backend.store.reader() as r:
        assert r.size() == size
        for index in (0, 1, 255, 256, 257, 96, 193, size - 1):
            assert r.entry(index) == all_leaves[index]
        assert list(r.entries(0, size)) == all_leaves
        assert list(r.entries(250, 520)) == all_leaves[250:520]
        assert list(r.entries(7, 7)) == []
        chunks = list(r.entry_chunks(3, size))
        assert all(chunks)
        assert [e for chunk in chunks for e in chunk] == all_leaves[3:]


def test_tiles_and_roots_match_the_reference_at_every_tile_boundary(backend: Backend) -> None:
    hashes: list[bytes] = []
    for count in (1, 2, 252, 1, 1, 255, 256, 1, 600):  # ends at 1369: five level-0 tiles, a sixth partial
        leaves = leaves_for(len(hashes), count)
        append(backend.store, leaves)
        hashes += merkle.leaf_hashes(leaves)
        with backend.store.reader() as r:
            check_tree(r, hashes)


def test_an_append_as_big_as_a_tile_of_tiles_writes_the_level_above(backend: Backend) -> None:
    """One append across the first level-1 tile's completion: 256 * 256 leaves and a few more."""
    leaves = [b"%d" % n for n in range(tiles.WIDTH * tiles.WIDTH + 3)]
    append(backend.store, leaves[:5])
    append(backend.store, leaves[5:])
    hashes = merkle.leaf_hashes(leaves)
    with backend.store.reader() as r:
        check_tree(r, hashes, [1, 5, 255, 256, 257, 65_535, 65_536, 65_537, len(leaves)])
        assert r.tiles([tiles.TileId(2, 0)])[tiles.TileId(2, 0)].width == 1


def test_find_leaves_gives_each_leaf_its_first_index(backend: Backend) -> None:
    leaves = leaves_for(0, 300)
    append(backend.store, leaves)
    append(backend.store, [leaves[10], b"new"])  # raw leaves may repeat: the first index counts
    hashes = merkle.leaf_hashes(leaves)
    absent = merkle.leaf_hash(b"never appended")
    with backend.store.reader() as r:
        found = r.find_leaves([hashes[0], hashes[10], hashes[299], absent, merkle.leaf_hash(b"new")])
        assert r.find_leaves([]) == {}
    assert found == {hashes[0]: 0, hashes[10]: 10, hashes[299]: 299, merkle.leaf_hash(b"new"): 301}
    with backend.store.writer() as w:  # a writer finds what it appended itself
        append_leaves(w, [b"newer"], [merkle.leaf_hash(b"newer")])
        assert w.find_leaves([merkle.leaf_hash(b"newer")]) == {merkle.leaf_hash(b"newer"): 302}


def test_checkpoints_are_kept_by_size(backend: Backend) -> None:
    with backend.store.reader() as r:
        assert r.checkpoint() is None
        assert list(r.checkpoints()) == []
    with backend.store.writer() as w:
        for size in (3, 1, 2):
            w.add_checkpoint(size, f"note at {size}\n'quoted' %s\n")
    with backend.store.writer() as w:
        w.add_checkpoint(2, "note at 2, signed again\n")
    with backend.store.reader() as r:
        assert r.checkpoint() == "note at 3\n'quoted' %s\n"
        assert r.checkpoint(2) == "note at 2, signed again\n"
        assert r.checkpoint(4) is None
        assert [size for size, _ in r.checkpoints()] == [1, 2, 3]


def record(keyid: str, registered_at: int, **changes: object) -> KeyRecord:
    made = KeyRecord(keyid, f"name of {keyid}", keyid.encode() * 2, KeyRole.ACTOR, registered_at)
    return replace(made, **changes)


def test_keys_are_kept_replaced_and_listed_by_registration(backend: Backend) -> None:
    admin = record("ed25519:admin", 0, role=KeyRole.ADMIN, name="o'brien; DROP TABLE keys; --")
    late, early = record("ed25519:late", 9), record("ed25519:early", 4)
    with backend.store.writer() as w:
        for r in (late, admin, early):
            w.put_key(r)
    revoked = record("ed25519:late", 9, revoked_from=11, revoked_at=12)
    with backend.store.writer() as w:
        w.put_key(revoked)
    with backend.store.reader() as r:
        assert r.key("ed25519:admin") == admin
        assert r.key("ed25519:late") == revoked
        assert r.key("ed25519:unknown") is None
        assert r.keys() == [admin, early, revoked]


# -- transactions ---------------------------------------------------------------------------------


def test_a_writer_that_raises_leaves_nothing(backend: Backend) -> None:
    kept = leaves_for(0, 260)
    append(backend.store, kept)
    with backend.store.writer() as w:
        w.set_meta("origin", "kept")
        w.add_checkpoint(260, "kept note")
    gone = leaves_for(260, 300, "gone")

    def write_everything_then_fail() -> None:
        with backend.store.writer() as w:
            append_leaves(w, gone, merkle.leaf_hashes(gone))
            w.set_meta("origin", "gone")
            w.set_meta("other", "gone")
            w.put_key(record("ed25519:gone", 5))
            w.add_checkpoint(560, "gone note")
            assert root_at(w, 560) == reference_root(merkle.leaf_hashes(kept + gone), 560)
            raise RuntimeError("taken back")

    with pytest.raises(RuntimeError, match="taken back"):
        write_everything_then_fail()

    hashes = merkle.leaf_hashes(kept)
    with backend.store.reader() as r:
        check_tree(r, hashes)
        assert r.meta("origin") == "kept"
        assert r.meta("other") is None
        assert r.keys() == []
        assert list(r.checkpoints()) == [(260, "kept note")]
        assert r.find_leaves(merkle.leaf_hashes(gone[:3])) == {}
    again = leaves_for(260, 10, "again")  # the next append starts where the kept ones end
    assert append(backend.store, again) == 260
    with backend.store.reader() as r:
        check_tree(r, hashes + merkle.leaf_hashes(again))


def test_transactions_inside_transactions(backend: Backend) -> None:
    store = backend.store
    append(store, [b"one"])
    with store.writer():
        with pytest.raises(StoreError, match="read cannot begin inside"), store.reader():
            pass
        with pytest.raises(StoreError, match="write cannot begin inside"), store.writer():
            pass
    with store.reader() as outer:
        with pytest.raises(StoreError, match="write cannot begin inside"), store.writer():
            pass
        with store.reader() as inner:
            assert inner.size() == outer.size() == 1
        assert outer.entry(0) == b"one"  # the outer reader is still open
    append(store, [b"two"])  # and every transaction ended: a write begins
    with store.reader() as r:
        assert r.size() == 2


def _in_thread(work: Callable[[], None]) -> None:
    """Run `work` in another thread (this one holds a transaction open) and re-raise its error."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:  # noqa: BLE001 -- handed to the test's thread
            failed.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def test_a_reader_sees_its_snapshot_and_nothing_committed_after_it(backend: Backend) -> None:
    first = leaves_for(0, 300)
    append(backend.store, first)
    later = leaves_for(300, 20, "later")
    other = backend.open_again()
    with backend.store.reader() as r:
        assert r.size() == 300  # the snapshot is taken by then, whatever the store

        def write_meanwhile() -> None:
            append(other, later)
            with other.writer() as w:
                w.set_meta("origin", "later")
                w.add_checkpoint(320, "later note")

        _in_thread(write_meanwhile)
        assert r.size() == 300
        assert r.meta("origin") is None
        assert r.checkpoint() is None
        assert r.find_leaves(merkle.leaf_hashes(later)) == {}
        check_tree(r, merkle.leaf_hashes(first))
        with backend.store.reader() as nested:
            assert nested.size() == 300
    with backend.store.reader() as r:
        assert r.size() == 320
        assert r.meta("origin") == "later"
        check_tree(r, merkle.leaf_hashes(first + later))


def test_concurrent_writers_take_turns_and_build_one_tree(backend: Backend) -> None:
    """Two threads, each on its own handle of the log, append batches at once: every append gets
    indexes no other one got, and the tree is the one its entries make, in their order."""
    handles = [backend.open_again(), backend.open_again()]
    batches = 12
    start = threading.Barrier(len(handles))
    spans: list[tuple[int, int]] = []
    failed: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for b in range(batches):
                leaves = leaves_for(1000 * b, 1 + (37 * b + n) % 60, f"writer {n}: ")
                with handles[n].writer() as w:
                    first = append_leaves(w, leaves, merkle.leaf_hashes(leaves))
                    size = first + len(leaves)
                    w.add_checkpoint(size, root_at(w, size).hex())  # the root this writer saw
                spans.append((first, len(leaves)))
        except BaseException as e:  # noqa: BLE001 -- handed to the test's thread
            failed.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(handles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed

    total = sum(count for _, count in spans)
    assert len(spans) == batches * len(handles)
    covered = sorted(i for first, count in spans for i in range(first, first + count))
    assert covered == list(range(total))  # no index twice, none skipped
    with backend.store.reader() as r:
        stored = list(r.entries(0, r.size()))
        hashes = merkle.leaf_hashes(stored)
        check_tree(r, hashes)
        assert len(set(stored)) == total
        for size, root in r.checkpoints():
            assert root == reference_root(hashes, size).hex(), size


# -- a custody log on each store ------------------------------------------------------------------


def initialise(directory: Path, store: LogStore, origin: str = ORIGIN) -> TransparencyLog:
    """A new custody log on `store`, as `TransparencyLog.create` makes one on SQLite: the keys in
    `directory`, the settings and the genesis entry with its checkpoint in the store."""
    directory.mkdir(exist_ok=True)
    signer = NoteSigner(origin, keys.generate())
    admin = keys.generate()
    keys.write_private(directory / SIGNER_FILE, signer.private_key)
    keys.write_private(directory / ADMIN_FILE, admin)
    log = TransparencyLog(directory, store)
    genesis = entries.genesis_statement(signer.name, signer.verifier.vkey, admin.public_key())
    with store.writer() as w:
        w.set_meta("origin", signer.name)
        w.set_meta("checkpoint_vkey", signer.verifier.vkey)
        w.set_meta("admin_keyid", keys.keyid(admin.public_key()))
        log._append(w, [sign_statement(genesis, admin)], signer)
    return log


def test_a_custody_log_runs_on_the_store(backend: Backend, tmp_path: Path) -> None:
    log = initialise(tmp_path / "keys", backend.store)
    actor = keys.generate()
    log.register_key("alice", actor)
    batch = envelopes(actor, 0, 300)
    result = log.append(batch)
    assert [e.index for e in result.entries] == list(range(2, 302))
    again = log.append([*batch[:2], *envelopes(actor, 300, 1)])  # duplicates are found, not appended
    assert [(e.index, e.duplicate) for e in again.entries] == [(2, True), (3, True), (302, False)]

    verifier = parse_vkey(log.vkey)
    checkpoint = verify_checkpoint(log.checkpoint(), verifier)
    assert checkpoint.size == log.size() == 303
    with log.reading() as r:
        hashes = merkle.leaf_hashes(list(r.entries(0, 303)))
    assert checkpoint.root == reference_root(hashes, 303)
    proof = log.prove(150)
    merkle.verify_inclusion(150, 303, hashes[150], proof.proof, checkpoint.root)
    consistency = log.consistency(2, 303)
    merkle.verify_consistency(2, 303, consistency.old_root, checkpoint.root, consistency.proof)
    assert [k.name for k in log.keys()] == ["admin", "alice"]  # noqa: SIM118 -- a log, not a dict
    report = log.audit(verifier)
    assert report.ok, report.problems
    assert report.tree_size == 303
