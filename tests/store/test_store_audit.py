"""Mutation tests for the audit: every change to an export or a store must fail it, at the right index.

(a) bit flips in exports; (b) entries modified, deleted, inserted or swapped in an export; (c) a
store tampered with directly in SQLite; (d) a checkpoint the auditor saved earlier.

An export line carries its own leaf hash, so a whole line deleted, inserted or moved is caught by
the checkpoints: the audit names the first entry that no verified checkpoint vouches for, which
is the changed entry itself when its append held one entry, and otherwise the first entry of the
append that held it (ADR 4: "a checkpoint mismatch bounds the change to the entries since the
previous checkpoint").
"""

from __future__ import annotations

import base64
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from store_support import (
    ORIGIN,
    Built,
    audit_export,
    audit_store,
    build_log,
    checkpoint_of,
    entry_body,
    entry_line_numbers,
    envelope,
    query,
    rewrite_entries,
    split_export,
    sql,
    write_export,
)

from chainproof.attest import keys
from chainproof.attest.signing import sign_statement
from chainproof.errors import ChainproofError
from chainproof.log import entries, merkle, tiles
from chainproof.log.audit import AuditReport
from chainproof.log.note import Checkpoint, NoteSigner
from chainproof.log.service import ADMIN_FILE, DB_FILE, SIGNER_FILE, TransparencyLog
from chainproof.log.sqlite import SqliteStore, leaf_key

# Appends of one entry (indexes 0, 1, 6, 13, 22, 32) between appends of several.
BATCHES = [4, 1, 6, 1, 5, 3, 1, 7, 2, 1, 6, 2]
SINGLE = [0, 1, 6, 13, 22, 32]
INSIDE = [3, 5, 9, 12, 17, 25, 31, 35, 40]

Outcome = AuditReport | ChainproofError


def failed(outcome: Outcome) -> bool:
    return isinstance(outcome, ChainproofError) or not outcome.ok


def first_index(outcome: Outcome) -> int | None:
    assert isinstance(outcome, AuditReport), outcome
    assert not outcome.ok
    return outcome.problems[0].index


@dataclass
class Exported:
    built: Built
    data: bytes
    lines: list[bytes]
    entry_lines: list[int]
    size: int
    workdir: Path

    def audit(self, data: bytes | Sequence[bytes], saved: Checkpoint | None = None) -> Outcome:
        path = self.workdir / "mutated.export"
        path.write_bytes(data if isinstance(data, bytes) else b"".join(data))
        try:
            return audit_export(path, self.built.vkey, saved)
        except ChainproofError as e:  # anything else escapes and fails the test
            return e


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    workdir = tmp_path_factory.mktemp("export")
    built = build_log(workdir / "store", BATCHES)
    data = write_export(built.log, workdir / "log.export")
    size = built.log.size()
    built.log.close()
    lines = split_export(data)
    return Exported(built, data, lines, entry_line_numbers(lines), size, workdir)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    workdir = tmp_path_factory.mktemp("small")
    built = build_log(workdir / "store", [2, 1])
    data = write_export(built.log, workdir / "log.export")
    size = built.log.size()
    built.log.close()
    lines = split_export(data)
    return Exported(built, data, lines, entry_line_numbers(lines), size, workdir)


def test_the_honest_exports_pass(exported: Exported, small: Exported) -> None:
    for e in (exported, small):
        outcome = e.audit(e.data)
        assert isinstance(outcome, AuditReport)
        assert outcome.ok, outcome.problems
        assert outcome.tree_size == e.size
        assert outcome.checkpoints == len(e.built.batches)
        assert len(e.entry_lines) == e.size
    assert exported.size == 2 + sum(BATCHES) == 41
    assert [exported.built.batch_of(i) for i in SINGLE] == [(i, i + 1) for i in SINGLE]


# -- (a) bit flips ---------------------------------------------------------------------------


def _flip(data: bytes, position: int, bit: int) -> bytes:
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


def test_a_bit_flipped_at_random_positions_fails_the_audit(exported: Exported) -> None:
    rng = random.Random(20240611)
    positions = rng.sample(range(len(exported.data)), 240)
    missed = [
        (p, bit)
        for p in positions
        for bit in [rng.randrange(8)]
        if not failed(exported.audit(_flip(exported.data, p, bit)))
    ]
    assert missed == []


