"""`CustodyServer` without HTTP: the logs its requests read through."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from server_support import build_store

from chainproof.server.access import ANONYMOUS, Principal, Role
from chainproof.server.service import CustodyServer, WouldWait
from chainproof.server.settings import ServerSettings


def test_the_thread_given_a_log_of_its_own_answers_as_the_request_threads(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    srv = CustodyServer(ServerSettings(store=store.directory))
    try:
        assert srv.read_here()  # a SQLite store: its readers never wait for a lock
        size = srv.size()
        here = (srv.checkpoint(ANONYMOUS), srv.prove(ANONYMOUS, 1, None, size), srv.entry(ANONYMOUS, 0))
        elsewhere: list[object] = []

        def on_another_thread() -> None:
            elsewhere.extend(
                (srv.checkpoint(ANONYMOUS), srv.prove(ANONYMOUS, 1, None, size), srv.entry(ANONYMOUS, 0))
            )

        thread = threading.Thread(target=on_another_thread)
        thread.start()
        thread.join()
        assert list(here) == elsewhere
        with srv.reading() as mine:
            assert srv._own is not None
            assert mine is srv._own[1]
        seen: list[object] = []

        def reading_elsewhere() -> None:
            with srv.reading() as log:
                seen.append(log)

        thread = threading.Thread(target=reading_elsewhere)
        thread.start()
        thread.join()
        assert seen
        assert seen[0] is not srv._own[1]
    finally:
        srv.close()


def test_custody_answers_are_never_worked_out_on_the_reading_thread(tmp_path: Path) -> None:
    """The thread `read_here` was called on (the event loop's) is told `WouldWait` by anything
    that takes the lineage index, before anything is changed: the work goes to a request thread."""
    store = build_store(tmp_path / "store")
    srv = CustodyServer(ServerSettings(store=store.directory))
    admin = Principal("ab" * 32, "admin", Role.ADMIN)
    try:
        srv.read_here()
        with pytest.raises(WouldWait):
            srv.actors(admin, 0, 10)
        answers: list[dict[str, object]] = []
        thread = threading.Thread(target=lambda: answers.append(srv.actors(admin, 0, 10)))
        thread.start()
        thread.join()
        assert answers
        assert answers[0]["total"] == 4
    finally:
        srv.close()
