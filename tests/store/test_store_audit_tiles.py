"""A store audit takes the roots of full tiles from the store once its tiles are found sound.

Logs here span more than one full tile (256 leaves), so that path is taken; every case must give
exactly the report of the plain audit (every leaf and interior node hashed from the entries,
then the tiles and key index checked).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from store_support import Built, build_log, entry_body, envelope, query, rewrite_entries, sql

from chainproof.log import audit, export, merkle, tiles
from chainproof.log.audit import AuditReport
from chainproof.log.note import Checkpoint, parse_vkey, verify_checkpoint
from chainproof.log.service import TransparencyLog
from chainproof.log.store import LogReader

# 2 + 805 entries, checkpoints at sizes 1, 2, 802 and 807: full tiles 1 and 2 hold no checkpoint
# size (the auditor hashes tile 0, cut by the first two, as it always did).
BATCHES = [800, 5]
FORGED = 300  # inside full tile 1 and inside the append of entries 2..801


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = build_log(tmp_path_factory.mktemp("tiles") / "store", BATCHES)
    built.log.close()
    return built


@pytest.fixture
def store(pristine: Built, tmp_path: Path) -> Path:
    return pristine.copy(tmp_path / "store")


def _reports(directory: Path, vkey: str, saved: Checkpoint | None = None) -> tuple[AuditReport, AuditReport]:
    """The store audit, and the plain audit of the same store for reference."""
    verifier = parse_vkey(vkey)
    log = TransparencyLog.open(directory)
    try:
        got = log.audit(verifier, saved=saved)
        with log.store.reader() as r:
            size = r.size()
            want = audit.audit_events(export.events(r, size), size, verifier, saved=saved)
            audit.check_store(r, size, want)
    finally:
        log.close()
    return got, want


def _same(got: AuditReport, want: AuditReport) -> None:
    assert got.problems == want.problems
    assert got.problem_count == want.problem_count
    assert got.tree_size == want.tree_size
    assert got.checkpoints == want.checkpoints


def _tile(directory: Path, level: int, index: int) -> tiles.Tile:
    [(width, encoded)] = query(
        directory, "SELECT width, hashes FROM tiles WHERE level = ? AND idx = ?", (level, index)
    )
    assert isinstance(width, int)
    assert isinstance(encoded, bytes)
    return tiles.Tile(tiles.TileId(level, index), tiles.base_of(encoded, width))


def _write_tile(directory: Path, tile: tiles.Tile) -> None:
    sql(
        directory,
        [
            (
                "UPDATE tiles SET width = ?, hashes = ? WHERE level = ? AND idx = ?",
                (tile.width, tile.encode(), tile.id.level, tile.id.index),
            )
        ],
    )


def _tiles_ok(directory: Path) -> bool:
    log = TransparencyLog.open(directory)
    try:
        with log.store.reader() as r:
            report = AuditReport()
            audit.check_tiles(r, r.size(), report)
            return report.ok
    finally:
        log.close()


def _set_base(tile: tiles.Tile, position: int, h: bytes) -> tiles.Tile:
    base = list(tile.base)
    base[position] = h
    return tiles.Tile(tile.id, tuple(base))


def test_an_honest_store_takes_tile_roots_and_passes(pristine: Built, store: Path) -> None:
    calls: list[int] = []
    real = audit.tile_roots

    def counted(reader: LogReader, size: int) -> Callable[[int], bytes]:
        root = real(reader, size)

        def counted_root(k: int) -> bytes:
            calls.append(k)
            return root(k)

        return counted_root

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(audit, "tile_roots", counted)
        got, want = _reports(store, pristine.vkey)
    assert got.ok, got.problems
    assert calls == [1, 2]
    _same(got, want)


def test_a_modified_entry_is_hashed_and_reported_the_same(pristine: Built, store: Path) -> None:
    body = entry_body(store, FORGED)
    sql(store, rewrite_entries(store, {FORGED: body.replace(b'"', b"'", 1)}))
    got, want = _reports(store, pristine.vkey)
    assert got.problems[0].index == FORGED
    _same(got, want)


def test_a_replaced_entry_with_sound_tiles_is_caught_by_its_checkpoint(pristine: Built, store: Path) -> None:
    """Entry, level-0 and level-1 tiles rewritten to agree: the tiles are sound, the roots are not."""
    forged = envelope(pristine.actor, 4242, "forged").canonical()
    sql(store, rewrite_entries(store, {FORGED: forged}))
    leaves = _set_base(_tile(store, 0, 1), FORGED - tiles.WIDTH, merkle.leaf_hash(forged))
    _write_tile(store, leaves)
    _write_tile(store, _set_base(_tile(store, 1, 0), 1, leaves.root()))
    assert _tiles_ok(store)
    got, want = _reports(store, pristine.vkey)
    assert not got.ok
    assert got.problems[0].index == 2
    assert "does not match the entries" in got.problems[0].message
    _same(got, want)


def test_an_audit_reads_the_tiles_a_process_has_served_proofs_from_again(
    pristine: Built, store: Path
) -> None:
    """A long-lived process proved from the tiles (and keeps them), then the store was rewritten
    consistently under it: the audit must judge the rewritten rows, not the copies it kept."""
    verifier = parse_vkey(pristine.vkey)
    log = TransparencyLog.open(store)
    try:
        log.prove(FORGED)
        forged = envelope(pristine.actor, 4242, "forged").canonical()
        sql(store, rewrite_entries(store, {FORGED: forged}))
        leaves = _set_base(_tile(store, 0, 1), FORGED - tiles.WIDTH, merkle.leaf_hash(forged))
        _write_tile(store, leaves)
        _write_tile(store, _set_base(_tile(store, 1, 0), 1, leaves.root()))
        report = log.audit(verifier)
    finally:
        log.close()
    assert not report.ok
    assert "does not match the entries" in report.problems[0].message


@pytest.mark.parametrize(("level", "position"), [(0, 5), (1, 1)])  # level-0 tile 1, level-1 tile 0
def test_a_corrupt_tile_gives_the_plain_report(
    pristine: Built, store: Path, level: int, position: int
) -> None:
    tile = _tile(store, level, level ^ 1)
    _write_tile(store, _set_base(tile, position, bytes(32)))
    got, want = _reports(store, pristine.vkey)
    assert not got.ok
    _same(got, want)


def test_a_saved_checkpoint_is_checked_the_same(pristine: Built, store: Path) -> None:
    verifier = parse_vkey(pristine.vkey)
    log = TransparencyLog.open(store)
    try:
        saved = verify_checkpoint(log.checkpoint(), verifier)
    finally:
        log.close()
    got, want = _reports(store, pristine.vkey, saved)
    assert got.ok, got.problems
    _same(got, want)


@pytest.mark.parametrize(
    ("level", "index", "to"),
    [(0, 1, 7), (0, 3, 4), (1, 0, 2)],  # a gap in the middle, the last tile moved on, an upper level
)
def test_a_tile_moved_to_another_index_is_reported(
    pristine: Built, store: Path, level: int, index: int, to: int
) -> None:
    """Same contents, another index: proofs would read the wrong tile (or none) at both indexes."""
    sql(store, [("UPDATE tiles SET idx = ? WHERE level = ? AND idx = ?", (to, level, index))])
    assert not _tiles_ok(store)
    got, want = _reports(store, pristine.vkey)
    assert not got.ok
    assert any(f"tile {level}/{to}" in p.message for p in got.problems), got.problems
    _same(got, want)


@pytest.mark.parametrize(("level", "index"), [(3, 0), (7, 12)])
def test_a_tile_above_the_tree_is_reported(pristine: Built, store: Path, level: int, index: int) -> None:
    """807 entries fill tile levels 0 and 1; a tile at a level the tree has not reached is not
    read by any proof yet, but no honest log wrote it."""
    stray = tiles.Tile(tiles.TileId(level, index), (bytes(32),))
    sql(store, [("INSERT INTO tiles VALUES (?, ?, ?, ?)", (level, index, stray.width, stray.encode()))])
    assert not _tiles_ok(store)
    got, want = _reports(store, pristine.vkey)
    assert f"tile {level}/{index} lies above the tree of 807 entries" in [p.message for p in got.problems]
    _same(got, want)