def test_a_bit_flipped_at_every_byte_of_a_small_export_fails_the_audit(small: Exported) -> None:
    rng = random.Random(7)
    assert len(small.data) > 2000
    missed = [
        (p, bit)
        for p in range(len(small.data))
        for bit in [rng.randrange(8)]
        if not failed(small.audit(_flip(small.data, p, bit)))
    ]
    assert missed == []


def test_truncating_or_extending_an_export_fails_the_audit(small: Exported) -> None:
    for cut in range(1, len(small.data), 97):
        assert failed(small.audit(small.data[:cut])), cut
    assert failed(small.audit(small.data[:-1]))
    assert failed(small.audit(b""))
    assert failed(small.audit(small.data + b"\n"))
    outcome = small.audit(small.data + small.lines[-1])  # the last checkpoint twice
    assert isinstance(outcome, AuditReport)
    assert [p.message for p in outcome.problems] == [f"the checkpoint of size {small.size} appears twice"]
    lines = list(small.lines)
    cp = small.entry_lines[1] + 1
    assert lines[cp].startswith(b'"')
    lines.insert(cp, lines[cp])  # the checkpoint of size 2 twice
    outcome = small.audit(lines)
    assert isinstance(outcome, AuditReport)
    assert [p.message for p in outcome.problems] == ["the checkpoint of size 2 appears twice"]


# -- (b) whole entries changed in an export ----------------------------------------------------


def _modify_leaf(line: bytes) -> bytes:
    """Change one base64 character of the payload, keeping the line well-formed."""
    at = line.index(b'"payload":"') + len(b'"payload":"') + 12
    replacement = b"B" if line[at : at + 1] == b"A" else b"A"
    return line[:at] + replacement + line[at + 1 :]


def _rehash(line: bytes) -> bytes:
    """An attacker's line: the claimed hash updated to the modified leaf."""
    leaf = line[65:-1]
    return merkle.leaf_hash(leaf).hex().encode() + b" " + leaf + b"\n"


@pytest.mark.parametrize("index", [0, 1, 2, 6, 9, 13, 27, 40])
@pytest.mark.parametrize("rehashed", [False, True], ids=["claimed-hash-kept", "claimed-hash-updated"])
def test_a_modified_entry_is_reported_at_its_index(exported: Exported, index: int, rehashed: bool) -> None:
    lines = list(exported.lines)
    n = exported.entry_lines[index]
    lines[n] = _modify_leaf(lines[n])
    if rehashed:
        lines[n] = _rehash(lines[n])
    outcome = exported.audit(lines)
    assert first_index(outcome) == index
    assert isinstance(outcome, AuditReport)
    assert {p.index for p in outcome.problems if p.index is not None} >= {index}


def _deleted(e: Exported, index: int) -> list[bytes]:
    lines = list(e.lines)
    del lines[e.entry_lines[index]]
    return lines


def _duplicate_inserted(e: Exported, index: int, copy_of: int | None = None) -> list[bytes]:
    """A copy of another entry's line inserted where entry `index` stood (pushing it down)."""
    source = copy_of if copy_of is not None else (17 if index < 17 else 2)
    lines = list(e.lines)
    lines.insert(e.entry_lines[index], e.lines[e.entry_lines[source]])
    return lines


def _swapped(e: Exported, i: int, j: int) -> list[bytes]:
    lines = list(e.lines)
    a, b = e.entry_lines[i], e.entry_lines[j]
    lines[a], lines[b] = lines[b], lines[a]
    return lines


@pytest.mark.parametrize("index", SINGLE)
def test_a_deleted_entry_line_is_reported_at_its_index(exported: Exported, index: int) -> None:
    assert first_index(exported.audit(_deleted(exported, index))) == index


@pytest.mark.parametrize("index", INSIDE)
def test_a_deleted_entry_line_is_reported_at_the_start_of_its_append(exported: Exported, index: int) -> None:
    start, end = exported.built.batch_of(index)
    assert start < index < end or index == start
    assert first_index(exported.audit(_deleted(exported, index))) == start


def test_deleting_the_last_entry_line_is_reported(exported: Exported) -> None:
    start, _ = exported.built.batch_of(exported.size - 1)
    assert first_index(exported.audit(_deleted(exported, exported.size - 1))) == start


@pytest.mark.parametrize("index", SINGLE)
def test_an_inserted_duplicate_line_is_reported_at_its_index(exported: Exported, index: int) -> None:
    assert first_index(exported.audit(_duplicate_inserted(exported, index))) == index


