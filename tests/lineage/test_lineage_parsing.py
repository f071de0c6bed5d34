"""A long backlog is parsed on worker processes and comes back whole and in order, even when a
worker dies."""

from __future__ import annotations

import os

import pytest

from chainproof.lineage import parsing

PARENT = os.getpid()


def _double(chunk: parsing.Chunk) -> tuple[int, list[bytes]]:
    first, leaves = chunk
    return first, [leaf * 2 for leaf in leaves]


def _dies_on_chunk_3(chunk: parsing.Chunk) -> tuple[int, list[bytes]]:
    if chunk[0] == 3 and os.getpid() != PARENT:
        os._exit(1)  # a worker killed mid-run, as the OOM killer would
    return _double(chunk)


def _chunks(n: int) -> list[parsing.Chunk]:
    return [(k, [b"%d" % k]) for k in range(n)]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_chunks_come_back_in_order(workers: int) -> None:
    assert list(parsing.parsed_in_order(_double, iter(_chunks(20)), workers)) == list(
        map(_double, _chunks(20))
    )


def test_a_dead_worker_costs_time_not_chunks() -> None:
    got = list(parsing.parsed_in_order(_dies_on_chunk_3, iter(_chunks(12)), 2))
    assert got == list(map(_double, _chunks(12)))


def test_workers_only_for_a_long_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    assert parsing.workers_for(parsing.MIN_ENTRIES - 1) == 0
    assert parsing.workers_for(parsing.MIN_ENTRIES) == 2
    monkeypatch.setenv("CHAINPROOF_JOBS", "1")
    assert parsing.workers_for(10 * parsing.MIN_ENTRIES) == 0
