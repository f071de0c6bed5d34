"""The collector is paused for the length of the bulk work, and runs again as it did before."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from chainproof._internal import gcpause


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_pause_stops_the_collector_and_resumes_it() -> None:
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()


def test_an_error_in_the_block_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(ValueError, match="x"), gcpause.paused():
        raise ValueError("x")
    assert gc.isenabled()


def test_pauses_in_several_threads_resume_once_the_last_ends() -> None:
    gc.enable()
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with gcpause.paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with gcpause.paused():
        thread.start()
        inside.wait(10)
    assert not gc.isenabled()  # the other thread's pause goes on
    leave.set()
    thread.join(10)
    assert gc.isenabled()