@pytest.mark.parametrize("index", INSIDE)
def test_an_inserted_duplicate_line_is_reported_at_the_start_of_its_append(
    exported: Exported, index: int
) -> None:
    start, _ = exported.built.batch_of(index)
    assert first_index(exported.audit(_duplicate_inserted(exported, index))) == start


@pytest.mark.parametrize("index", [*SINGLE[1:], *INSIDE])
def test_an_inserted_copy_of_the_genesis_is_reported_at_its_index(exported: Exported, index: int) -> None:
    assert first_index(exported.audit(_duplicate_inserted(exported, index, copy_of=0))) == index


def test_a_duplicate_line_added_after_the_last_checkpoint_is_reported(exported: Exported) -> None:
    lines = [*exported.lines, exported.lines[exported.entry_lines[5]]]
    outcome = exported.audit(lines)
    assert isinstance(outcome, AuditReport)
    assert exported.size in {p.index for p in outcome.problems}
    assert not outcome.ok


@pytest.mark.parametrize(
    ("i", "j"),
    [(0, 1), (1, 2), (6, 20), (13, 14), (22, 40), (32, 33), (3, 4), (8, 11), (25, 35), (2, 40), (39, 40)],
)
def test_swapped_entry_lines_are_reported_at_the_first_of_them(exported: Exported, i: int, j: int) -> None:
    start, _ = exported.built.batch_of(i)
    assert first_index(exported.audit(_swapped(exported, i, j))) == start
    if i in SINGLE:
        assert start == i


def test_a_moved_checkpoint_line_is_reported(exported: Exported) -> None:
    lines = list(exported.lines)
    cp = exported.entry_lines[6] + 1  # the checkpoint of size 7
    assert lines[cp].startswith(b'"')
    lines.insert(cp + 2, lines.pop(cp))  # now after entry 8
    outcome = exported.audit(lines)
    assert first_index(outcome) == 6  # the entry that checkpoint covered is no longer vouched for
    assert isinstance(outcome, AuditReport)
    assert outcome.problems[0].message == "a checkpoint of size 7 stands after entry 8"


# -- (c) a store tampered with in SQLite --------------------------------------------------------


@pytest.fixture
def tampered(make_log: Callable[..., Built]) -> Built:
    """A closed store to tamper with: 2 + 33 entries, its last append a single entry."""
    built = make_log([4, 1, 6, 1, 5, 3, 1, 7, 2, 1, 1, 1, 1])
    assert audit_store(built.log.directory, built.vkey).ok
    built.log.close()
    return built


def _store_audit(built: Built, saved: Checkpoint | None = None) -> AuditReport:
    return audit_store(built.log.directory, built.vkey, saved)


def _body(built: Built, index: int) -> bytes:
    return entry_body(built.log.directory, index)


def _messages(report: AuditReport) -> str:
    return "\n".join(str(p) for p in report.problems)


@pytest.mark.parametrize("index", [0, 1, 4, 20, 34])
def test_store_an_updated_entry_body_is_reported_at_its_index(tampered: Built, index: int) -> None:
    body = _body(tampered, index)
    forged = body.replace(
        b'"payloadType":"application/vnd.in-toto+json"', b'"payloadType":"application/json"'
    )
    assert forged != body
    sql(tampered.log.directory, rewrite_entries(tampered.log.directory, {index: forged}))
    report = _store_audit(tampered)
    assert report.problems[0].index == index
    assert "do not hash to the leaf hash the log committed to" in report.problems[0].message


def _rewrite_level0(built: Built, change: Callable[[list[bytes]], list[bytes]]) -> None:
    [(width, encoded)] = query(
        built.log.directory, "SELECT width, hashes FROM tiles WHERE level = 0 AND idx = 0"
    )
    assert isinstance(width, int)
    assert isinstance(encoded, bytes)
    base = change(list(tiles.base_of(encoded, width)))
    tile = tiles.Tile(tiles.TileId(0, 0), tuple(base))
    sql(
        built.log.directory,
        [("UPDATE tiles SET width = ?, hashes = ? WHERE level = 0 AND idx = 0", (tile.width, tile.encode()))],
    )


