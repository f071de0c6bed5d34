"""A store audit re-hashed in worker processes reports exactly what the one-process audit reports.

The parallel path is forced on a small log (ranges of 256 entries, no minimum size), so that range
boundaries fall at every multiple of 256, with checkpoints on some of them and inside ranges, and
ranges 3 to 5 hold no checkpoint (their subtree roots come from the stored tiles when their
entries match). Every case compares the whole report of both paths, on honest and on tampered
stores.
"""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from store_support import Built, build_log, bundle_entries, envelope, query, rewrite_entries, sql

from chainproof.errors import StoreError
from chainproof.log import audit, bundles, merkle, rehash_workers, sqlite, tiles
from chainproof.log.audit import AuditReport
from chainproof.log.note import Checkpoint, parse_vkey, verify_checkpoint
from chainproof.log.rehash import RangeHashes, RangeTask
from chainproof.log.rehash_workers import Jobs, Opener
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.store import LogReader

# 2 + 1574 entries; checkpoints at sizes 1, 2, 256, 356, 512, 513, 1024, 1536 and 1576.
BATCHES = [254, 100, 156, 1, 511, 512, 40]
SIZE = 1576
SERIAL = Jobs(workers=1)
PARALLEL = Jobs(workers=2, span=tiles.WIDTH, min_size=0)
# Range ends and starts, and entries well inside ranges.
EDGES = [0, 1, 255, 256, 511, 512, 767, 768, 1023, 1024, 1279, 1280, 1535, 1536, SIZE - 1]
INSIDE = [100, 300, 600, 900, 1100, 1400, 1560]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = build_log(tmp_path_factory.mktemp("parallel") / "store", BATCHES)
    assert built.log.size() == SIZE
    assert [e for _, e in built.batches] == [1, 2, 256, 356, 512, 513, 1024, 1536, SIZE]
    built.log.close()
    return built


@pytest.fixture
def store(pristine: Built, tmp_path: Path) -> Path:
    return pristine.copy(tmp_path / "store")


def _audit(directory: Path, vkey: str, jobs: Jobs, saved: Checkpoint | None = None) -> AuditReport:
    log = TransparencyLog.open(directory)
    try:
        return log.audit(parse_vkey(vkey), saved=saved, jobs=jobs)
    finally:
        log.close()


def _both(directory: Path, vkey: str, runs: list[int], saved: Checkpoint | None = None) -> AuditReport:
    """The parallel report, once checked equal to the serial one in every field."""
    want = _audit(directory, vkey, SERIAL, saved)
    assert runs == []
    got = _audit(directory, vkey, PARALLEL, saved)
    assert runs == [2], "the parallel path did not run"
    assert got.problems == want.problems
    assert got.problem_count == want.problem_count
    assert (got.tree_size, got.checkpoints, got.origin) == (want.tree_size, want.checkpoints, want.origin)
    assert got.retroactively_revoked == want.retroactively_revoked
    assert got.registry == want.registry
    return got


def _bodies(directory: Path) -> list[bytes]:
    [(count,)] = query(directory, "SELECT count(*) FROM entry_bundles")
    assert isinstance(count, int)
    return [body for k in range(count) for body in bundle_entries(directory, k)]


