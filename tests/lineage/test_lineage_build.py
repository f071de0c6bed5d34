"""A long backlog is filed into an empty index in bulk (records first, then their keys in order),
by workers that read the log themselves or are sent its entries; the result is the index the
entry-by-entry catch-up makes. While one process builds, another waits; a build left half done is
cleared and done again. Entries are read by cutting their canonical envelope, as parsing it whole
would."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scenario import incident
from test_lineage_index import _dump, indexed, same_answers

from chainproof.attest import dsse
from chainproof.custody import views
from chainproof.lineage import filing, parsing
from chainproof.lineage import index as index_module
from chainproof.lineage.index import LineageIndex
from chainproof.log.service import TransparencyLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[TransparencyLog]:
    log = TransparencyLog.create(tmp_path / "store", "lineage.test/build")
    yield log
    log.close()


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any backlog counts as long, in chunks of three entries, on two workers."""
    monkeypatch.setattr(parsing, "MIN_ENTRIES", 1)
    monkeypatch.setattr(index_module, "_CHUNK", 3)
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")


def _reference_read(leaf: bytes) -> filing.Entry | None:
    """The envelope parsed whole, as every entry was read before entries were cut."""
    env = json.loads(leaf)
    if env.get("payloadType") != dsse.INTOTO_PAYLOAD_TYPE:
        return None
    payload = base64.b64decode(env["payload"])
    seen = views.view(json.loads(payload))
    return None if seen is None else (seen, tuple(s["keyid"] for s in env["signatures"]), payload)


@pytest.mark.parametrize("reads_itself", [False, True])
@pytest.mark.usefixtures("bulk")
def test_a_bulk_build_makes_the_index_a_catch_up_makes(log: TransparencyLog, reads_itself: bool) -> None:
    story, a = incident(log)
    with closing(indexed(log)) as one_by_one:
        serial = _dump(one_by_one)
        assert serial["artifacts"]  # filed entry by entry: no worker for a log this short
    (log.directory / index_module.INDEX_FILE).unlink()
    opener = log.read_only_opener() if reads_itself else None
    built: list[int] = []
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        assert index.catch_up(r, lambda done, _: built.append(done), open_reader=opener) == log.size()
        assert _dump(index) == serial
        assert built == sorted(built)
        assert built[-1] == log.size()
        same_answers(index, story.lineage, list(a.values()), story)


def test_every_entry_is_read_as_its_whole_envelope_would_be(log: TransparencyLog) -> None:
    incident(log)
    with log.reading() as r:
        leaves = list(r.entries(0, log.size()))
    assert sum(1 for leaf in leaves if filing.read_entry(leaf) is not None) > 10
    for leaf in leaves:
        assert filing.read_entry(leaf) == _reference_read(leaf)
        # The same envelope in another JSON form (members reordered, spaces): read whole.
        reordered = json.dumps(dict(reversed(json.loads(leaf).items())), indent=1).encode()
        assert filing.read_entry(reordered) == _reference_read(leaf)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _outcome(read: object, leaf: bytes) -> object:
    try:
        return read(leaf)  # type: ignore[operator]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "refused"


@given(
    st.binary(max_size=48) | _JSON.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([dsse.INTOTO_PAYLOAD_TYPE, "text/plain", 'a"b']),
    st.sampled_from(["k1", "", 'k"2']),
)
def test_cut_and_whole_reading_agree_on_any_envelope(payload: bytes, payload_type: str, keyid: str) -> None:
    leaf = dsse.Envelope(payload_type, payload, (dsse.Signature(keyid, b"\x01"),)).canonical()
    assert _outcome(filing.read_entry, leaf) == _outcome(_reference_read, leaf)