def test_store_an_entry_replaced_with_tiles_and_index_rewritten_is_caught_by_its_checkpoint(
    tampered: Built,
) -> None:
    """The attacker holds alice's key: the new entry is validly signed and the tiles agree with it."""
    index = 9  # inside the append of entries 7..12
    forged = envelope(tampered.actor, 4242, "forged").canonical()
    old = _body(tampered, index)
    sql(
        tampered.log.directory,
        [
            *rewrite_entries(tampered.log.directory, {index: forged}),
            (
                "UPDATE leaf_keys SET k = ? WHERE k = ?",
                (leaf_key(merkle.leaf_hash(forged)), leaf_key(merkle.leaf_hash(old))),
            ),
        ],
    )

    def replace_hash(base: list[bytes]) -> list[bytes]:
        base[index] = merkle.leaf_hash(forged)
        return base

    _rewrite_level0(tampered, replace_hash)
    report = _store_audit(tampered)
    assert not report.ok
    assert report.problems[0].index == tampered.batch_of(index)[0] == 7
    assert "does not match the entries" in report.problems[0].message


@pytest.mark.parametrize("index", [0, 3, 17])
def test_store_an_entry_taken_out_of_its_bundle_is_reported_at_its_index(tampered: Built, index: int) -> None:
    sql(tampered.log.directory, rewrite_entries(tampered.log.directory, {index: None}))
    report = _store_audit(tampered)
    assert report.problems[0].index == index  # the entry after it now stands in its place
    assert "tile level 0 covers" in _messages(report)


def test_store_a_deleted_bundle_is_reported(tampered: Built) -> None:
    sql(tampered.log.directory, [("DELETE FROM entry_bundles", ())])
    report = _store_audit(tampered)
    assert not report.ok
    assert report.tree_size == 0
    assert report.problems[0].index == 0
    assert "a checkpoint of size 1 stands after entry -1" in report.problems[0].message


def test_store_a_deleted_last_entry_is_reported(tampered: Built) -> None:
    last = tampered.batches[-1][0]
    sql(tampered.log.directory, rewrite_entries(tampered.log.directory, {last: None}))
    report = _store_audit(tampered)
    assert not report.ok
    assert "tile level 0 covers" in _messages(report)


def test_store_truncated_consistently_still_fails_by_its_latest_checkpoint(tampered: Built) -> None:
    """The last entry removed with its leaf index row and its tile slot: only the checkpoint remains."""
    last = tampered.batches[-1][0]
    body = _body(tampered, last)
    sql(
        tampered.log.directory,
        [
            *rewrite_entries(tampered.log.directory, {last: None}),
            ("DELETE FROM leaf_keys WHERE k = ?", (leaf_key(merkle.leaf_hash(body)),)),
        ],
    )
    _rewrite_level0(tampered, lambda base: base[:-1])
    log = TransparencyLog.open(tampered.log.directory)
    try:
        assert log.size() == last
        assert checkpoint_of(log.checkpoint(), tampered.vkey).size == last + 1  # still served
    finally:
        log.close()
    report = _store_audit(tampered)
    assert not report.ok
    assert report.problems[0].index == last
    assert f"checkpoint of size {last + 1}" in report.problems[0].message


@pytest.mark.parametrize(("i", "j"), [(0, 1), (2, 3), (5, 30), (33, 34)])
def test_store_swapped_entries_are_reported_at_both_indexes(tampered: Built, i: int, j: int) -> None:
    a, b = _body(tampered, i), _body(tampered, j)
    sql(
        tampered.log.directory,
        rewrite_entries(tampered.log.directory, {i: b, j: a}),
    )
    report = _store_audit(tampered)
    assert report.problems[0].index == i
    assert {i, j} <= {p.index for p in report.problems}


def test_store_a_corrupt_tile_interior_is_reported(tampered: Built) -> None:
    [(width, encoded)] = query(tampered.log.directory, "SELECT width, hashes FROM tiles WHERE level = 0")
    assert isinstance(width, int)
    assert isinstance(encoded, bytes)
    changed = bytearray(encoded)
    changed[width * 32 + 7] ^= 0x10  # the first node above the base
    sql(tampered.log.directory, [("UPDATE tiles SET hashes = ? WHERE level = 0", (bytes(changed),))])
    report = _store_audit(tampered)
    assert [p.message for p in report.problems] == [
        "tile 0/0 holds interior hashes that do not match its base"
    ]


def test_store_a_corrupt_tile_base_is_reported_at_the_entry(tampered: Built) -> None:
    [(encoded,)] = query(tampered.log.directory, "SELECT hashes FROM tiles WHERE level = 0")
    assert isinstance(encoded, bytes)
    changed = bytearray(encoded)
    changed[12 * 32] ^= 0x01
    sql(tampered.log.directory, [("UPDATE tiles SET hashes = ? WHERE level = 0", (bytes(changed),))])
    report = _store_audit(tampered)
    assert report.problems[0].index == 12
    assert "tile 0/0 holds interior hashes that do not match its base" in _messages(report)