def _rewrite(directory: Path, bodies: list[bytes], *, tiles_too: bool) -> None:
    """Replace every entry; with `tiles_too`, rebuild the tiles to agree with them (sound tiles)."""
    statements: list[tuple[str, tuple[object, ...]]] = [("DELETE FROM entry_bundles", ())]
    for k in range(0, len(bodies), bundles.WIDTH):
        part = bodies[k : k + bundles.WIDTH]
        row = (k // bundles.WIDTH, len(part), *bundles.encode(part))
        statements.append(
            ("INSERT INTO entry_bundles (idx, width, ends, body, outside) VALUES (?, ?, ?, ?, ?)", row)
        )
    if tiles_too:
        rebuilt = tiles.extend(0, {}, [merkle.leaf_hash(b) for b in bodies])
        statements.append(("DELETE FROM tiles", ()))
        statements += [
            (
                "INSERT INTO tiles (level, idx, width, hashes) VALUES (?, ?, ?, ?)",
                (t.id.level, t.id.index, t.width, t.encode()),
            )
            for t in rebuilt
        ]
    sql(directory, statements)


def test_an_honest_store_passes_both_ways(pristine: Built, store: Path, runs: list[int]) -> None:
    report = _both(store, pristine.vkey, runs)
    assert report.ok, report.problems
    assert (report.tree_size, report.checkpoints) == (SIZE, 9)


@pytest.mark.parametrize("index", EDGES + INSIDE)
def test_a_modified_entry_is_reported_at_its_index(
    pristine: Built, store: Path, runs: list[int], index: int
) -> None:
    bodies = _bodies(store)
    bodies[index] = bodies[index].replace(b'"', b"'", 1)
    _rewrite(store, bodies, tiles_too=False)
    report = _both(store, pristine.vkey, runs)
    assert report.problems[0].index == index
    assert "do not hash to the leaf hash the log committed to" in report.problems[0].message


@pytest.mark.parametrize(
    ("i", "j"), [(255, 256), (511, 512), (300, 301), (100, 900), (1023, 1024), (900, 1400), (1100, SIZE - 1)]
)
def test_swapped_entries_are_reported_at_both_indexes(
    pristine: Built, store: Path, runs: list[int], i: int, j: int
) -> None:
    bodies = _bodies(store)
    bodies[i], bodies[j] = bodies[j], bodies[i]
    _rewrite(store, bodies, tiles_too=False)
    report = _both(store, pristine.vkey, runs)
    assert report.problems[0].index == i
    assert {i, j} <= {p.index for p in report.problems}


@pytest.mark.parametrize("index", [256, 300, 768])
def test_an_entry_taken_out_of_a_full_bundle_is_named_both_ways(
    pristine: Built, store: Path, runs: list[int], index: int
) -> None:
    """A bundle before the last one short of an entry: the store lacks the last of its 256."""
    sql(store, rewrite_entries(store, {index: None}))
    missing = index - index % bundles.WIDTH + bundles.WIDTH - 1
    for jobs in (SERIAL, PARALLEL):
        with pytest.raises(StoreError, match=f"^entry {missing} is missing from the store$"):
            _audit(store, pristine.vkey, jobs)
    assert runs == [2]


@pytest.mark.parametrize("k", [0, 1, 3])
def test_a_deleted_bundle_is_named_both_ways(pristine: Built, store: Path, runs: list[int], k: int) -> None:
    sql(store, [("DELETE FROM entry_bundles WHERE idx = ?", (k,))])
    for jobs in (SERIAL, PARALLEL):
        with pytest.raises(StoreError, match=f"^entry {k * bundles.WIDTH} is missing from the store$"):
            _audit(store, pristine.vkey, jobs)
    assert runs == [2]


@pytest.mark.parametrize("index", [256, 300, 512, 1000, 1280])
def test_a_deleted_entry_with_the_rest_moved_up_and_tiles_rebuilt_is_reported(
    pristine: Built, store: Path, runs: list[int], index: int
) -> None:
    bodies = _bodies(store)
    del bodies[index]
    _rewrite(store, bodies, tiles_too=True)
    report = _both(store, pristine.vkey, runs)
    assert report.problems[0].index == pristine.batch_of(index)[0]
    assert "does not match the entries" in report.problems[0].message


def test_a_deleted_entry_with_the_rest_moved_up_and_tiles_kept_is_audited_in_one_process(
    pristine: Built, store: Path, runs: list[int]
) -> None:
    """The tiles then cover one entry more than the store holds: they are not sound."""
    bodies = _bodies(store)
    del bodies[300]
    _rewrite(store, bodies, tiles_too=False)
    report = _audit(store, pristine.vkey, PARALLEL)
    assert runs == []
    assert report.problems[0].index == 300


@pytest.mark.parametrize("index", [256, 300, 512, 1000, 1280])
def test_an_inserted_entry_with_tiles_rebuilt_is_reported(
    pristine: Built, store: Path, runs: list[int], index: int
) -> None:
    bodies = _bodies(store)
    bodies.insert(index, bodies[5])
    _rewrite(store, bodies, tiles_too=True)
    report = _both(store, pristine.vkey, runs)
    assert report.problems[0].index == pristine.batch_of(index)[0]
    assert report.tree_size == SIZE + 1


@pytest.mark.parametrize("index", [255, 256, 700, 900, 1300, SIZE - 1])
def test_a_forged_entry_with_tiles_rebuilt_is_caught_by_its_checkpoint(
    pristine: Built, store: Path, runs: list[int], index: int
) -> None:
    """The attacker holds alice's key: the entry is validly signed and the tiles agree with it."""
    bodies = _bodies(store)
    bodies[index] = envelope(pristine.actor, 4242, "forged").canonical()
    _rewrite(store, bodies, tiles_too=True)
    report = _both(store, pristine.vkey, runs)
    assert report.problems[0].index == pristine.batch_of(index)[0]
    assert "does not match the entries" in report.problems[0].message


def test_many_modified_entries_are_listed_and_counted_the_same(
    pristine: Built, store: Path, runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MAX_PROBLEMS", 5)
    bodies = _bodies(store)
    for i in range(3, SIZE, 37):
        bodies[i] = bodies[i].replace(b'"', b"'", 1)
    _rewrite(store, bodies, tiles_too=False)
    report = _both(store, pristine.vkey, runs)
    assert len(report.problems) == 5
    assert report.problem_count > 2 * len(range(3, SIZE, 37))


@pytest.mark.parametrize("size", [2, 256, 356, 513, 1024, 1536])
def test_a_saved_checkpoint_is_checked_the_same(
    pristine: Built, store: Path, runs: list[int], size: int
) -> None:
    [(note,)] = query(store, "SELECT note FROM checkpoints WHERE size = ?", (size,))
    assert isinstance(note, str)
    saved = verify_checkpoint(note, parse_vkey(pristine.vkey))
    assert _both(store, pristine.vkey, runs, saved).ok


def test_a_saved_checkpoint_of_other_entries_is_reported_the_same(
    pristine: Built, store: Path, runs: list[int]
) -> None:
    [(note,)] = query(store, "SELECT note FROM checkpoints WHERE size = 513")
    assert isinstance(note, str)
    bodies = _bodies(store)
    bodies[400] = envelope(pristine.actor, 4242, "forged").canonical()
    _rewrite(store, bodies, tiles_too=True)
    sql(store, [("DELETE FROM checkpoints WHERE size > 2", ())])
    saved = verify_checkpoint(note, parse_vkey(pristine.vkey))
    report = _both(store, pristine.vkey, runs, saved)
    assert "the log was rewritten: your saved checkpoint of size 513" in "\n".join(map(str, report.problems))


def test_entries_that_change_between_the_two_reads_stop_the_audit(
    pristine: Built, store: Path, tmp_path: Path
) -> None:
    """The workers read in their own transactions: what they hashed must be what is admitted."""
    other = tmp_path / "other"
    shutil.copytree(store, other)
    bodies = _bodies(other)
    bodies[600] = envelope(pristine.actor, 4242, "forged").canonical()
    _rewrite(other, bodies, tiles_too=True)

    def elsewhere() -> AbstractContextManager[LogReader]:
        return sqlite.read_only(other / DB_FILE)

    log = TransparencyLog.open(store)
    try:
        with log.reading() as r, pytest.raises(StoreError, match="entries 512 to 767 changed while"):
            audit.audit_store(r, SIZE, parse_vkey(pristine.vkey), open_reader=elsewhere, jobs=PARALLEL)
    finally:
        log.close()


def test_a_store_whose_tiles_are_not_sound_is_audited_in_one_process(
    pristine: Built, store: Path, runs: list[int]
) -> None:
    [(encoded,)] = query(store, "SELECT hashes FROM tiles WHERE level = 0 AND idx = 1")
    assert isinstance(encoded, bytes)
    sql(store, [("UPDATE tiles SET hashes = ? WHERE level = 0 AND idx = 1", (bytes(32) + encoded[32:],))])
    report = _audit(store, pristine.vkey, PARALLEL)
    assert runs == []
    assert not report.ok


def test_tiles_not_laid_out_by_index_are_reported_and_not_read_by_index(
    pristine: Built, store: Path, runs: list[int]
) -> None:
    """Level-0 tiles 3 onwards renumbered one up: their contents still check out in order, but
    proofs (and the workers) find a node's tile by its index, and would read other hashes."""
    sql(store, [("UPDATE tiles SET idx = idx + 1000 WHERE level = 0 AND idx >= 3", ())])
    sql(store, [("UPDATE tiles SET idx = idx - 999 WHERE level = 0 AND idx >= 1000", ())])
    report = _audit(store, pristine.vkey, PARALLEL)
    assert runs == []
    assert not report.ok
    assert "tile 0/4 is out of place: the tiles before it end at 768" in [p.message for p in report.problems]


def test_the_default_audit_takes_its_workers_from_the_environment(
    pristine: Built, store: Path, runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rehash_workers, "MIN_SIZE", 0)
    monkeypatch.setattr(rehash_workers, "SPAN", tiles.WIDTH)
    monkeypatch.setenv(rehash_workers.JOBS_ENV, "1")
    want = _audit_default(store, pristine.vkey)
    assert runs == []
    monkeypatch.setenv(rehash_workers.JOBS_ENV, "3")
    got = _audit_default(store, pristine.vkey)
    assert runs == [3]
    assert got.ok
    assert (got.problems, got.tree_size, got.checkpoints) == (want.problems, want.tree_size, want.checkpoints)


def _audit_default(directory: Path, vkey: str) -> AuditReport:
    log = TransparencyLog.open(directory)
    try:
        return log.audit(parse_vkey(vkey))
    finally:
        log.close()


def test_small_logs_and_one_job_stay_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Jobs(workers=1, min_size=0).workers_for(10**9) == 1
    assert Jobs(workers=4).workers_for(rehash_workers.MIN_SIZE - 1) == 1
    assert Jobs(workers=4, span=1 << 16).workers_for(3 << 16) == 3
    assert Jobs(workers=2).workers_for(10**7) == 2
    monkeypatch.setenv(rehash_workers.JOBS_ENV, "3")
    assert Jobs.default().workers == 3
    monkeypatch.setenv(rehash_workers.JOBS_ENV, "0")
    assert Jobs.default().workers == 1
    monkeypatch.setenv(rehash_workers.JOBS_ENV, "many")
    assert Jobs.default().workers >= 1


def test_a_broken_worker_pool_loses_no_range(
    pristine: Built, store: Path, runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed by the OS: the ranges it did not return are hashed in the auditing process."""
    parent = os.getpid()
    real = rehash_workers._hash_with

    def dies_in_a_worker(opener: Opener, task: RangeTask) -> RangeHashes:
        if task.begin == 512 and os.getpid() != parent:
            os._exit(1)
        return real(opener, task)

    monkeypatch.setattr(rehash_workers, "_hash_with", dies_in_a_worker)
    assert _both(store, pristine.vkey, runs).ok
