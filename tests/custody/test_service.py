"""The custody service's batch recording: one transaction, all or none."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from chainproof.attest import keys
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody, hop_record
from chainproof.errors import StoreError, UsageError
from chainproof.lineage.index import INDEX_FILE, LineageIndex, rebuild
from chainproof.log import entries
from chainproof.log.service import ADMIN_FILE, TransparencyLog


def art(name: str) -> Digest:
    return Digest("sha256:" + hashlib.sha256(name.encode()).hexdigest())


@pytest.fixture
def custody(tmp_path: Path) -> Custody:
    log = TransparencyLog.create(tmp_path / "store", "service.test/custody")
    return Custody(log)


def test_a_batch_may_use_what_it_makes_and_lands_in_one_piece(custody: Custody) -> None:
    key = keys.generate()
    custody.log.register_key("lab", key)
    admin = keys.read_private(custody.log.directory / ADMIN_FILE)
    custody.add_actor(
        "lab", role="recorder", organisation="lab", keyid=keys.keyid(key.public_key()), admin=admin
    )
    raw, mix, model = art("raw"), art("mix"), art("model")
    batch = [
        hop_record(Hop.INGEST, outputs=[raw]),
        hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[mix]),
        hop_record(Hop.TRAIN, inputs=[mix], outputs=[model]),
    ]
    size = custody.log.size()
    done = custody.record_many(batch, key)
    assert [d.index for d in done] == [size, size + 1, size + 2]
    with custody.lineage_index() as index:
        assert [h.index for h in index.producers(model)] == [size + 2]
    bad = [hop_record(Hop.TRAIN, inputs=[art("never")], outputs=[art("m2")])]
    with pytest.raises(UsageError, match="no custody record names the input"):
        custody.record_many([hop_record(Hop.INGEST, outputs=[art("other")]), *bad], key)
    assert custody.log.size() == size + 3  # nothing of the refused batch was appended
    with pytest.raises(UsageError, match="needs at least one --input"):
        custody.record_many([hop_record(Hop.TRAIN, outputs=[art("m3")])], key)
    custody.close()


def test_what_the_service_files_as_it_appends_is_what_a_rebuild_files(
    custody: Custody, tmp_path: Path
) -> None:
    key = keys.generate()
    custody.log.register_key("lab", key)
    raw = art("raw")
    custody.record_many([hop_record(Hop.INGEST, outputs=[raw], details={"location": "s3://b/raw/"})], key)
    custody.record_many(
        [hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art(f"d{i}")]) for i in range(50)], key
    )
    custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("d0")])], key)  # a repeat
    assert _filed(custody) == _rebuilt(custody, tmp_path)
    custody.close()


_TABLES = ("records", "artifacts", "locations")


def _filed(custody: Custody) -> list[list[tuple[object, ...]]]:
    """The index's rows as this custody service filed them."""
    with custody.lineage_index() as index:
        return [list(index.db.execute(f"SELECT * FROM {t} ORDER BY 1, 2")) for t in _TABLES]


def _rebuilt(custody: Custody, tmp_path: Path) -> list[list[tuple[object, ...]]]:
    """The index's rows as a rebuild from the log files them."""
    copy = tmp_path / "copy"
    copy.mkdir()
    log = TransparencyLog.open(custody.log.directory)
    with log.reading() as r:
        rebuild(copy, r)
    log.close()
    with closing(sqlite3.connect(copy / INDEX_FILE)) as db:
        return [list(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2")) for t in _TABLES]


def test_a_batch_the_log_refuses_after_the_index_filed_it_is_not_in_the_index(
    custody: Custody, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index files a batch before the log commits it (while its signatures are confirmed):
    when the log's transaction fails after that, the index's is undone with it."""
    key = keys.generate()
    custody.log.register_key("lab", key)
    raw = art("raw")
    custody.record_many([hop_record(Hop.INGEST, outputs=[raw])], key)
    before, size = _filed(custody), custody.log.size()
    filed: list[int] = []
    real = LineageIndex._file_appended

    def file_then_fail(self: LineageIndex, *args: Any) -> bool:
        filed.append(1)
        assert real(self, *args)
        raise StoreError("the disk is full")

    monkeypatch.setattr(LineageIndex, "_file_appended", file_then_fail)
    with pytest.raises(StoreError, match="disk is full"):
        custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("lost")])], key)
    assert filed
    assert custody.log.size() == size
    assert custody._index is not None
    assert not custody._index.db.in_transaction  # undone, not left open
    assert _filed(custody) == before
    monkeypatch.undo()
    custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("kept")])], key)
    assert _filed(custody) == _rebuilt(custody, tmp_path)
    custody.close()


def test_a_batch_admitted_twice_is_filed_once(
    custody: Custody, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the signatures verified beside the writer are not all confirmed, admission starts
    over, checking each itself; the index undoes what it filed the first time."""
    key = keys.generate()
    custody.log.register_key("lab", key)
    raw = art("raw")
    unconfirmed: list[int] = []

    def not_at_first(self: entries.Preverifying) -> bool:
        unconfirmed.append(1)
        return len(unconfirmed) > 1

    monkeypatch.setattr(entries.Preverifying, "confirmed", not_at_first)
    custody.record_many([hop_record(Hop.INGEST, outputs=[raw])], key)
    custody.record_many(
        [hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art(f"d{i}")]) for i in range(5)], key
    )
    assert len(unconfirmed) == 2  # the first batch started over; the second was confirmed
    with custody.lineage_index() as index:
        assert len(index.producers(art("d4"))) == 1
    assert _filed(custody) == _rebuilt(custody, tmp_path)
    custody.close()


def test_what_this_recorder_made_is_not_looked_up_again(
    custody: Custody, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keys.generate()
    custody.log.register_key("lab", key)
    raw, mix = art("raw"), art("mix")
    custody.record_many([hop_record(Hop.INGEST, outputs=[raw])], key)
    asked: list[set[Digest]] = []
    real = LineageIndex.named

    def named(self: LineageIndex, ds: Iterable[Digest]) -> set[Digest]:
        wanted = set(ds)
        asked.append(wanted)
        return real(self, wanted)

    monkeypatch.setattr(LineageIndex, "named", named)
    custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[mix])], key)
    assert asked == []  # known here: it was made by this recorder, and nothing else was asked
    other = Custody(TransparencyLog.open(custody.log.directory))  # knows only what the index says
    other.record_many([hop_record(Hop.TRAIN, inputs=[mix], outputs=[art("model")])], key)
    assert asked[-1] == {mix}
    with pytest.raises(UsageError, match="no custody record names the input"):
        other.record_many([hop_record(Hop.TRAIN, inputs=[art("never")], outputs=[art("m2")])], key)
    other.close()
    custody.close()


def test_records_appended_between_another_writers_are_all_indexed(
    custody: Custody,
) -> None:
    key = keys.generate()
    custody.log.register_key("lab", key)
    raw = art("raw")
    custody.record_many([hop_record(Hop.INGEST, outputs=[raw])], key)
    custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("mine-1")])], key)
    other = Custody(TransparencyLog.open(custody.log.directory))
    other.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("theirs")])], key)
    other.close()
    custody.record_many([hop_record(Hop.TRANSFORM, inputs=[raw], outputs=[art("mine-2")])], key)
    with custody.lineage_index() as index:
        for name in ("mine-1", "theirs", "mine-2"):
            assert len(index.producers(art(name))) == 1, name
    custody.close()
