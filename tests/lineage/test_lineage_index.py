"""The store's lineage index answers exactly as the in-memory lineage, and keeps up with the log."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from scenario import Story, art, env, incident, policy
from test_impact import litellm_1_82_8
from test_verify import judge

from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.lineage import impact, parsing, verify
from chainproof.lineage import index as index_module
from chainproof.lineage.impact import actor_seeds, artifact_seeds, environment_seeds
from chainproof.lineage.index import INDEX_FILE, LineageIndex, rebuild
from chainproof.lineage.memory import MemoryLineage
from chainproof.log.service import TransparencyLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[TransparencyLog]:
    log = TransparencyLog.create(tmp_path / "store", "lineage.test/custody")
    yield log
    log.close()


def indexed(log: TransparencyLog) -> LineageIndex:
    index = LineageIndex.open(log.directory)
    with log.reading() as r:
        index.catch_up(r)
    return index


def same_answers(index: LineageIndex, memory: MemoryLineage, artifacts: list[Digest], story: Story) -> None:
    for i in range(story.index + 1):
        assert index.hop(i) == memory.hop(i)
    for d in artifacts:
        assert index.producers(d) == memory.producers(d), d
        assert index.consumers(d) == memory.consumers(d), d
        assert index.grants(artifact=d) == memory.grants(artifact=d)
    for name, keyid in story.keyids.items():
        assert index.hops_signed_by([keyid]) == memory.hops_signed_by([keyid])
        assert index.actors_named(name) == memory.actors_named(name)
        assert index.grants(grantee=name) == memory.grants(grantee=name)
        for before in range(story.index + 1):
            assert index.actor_of(keyid, before) == memory.actor_of(keyid, before)
    for package in ("litellm", "LiteLLM", "torch", "requests"):
        assert index.environments_with(package) == memory.environments_with(package)
    for location in ("s3://vendor", "s3://vendor/", "s3://vendor/raw/", "s3://vend", "s3://vendor/raw/x"):
        assert index.hops_at_location(location) == memory.hops_at_location(location)


def test_the_index_of_a_real_log_answers_as_the_memory_reference(log: TransparencyLog) -> None:
    story, a = incident(log)
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        index.catch_up(r)
        same_answers(index, story.lineage, list(a.values()), story)
        for d in a.values():
            assert verify(d, index, policy(), judge) == verify(d, story.lineage, policy(), judge)
        seeds = [
            (
                environment_seeds(index, ["litellm"], litellm_1_82_8),
                environment_seeds(story.lineage, ["litellm"], litellm_1_82_8),
            ),
            (
                actor_seeds(index, index.actors_named("ann1"), [story.keyids["ann1"]]),
                actor_seeds(story.lineage, story.lineage.actors_named("ann1"), [story.keyids["ann1"]]),
            ),
            (
                artifact_seeds(index, [a["raw"]], exposed=True),
                artifact_seeds(story.lineage, [a["raw"]], exposed=True),
            ),
        ]
        for mine, reference in seeds:
            assert impact(index, mine) == impact(story.lineage, reference)


def test_the_index_catches_up_with_appends_and_rebuilds_what_is_lost(log: TransparencyLog) -> None:
    story, a = incident(log)
    index = indexed(log)
    first = len(list(index.records()))
    index.close()
    story.revoke_key("ann1", effective_from=5)
    story.hop(Hop.TRANSFORM, "lab", [a["m-clean"]], [art("distilled")], environment=env("torch==2.9.0"))
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        assert index.catch_up(r) == 2  # the revocation and the transform: nothing read twice
        assert len(list(index.records())) == first + 1
        assert [h.index for h in index.producers(art("distilled"))] == [log.size() - 1]
    # Damaged or lost: rebuilt from the log, with the same answers.
    (log.directory / INDEX_FILE).write_bytes(b"not a database" * 100)
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        assert index.catch_up(r) == log.size()
        same_answers(index, story.lineage, [*a.values(), art("distilled")], story)
    with log.reading() as r:
        assert rebuild(log.directory, r) == log.size()


def test_an_index_of_another_log_is_rebuilt(log: TransparencyLog, tmp_path: Path) -> None:
    incident(log)
    indexed(log).close()
    other = TransparencyLog.create(tmp_path / "other", "other.test/custody")
    try:
        (other.directory / INDEX_FILE).write_bytes((log.directory / INDEX_FILE).read_bytes())
        with other.reading() as r, closing(LineageIndex.open(other.directory)) as index:
            index.catch_up(r)
            assert list(index.records()) == []
    finally:
        other.close()


def test_a_store_that_cannot_be_written_gets_an_index_in_memory(log: TransparencyLog, tmp_path: Path) -> None:
    story, a = incident(log)
    with log.reading() as r, closing(LineageIndex.open(log.directory, writable=False)) as index:
        index.catch_up(r)
        assert index.producers(a["m-tainted"]) == story.lineage.producers(a["m-tainted"])
    assert not (log.directory / INDEX_FILE).exists()


def test_the_index_file_is_plain_sqlite(log: TransparencyLog) -> None:
    incident(log)
    indexed(log).close()
    with closing(sqlite3.connect(log.directory / INDEX_FILE)) as db:
        assert db.execute("SELECT count(*) FROM actors").fetchone() == (4,)


def _dump(index: LineageIndex) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the index, but the statements it keeps (see `_statements`)."""
    tables = [t for (t,) in index.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = dict.fromkeys(tables, "*") | {"records": "idx, kind, keyids, inputs, outputs"}
    return {t: sorted(index.db.execute(f"SELECT {columns[t]} FROM {t}").fetchall()) for t in tables}


def _statements(index: LineageIndex) -> dict[int, bytes | None]:
    return dict(index.db.execute("SELECT idx, statement FROM records").fetchall())


def test_entries_parsed_on_worker_processes_make_the_same_index(
    log: TransparencyLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    story, a = incident(log)
    with closing(indexed(log)) as one_by_one:
        serial, statements = _dump(one_by_one), _statements(one_by_one)
    assert None not in statements.values()  # parsed in this process: kept
    (log.directory / INDEX_FILE).unlink()
    monkeypatch.setattr(parsing, "MIN_ENTRIES", 1)  # a long backlog, as far as the index knows
    monkeypatch.setattr(index_module, "_CHUNK", 3)  # several chunks, written in log order
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    assert parsing.workers_for(log.size()) == 2
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        assert index.catch_up(r) == log.size()
        assert _dump(index) == serial
        # The workers sent no statements back: the queries read them from the log, and keep them.
        assert set(_statements(index).values()) == {None}
        same_answers(index, story.lineage, list(a.values()), story)
        index.flush()
        kept = {i: s for i, s in _statements(index).items() if s is not None}
        assert kept
        assert kept.items() <= statements.items()


def test_runs_in_one_environment_share_its_packages(log: TransparencyLog) -> None:
    story, a = incident(log)
    before = indexed(log)
    environments = before.db.execute("SELECT count(*) FROM environments").fetchone()[0]
    before.close()
    # The same distributions, named in another order and spelling: the same environment.
    spellings = [("numpy==2.1.0", "LiteLLM==1.82.8"), ("litellm==1.82.8", "NumPy==2.1.0")]
    for n in range(6):
        story.hop(Hop.TRAIN, "lab", [a["raw"]], [art(f"again-{n}")], environment=env(*spellings[n % 2]))
    with closing(indexed(log)) as index:
        assert index.db.execute("SELECT count(*) FROM environments").fetchone()[0] == environments + 1
        found = {h.index for h in index.environments_with("litellm")}
        assert {h.index for h in story.lineage.environments_with("litellm")} == found
        assert {log.size() - k for k in range(1, 7)} <= found


@pytest.mark.parametrize(
    ("version", "layout"),
    [
        ("chainproof-lineage/2", "CREATE TABLE packages (name TEXT NOT NULL, idx INTEGER NOT NULL)"),
        (
            "chainproof-lineage/3",  # a statement in every record's row, and no artifacts in it
            "DROP TABLE records; CREATE TABLE records (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
            " keyids TEXT NOT NULL, statement BLOB NOT NULL);"
            " INSERT INTO records VALUES (0, 'hop', '', x'00')",
        ),
    ],
)
def test_an_index_of_an_earlier_layout_is_made_afresh(
    log: TransparencyLog, version: str, layout: str
) -> None:
    story, a = incident(log)
    indexed(log).close()
    with closing(sqlite3.connect(log.directory / INDEX_FILE)) as db:
        db.executescript(f"UPDATE state SET value = '{version}' WHERE key = 'version'; {layout}")
    with log.reading() as r, closing(LineageIndex.open(log.directory)) as index:
        assert index.catch_up(r) == log.size()
        tables = {t for (t,) in index.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "packages" not in tables
        columns = [c[1] for c in index.db.execute("PRAGMA table_info(records)")]
        assert columns == ["idx", "kind", "keyids", "inputs", "outputs", "statement"]
        same_answers(index, story.lineage, list(a.values()), story)


def test_named_asks_for_many_artifacts_at_once(log: TransparencyLog, monkeypatch: pytest.MonkeyPatch) -> None:
    _, a = incident(log)
    monkeypatch.setattr(index_module, "_QUERY_VALUES", 2)
    unknown = [art(f"never-{n}") for n in range(5)]
    upper = Digest(a["raw"].upper().replace("SHA256:", "sha256:"))
    with closing(indexed(log)) as index:
        assert index.named([*a.values(), *unknown, upper]) == {*a.values(), upper}
        assert index.names(a["raw"])
        assert not index.names(unknown[0])


def _records(index: LineageIndex) -> list[int]:
    return [r[0] for r in index.db.execute("SELECT idx FROM records ORDER BY idx")]


def test_processes_catching_up_at_once_file_each_entry_once(
    log: TransparencyLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (two connections to one index file) catch up together, the second filing
    while the first is between reading where to start and writing: neither fails, nothing is
    filed twice, and an index moved past the first one's snapshot is not taken for a log's."""
    story, a = incident(log)
    first, second = LineageIndex.open(log.directory), LineageIndex.open(log.directory)
    later = TransparencyLog.open(log.directory)  # a connection of its own: a newer snapshot
    write = LineageIndex._write
    interrupted: list[int] = []

    def write_after_another(self: LineageIndex, rows: object, start: int, end: int) -> bool:
        if self is first and not interrupted:
            interrupted.append(start)
            story.log = later  # `log` is reading
            distilled = env("torch==2.9.0")
            story.hop(Hop.TRANSFORM, "lab", [a["m-clean"]], [art("distilled")], environment=distilled)
            with later.reading() as r:
                assert second.catch_up(r) == later.size()  # past the first one's snapshot
        return write(self, rows, start, end)  # type: ignore[arg-type]

    monkeypatch.setattr(LineageIndex, "_write", write_after_another)
    try:
        with log.reading() as r:
            snapshot = r.size()
            assert first.catch_up(r) == 0  # the other filed them all, and more
        assert interrupted == [0]
        assert log.size() == snapshot + 1
        assert _records(first) == _records(second)
        assert [h.index for h in first.producers(art("distilled"))] == [snapshot]
        with log.reading() as r:  # the next snapshot sees what the index holds: nothing to do
            assert first.catch_up(r) == 0
        same_answers(first, story.lineage, [*a.values(), art("distilled")], story)
    finally:
        first.close()
        second.close()
        later.close()


def test_an_index_ahead_of_its_log_is_made_afresh(log: TransparencyLog, tmp_path: Path) -> None:
    """A store put back from an older copy, its index left as it was: the log is shorter than
    the index, which is rebuilt rather than trusted past the log's end."""
    story, a = incident(log)
    log.close()
    older = tmp_path / "older"
    shutil.copytree(log.directory, older)
    log = TransparencyLog.open(log.directory)
    story.log = log
    story.hop(Hop.TRANSFORM, "lab", [a["m-clean"]], [art("distilled")], environment=env("torch==2.9.0"))
    indexed(log).close()
    (older / INDEX_FILE).write_bytes((log.directory / INDEX_FILE).read_bytes())
    restored = TransparencyLog.open(older)
    try:
        with restored.reading() as r, closing(LineageIndex.open(older)) as index:
            assert index.catch_up(r) == restored.size()  # all of it, afresh
            assert index.producers(art("distilled")) == []
            assert _records(index)[-1] < restored.size()
    finally:
        restored.close()
        log.close()
