"""Fixtures for the storage, custody, audit and crash tests: logs in temporary directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_support import Built, build_log

from chainproof.attest import keys
from chainproof.log import rehash_workers
from chainproof.log.rehash import RangeHashes, RangeTask
from chainproof.log.rehash_workers import Opener
from chainproof.log.service import TransparencyLog


@pytest.fixture
def make_log(tmp_path: Path) -> Iterator[Callable[..., Built]]:
    """Build logs under tmp_path (closed at teardown): make_log([3, 1, 2], name="a", tag="")."""
    opened: list[TransparencyLog] = []

    def make(batch_sizes: Sequence[int] = (), *, name: str = "store", tag: str = "") -> Built:
        built = build_log(tmp_path / name, batch_sizes, tag=tag)
        opened.append(built.log)
        return built

    yield make
    for log in opened:
        log.close()


@pytest.fixture
def built(make_log: Callable[..., Built]) -> Built:
    """A small log: genesis (0), alice's registration (1), then batches of 3, 1 and 2 envelopes."""
    return make_log([3, 1, 2])


@pytest.fixture
def stranger() -> Ed25519PrivateKey:
    """A key no log knows."""
    return keys.generate()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker counts of the parallel re-hashes that ran."""
    calls: list[int] = []
    real = rehash_workers.run

    def counted(opener: Opener, tasks: list[RangeTask], workers: int) -> Iterator[RangeHashes]:
        calls.append(workers)
        return real(opener, tasks, workers)

    monkeypatch.setattr(rehash_workers, "run", counted)
    return calls
