"""What only the PostgreSQL store promises: one sequencer per log across processes, several logs in
one database, writes that survive a lost connection whole or not at all, and errors of one line.

A PostgresStore object stands for a server process: two of them on one log do not share a lock
or a connection, only the database. The contract every store keeps is in test_store_contract.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from test_store_contract import append, check_tree, leaves_for

from chainproof.errors import StoreError
from chainproof.log import merkle
from chainproof.log.postgres import PostgresStore
from chainproof.log.service import root_at
from chainproof.log.store import append_leaves
from pg_support import PostgresServer


@pytest.fixture
def open_store(postgres_url: str) -> Iterator[Callable[..., PostgresStore]]:
    """PostgresStore(postgres_url, **options), closed at teardown."""
    opened: list[PostgresStore] = []

    def make(**options: object) -> PostgresStore:
        store = PostgresStore(postgres_url, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _run_threads(work: Callable[[int], None], count: int) -> None:
    """work(0) ... work(count - 1) at once, one thread each; the first error is raised here."""
    failed: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as e:  # noqa: BLE001 -- handed to the test's thread
            failed.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]


def test_two_processes_appending_at_once_keep_one_tree(open_store: Callable[..., PostgresStore]) -> None:
    """Two stores (two server processes, say), two threads on each, all appending to one log: each
    append gets indexes nobody else got, and each writer saw the tree as it was, whole."""
    stores = [open_store(), open_store()]
    spans: list[tuple[int, int]] = []

    def write(n: int) -> None:
        for b in range(10):
            leaves = leaves_for(1000 * b, 1 + (53 * b + 11 * n) % 90, f"thread {n}: ")
            with stores[n % 2].writer() as w:
                first = append_leaves(w, leaves, merkle.leaf_hashes(leaves))
                w.add_checkpoint(first + len(leaves), root_at(w, first + len(leaves)).hex())
            spans.append((first, len(leaves)))

    _run_threads(write, 4)
    total = sum(count for _, count in spans)
    assert sorted(i for first, count in spans for i in range(first, first + count)) == list(range(total))
    with stores[1].reader() as r:
        hashes = merkle.leaf_hashes(list(r.entries(0, r.size())))
        check_tree(r, hashes)
        assert len(set(hashes)) == total
        checkpoints = list(r.checkpoints())
    assert len(checkpoints) == 40
    for size, root in checkpoints:
        assert root == merkle.root_of_leaf_hashes(hashes[:size]).hex(), size


def test_logs_in_one_database_are_independent(open_store: Callable[..., PostgresStore]) -> None:
    a, b = open_store(log_name="a"), open_store(log_name="b")
    a_leaves, b_leaves = leaves_for(0, 300, "a"), leaves_for(0, 40, "b")
    append(a, a_leaves)
    append(b, b_leaves)
    with a.writer() as w:
        w.set_meta("origin", "log a")
        w.add_checkpoint(300, "a's note")
    with a.reader() as r:
        check_tree(r, merkle.leaf_hashes(a_leaves))
        assert r.find_leaves(merkle.leaf_hashes(b_leaves[:2])) == {}
    with b.reader() as r:
        check_tree(r, merkle.leaf_hashes(b_leaves))
        assert list(r.entries(0, 40)) == b_leaves
        assert r.meta("origin") is None
        assert r.checkpoint() is None
        assert r.find_leaves(merkle.leaf_hashes(a_leaves[:2])) == {}
    assert a.log_id != b.log_id


def test_a_writer_of_one_log_holds_up_no_other_log_and_times_out_another_of_its_own(
    open_store: Callable[..., PostgresStore],
) -> None:
    a, b = open_store(log_name="a"), open_store(log_name="b", lock_timeout=5)
    a_again = open_store(log_name="a", lock_timeout=0.2)
    holding, done = threading.Event(), threading.Event()

    def hold_a() -> None:
        with a.writer() as w:
            append_leaves(w, [b"held"], [merkle.leaf_hash(b"held")])
            holding.set()
            done.wait(30)

    thread = threading.Thread(target=hold_a)
    thread.start()
    try:
        assert holding.wait(30)
        append(b, [b"not held up"])  # another log's lock: no wait
        with pytest.raises(
            StoreError, match=r"another writer held log 'a' for over 0.2 s; nothing was written"
        ):
            append(a_again, [b"held up"])
    finally:
        done.set()
        thread.join()
    append(a_again, [b"after"])
    with a_again.reader() as r:
        assert list(r.entries(0, r.size())) == [b"held", b"after"]


def _terminate_writer(url: str, store: PostgresStore) -> None:
    """End, from another connection, the server process of the session holding the log's write lock."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND objsubid = 2 AND objid = %s",
            (store.log_id,),
        ).fetchone()
    assert row is not None
    assert row[0] is True


