"""Batches over threads come back whole, in order, and with the first error."""

from __future__ import annotations

import threading
import time

import pytest

from chainproof._internal import config, threads
from chainproof.deps.rules.parallel import worker_count
from chainproof.log.rehash_workers import Jobs


def test_a_large_batch_is_shared_out_and_comes_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.JOBS_ENV, "3")
    seen: set[str] = set()

    def square(x: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.0005)  # as a libsodium call does, it lets the other threads run
        return x * x

    items = list(range(4 * threads.MIN_ITEMS))
    assert threads.map_released(square, items) == [x * x for x in items]
    assert threading.current_thread().name in seen  # the caller takes a share,
    assert len(seen) >= 2  # and the pool the others


def test_started_work_goes_on_while_the_caller_does_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.JOBS_ENV, "2")
    here = threading.current_thread().name
    names: list[str] = []

    def slow(x: int) -> int:
        names.append(threading.current_thread().name)
        time.sleep(0.0005)
        return -x

    items = list(range(2 * threads.MIN_ITEMS))
    started = threads.start_released(slow, items)
    deadline = time.monotonic() + 10
    while not names and time.monotonic() < deadline:  # the caller's own work, meanwhile
        time.sleep(0.001)
    assert names  # begun before anyone asked for the result,
    assert here not in names  # by a helper
    assert started.result() == [-x for x in items]
    assert len(names) == len(items)


def test_a_small_batch_or_one_job_stays_in_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    here = threading.current_thread().name
    monkeypatch.setenv(config.JOBS_ENV, "4")
    assert {threads.map_released(lambda _: threading.current_thread().name, [1, 2])[0]} == {here}
    monkeypatch.setenv(config.JOBS_ENV, "1")
    names = threads.map_released(lambda _: threading.current_thread().name, list(range(1000)))
    assert set(names) == {here}


def test_an_error_in_any_share_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.JOBS_ENV, "2")
    items = list(range(4 * threads.MIN_ITEMS))

    def fail_late(x: int) -> int:
        if x == items[-1]:
            raise ValueError("the last one")
        return x

    with pytest.raises(ValueError, match="the last one"):
        threads.map_released(fail_late, items)


@pytest.mark.parametrize(
    ("raw", "expected"), [("3", 3), ("0", 1), (" 2 ", 2), ("²", None), ("x", None), ("", None)]
)
def test_jobs_reads_only_plain_numbers(raw: str, expected: int | None) -> None:
    assert config.jobs({config.JOBS_ENV: raw}) == (expected or config.jobs({}))


@pytest.mark.parametrize("raw", ["3", "0", "²", "x"])
def test_every_parallel_part_reads_jobs_the_same_way(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(config.JOBS_ENV, raw)
    assert Jobs.default().workers == worker_count() == config.jobs()