def test_store_a_truncated_tile_blob_is_reported(tampered: Built) -> None:
    [(encoded,)] = query(tampered.log.directory, "SELECT hashes FROM tiles WHERE level = 0")
    assert isinstance(encoded, bytes)
    sql(tampered.log.directory, [("UPDATE tiles SET hashes = ? WHERE level = 0", (encoded[:-32],))])
    report = _store_audit(tampered)
    assert [p.message for p in report.problems] == [
        "tile 0/0 holds interior hashes that do not match its base"
    ]


def test_store_the_latest_checkpoint_deleted_is_reported(tampered: Built) -> None:
    size = tampered.batches[-1][1]
    sql(tampered.log.directory, [("DELETE FROM checkpoints WHERE size = ?", (size,))])
    report = _store_audit(tampered)
    assert [(p.index, p.message) for p in report.problems] == [
        (size - 1, f"no checkpoint covers entries {size - 1} to {size - 1}")
    ]


def test_store_every_checkpoint_deleted_is_reported(tampered: Built) -> None:
    sql(tampered.log.directory, [("DELETE FROM checkpoints", ())])
    assert "no valid checkpoint covers the log" in _messages(_store_audit(tampered))


def test_store_an_altered_checkpoint_note_is_reported(tampered: Built) -> None:
    [(note,)] = query(tampered.log.directory, "SELECT note FROM checkpoints WHERE size = 13")
    assert isinstance(note, str)
    origin, size, root, rest = note.split("\n", 3)
    forged_root = merkle.leaf_hash(b"other")
    for forged in (
        "\n".join([origin, "12", root, rest]),
        "\n".join([origin, size, base64.b64encode(forged_root).decode(), rest]),
        note.replace(ORIGIN, "other.example/custody"),
        note[:-3] + ("A" if note[-3] != "A" else "B") + note[-2:],
    ):
        assert forged != note
        sql(tampered.log.directory, [("UPDATE checkpoints SET note = ? WHERE size = 13", (forged,))])
        report = _store_audit(tampered)
        assert not report.ok, forged
        assert "checkpoint after entry 12" in report.problems[0].message


def test_store_a_checkpoint_moved_to_another_size_is_reported(tampered: Built) -> None:
    [(note,)] = query(tampered.log.directory, "SELECT note FROM checkpoints WHERE size = 7")
    sql(tampered.log.directory, [("UPDATE checkpoints SET note = ? WHERE size = 13", (note,))])
    report = _store_audit(tampered)
    assert report.problems[0].message == "a checkpoint of size 7 stands after entry 12"
    assert report.problems[0].index == 7


def test_store_a_checkpoint_signed_by_another_key_is_reported(tampered: Built) -> None:
    [(note,)] = query(tampered.log.directory, "SELECT note FROM checkpoints WHERE size = 13")
    assert isinstance(note, str)
    body = note.split("\n\n")[0] + "\n"
    forged = NoteSigner(ORIGIN, keys.generate()).sign(body)
    sql(tampered.log.directory, [("UPDATE checkpoints SET note = ? WHERE size = 13", (forged,))])
    report = _store_audit(tampered)
    assert "checkpoint after entry 12: the note carries no signature by" in report.problems[0].message


def test_store_a_changed_key_index_is_reported(tampered: Built) -> None:
    sql(
        tampered.log.directory,
        [("UPDATE keys SET revoked_from = 3, revoked_at = 3 WHERE name = 'alice'", ())],
    )
    report = _store_audit(tampered)
    assert not report.ok
    assert "key index differs" in _messages(report)


# -- (d) a checkpoint saved earlier -------------------------------------------------------------


@dataclass
class Forked:
    honest: TransparencyLog
    fork: TransparencyLog
    vkey: str
    notes: dict[int, str]  # the honest log's checkpoints, by size


@pytest.fixture
def forked(tmp_path: Path) -> Iterator[Forked]:
    """The honest log, and a copy of it at 10 entries that went on with other entries: same keys."""
    built = build_log(tmp_path / "honest", [3, 2, 3])
    built.log.close()
    shutil.copytree(tmp_path / "honest", tmp_path / "fork")
    honest, fork = TransparencyLog.open(tmp_path / "honest"), TransparencyLog.open(tmp_path / "fork")
    honest.append([envelope(built.actor, n, "later") for n in range(3)])
    honest.append([envelope(built.actor, n, "later") for n in range(3, 6)])
    fork.append([envelope(built.actor, n, "fork") for n in range(3)])
    with honest.reading() as r:
        notes = dict(r.checkpoints())
    assert (honest.size(), fork.size()) == (16, 13)
    assert audit_store(fork.directory, built.vkey).ok  # on its own the fork is a valid log
    yield Forked(honest, fork, built.vkey, notes)
    honest.close()
    fork.close()