@pytest.mark.parametrize("when", ["before a statement", "before the commit"])
def test_a_connection_lost_mid_write_stores_nothing(
    open_store: Callable[..., PostgresStore], postgres_url: str, when: str
) -> None:
    store = open_store()
    kept = leaves_for(0, 260)
    append(store, kept)
    lost = leaves_for(260, 300, "lost")

    def write_and_lose_the_connection() -> None:
        with store.writer() as w:
            append_leaves(w, lost, merkle.leaf_hashes(lost))
            _terminate_writer(postgres_url, store)
            if when == "before a statement":
                w.add_checkpoint(560, "never")

    with pytest.raises(StoreError) as caught:
        write_and_lose_the_connection()
    message = str(caught.value)
    assert message.startswith("PostgreSQL at 127.0.0.1:")
    assert "\n" not in message
    if when == "before a statement":
        assert message.endswith("; nothing was written")
    else:  # the client cannot tell whether a COMMIT it got no answer to took effect
        assert message.endswith("(while committing: the write may or may not have been stored)")
    with store.reader() as r:
        check_tree(r, merkle.leaf_hashes(kept))
        assert r.checkpoint() is None
        assert r.find_leaves(merkle.leaf_hashes(lost[:5])) == {}
    after = leaves_for(260, 5, "after")
    assert append(store, after) == 260  # the lock went with the session: the next write proceeds
    with store.reader() as r:
        check_tree(r, merkle.leaf_hashes(kept + after))


def test_a_server_restart_costs_no_later_transaction(
    open_store: Callable[..., PostgresStore], postgres_server: PostgresServer
) -> None:
    store = open_store(min_connections=2)
    append(store, [b"before"])
    postgres_server.restart()  # every pooled connection is dead now
    with store.reader() as r:
        assert list(r.entries(0, r.size())) == [b"before"]
    append(store, [b"after"])
    with store.reader() as r:
        check_tree(r, merkle.leaf_hashes([b"before", b"after"]))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again once this returns: nothing listens there


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://chainproof:s3cr3t-pw@127.0.0.1:{port}/custody",
        "host=127.0.0.1 port={port} dbname=custody user=chainproof password=s3cr3t-pw",
    ],
)
def test_an_unreachable_server_is_one_line_without_the_password(url: str) -> None:
    port = _closed_port()
    with pytest.raises(StoreError) as caught:
        PostgresStore(url.format(port=port), connect_timeout=5)
    assert str(caught.value) == f"PostgreSQL at 127.0.0.1:{port}/custody: connection refused"


def test_an_error_from_the_server_is_one_line_without_the_password(postgres_server: PostgresServer) -> None:
    url = f"postgresql://postgres:s3cr3t-pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert message.startswith(f"PostgreSQL at 127.0.0.1:{postgres_server.port}/no_such_database: ")
    assert 'no_such_database" does not exist' in message
    assert "s3cr3t-pw" not in message
    assert "\n" not in message


def test_a_missing_log_is_refused_unless_created(open_store: Callable[..., PostgresStore]) -> None:
    with pytest.raises(StoreError, match=r"holds no log named 'absent'"):
        open_store(log_name="absent", create=False)
    open_store(log_name="present")
    assert open_store(log_name="present", create=False).log_name == "present"


def test_a_closed_store_refuses_transactions(open_store: Callable[..., PostgresStore]) -> None:
    store = open_store()
    store.close()
    with pytest.raises(StoreError, match=r"^PostgreSQL at "), store.reader():
        pass