def test_what_the_fast_parser_reads_otherwise_makes_the_same_views(log: TransparencyLog) -> None:
    assert filing.loads(b'{"a":"\\ud800"}') == json.loads(b'{"a":"\\ud800"}')  # refused by orjson
    incident(log)
    with log.reading() as r:
        statements = [
            json.loads(base64.b64decode(json.loads(leaf)["payload"])) for leaf in r.entries(0, log.size())
        ]
    for statement in statements:
        # An integer past 64 bits (orjson reads it as a float) and a lone surrogate, where views never read.
        odd = json.dumps({**statement, "n": 10**30, "s": "\ud800"}).encode()
        assert views.view(filing.loads(odd)) == views.view(json.loads(odd))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.usefixtures("bulk")
def test_a_build_left_half_done_is_cleared_and_done_again(log: TransparencyLog) -> None:
    story, a = incident(log)
    with closing(indexed(log)) as done:
        serial = _dump(done)
    # A builder that is gone; one alive (pid 1) but with no progress for far too long.
    for builder, at in ((_dead_pid(), time.time()), (1, 0.0)):
        with closing(LineageIndex.open(log.directory)) as index, index.db:
            index.db.execute("UPDATE state SET value = 0 WHERE key = 'indexed_size'")
            index.db.execute("DELETE FROM artifacts")  # as a build leaves them: staged, lost
            index.db.execute("INSERT OR REPLACE INTO state VALUES ('builder', ?)", (builder,))
            index.db.execute("INSERT OR REPLACE INTO state VALUES ('built_at', ?)", (at,))
        with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
            assert index.catch_up(r) == log.size()
            assert _dump(index) == serial
            same_answers(index, story.lineage, list(a.values()), story)


@pytest.mark.usefixtures("bulk")
def test_while_another_process_builds_the_index_a_catch_up_waits_for_it(
    log: TransparencyLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident(log)
    with closing(LineageIndex.open(log.directory)) as index, log.reading() as r:
        index.catch_up(r)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with closing(LineageIndex.open(log.directory)) as index, index.db:
            index.db.execute("UPDATE state SET value = 0 WHERE key = 'indexed_size'")
            index.db.execute("INSERT INTO state VALUES ('builder', ?)", (sleeper.pid,))
            index.db.execute("INSERT INTO state VALUES ('built_at', ?)", (time.time(),))
        finished = threading.Event()

        def finish() -> None:  # the other process's last transaction
            time.sleep(0.5)
            with closing(LineageIndex.open(log.directory)) as other, other.db:
                other.db.execute("DELETE FROM state WHERE key IN ('builder', 'built_at')")
                other.db.execute("UPDATE state SET value = ? WHERE key = 'indexed_size'", (log.size(),))
            finished.set()

        started: list[bool] = []
        real_build = LineageIndex._build

        def build(*args: Any) -> None:
            started.append(True)
            real_build(*args)

        monkeypatch.setattr(LineageIndex, "_build", build)
        threading.Thread(target=finish).start()
        with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
            assert index.catch_up(r) == 0  # the other process's index, complete: nothing to read
            assert finished.is_set()
            assert not started
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.usefixtures("bulk")
def test_statements_read_from_the_log_are_kept_unless_another_process_writes(log: TransparencyLog) -> None:
    story, a = incident(log)
    path = log.directory / index_module.INDEX_FILE
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        index.catch_up(r, open_reader=log.read_only_opener())
        unkept = "SELECT count(*) FROM records WHERE statement IS NULL"
        everything = index.db.execute("SELECT count(*) FROM records").fetchone()[0]
        assert index.db.execute(unkept).fetchone()[0] == everything
        hops = [index.hop(i) for i in range(log.size())]
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the index's write lock
            index.flush()  # skipped, not waited for
            other.execute("ROLLBACK")
        assert index.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert index.db.execute(unkept).fetchone()[0] == everything
    # A later query (another process's index) reads them from the log again, and keeps them.
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as later:
        assert later.catch_up(r) == 0
        assert [later.hop(i) for i in range(log.size())] == hops
        later.flush()
        kept = dict(later.db.execute("SELECT idx, statement FROM records WHERE kind = 'hop'").fetchall())
        assert None not in kept.values()
        assert {i for i, h in enumerate(hops) if h is not None} == set(kept)
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        index.catch_up(r)
        same_answers(index, story.lineage, list(a.values()), story)