def _both_modes(log: TransparencyLog, vkey: str, saved: Checkpoint, workdir: Path) -> list[AuditReport]:
    write_export(log, workdir / "audited.export")
    return [audit_store(log.directory, vkey, saved), audit_export(workdir / "audited.export", vkey, saved)]


@pytest.mark.parametrize("size", [1, 2, 10, 13, 16])
def test_saved_checkpoint_passes_on_the_honest_grown_log(forked: Forked, tmp_path: Path, size: int) -> None:
    saved = checkpoint_of(forked.notes[size], forked.vkey)
    for report in _both_modes(forked.honest, forked.vkey, saved, tmp_path):
        assert report.ok, report.problems


@pytest.mark.parametrize("size", [1, 2, 10])
def test_saved_checkpoint_before_the_fork_point_passes_on_the_fork(
    forked: Forked, tmp_path: Path, size: int
) -> None:
    saved = checkpoint_of(forked.notes[size], forked.vkey)
    for report in _both_modes(forked.fork, forked.vkey, saved, tmp_path):
        assert report.ok, report.problems


def test_saved_checkpoint_catches_a_fork_with_other_entries(forked: Forked, tmp_path: Path) -> None:
    saved = checkpoint_of(forked.notes[13], forked.vkey)
    for report in _both_modes(forked.fork, forked.vkey, saved, tmp_path):
        assert not report.ok
        assert "the log was rewritten: your saved checkpoint of size 13" in _messages(report)


def test_saved_checkpoint_larger_than_the_log_fails(forked: Forked, tmp_path: Path) -> None:
    saved = checkpoint_of(forked.notes[16], forked.vkey)
    for report in _both_modes(forked.fork, forked.vkey, saved, tmp_path):
        assert not report.ok
        assert "your saved checkpoint has size 16; the log has only 13 entries" in _messages(report)


def test_saved_checkpoint_catches_a_log_rebuilt_with_other_early_entries(tmp_path: Path) -> None:
    """The operator rebuilds the log from scratch with the same keys: same genesis and registration,
    other entries from index 2 on. Every checkpoint of the rebuilt log is validly signed; only the
    saved checkpoint shows the rewrite."""
    honest = build_log(tmp_path / "honest", [4, 3])
    saved = checkpoint_of(honest.log.checkpoint(), honest.vkey)
    genesis = honest.log.entry(0)
    honest.log.close()
    rebuilt_dir = tmp_path / "rebuilt"
    rebuilt_dir.mkdir()
    for name in (SIGNER_FILE, ADMIN_FILE):
        shutil.copy(tmp_path / "honest" / name, rebuilt_dir / name)
    rebuilt = _create_with_existing_keys(rebuilt_dir, ORIGIN)
    try:
        rebuilt.register_key("alice", honest.actor)
        rebuilt.append([envelope(honest.actor, n, "rewritten") for n in range(9)])
        assert rebuilt.size() > saved.size
        assert rebuilt.entry(0) == genesis
        assert audit_store(rebuilt_dir, honest.vkey).ok
        for report in _both_modes(rebuilt, honest.vkey, saved, tmp_path):
            assert not report.ok
            assert f"the log was rewritten: your saved checkpoint of size {saved.size}" in _messages(report)
    finally:
        rebuilt.close()


def _create_with_existing_keys(directory: Path, origin: str) -> TransparencyLog:
    """What TransparencyLog.create does, but with the checkpoint and admin keys already in `directory`."""
    signer = NoteSigner(origin, keys.read_private(directory / SIGNER_FILE))
    admin = keys.read_private(directory / ADMIN_FILE)
    store = SqliteStore(directory / DB_FILE, create=True)
    with store.writer() as w:
        w.set_meta("origin", origin)
        w.set_meta("checkpoint_vkey", signer.verifier.vkey)
        w.set_meta("admin_keyid", keys.keyid(admin.public_key()))
    log = TransparencyLog(directory, store)
    log.append(
        [sign_statement(entries.genesis_statement(origin, signer.verifier.vkey, admin.public_key()), admin)]
    )
    return log
