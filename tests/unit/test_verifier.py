"""Tests of chainproof._internal.verifier: batches of Ed25519 verifications in a process of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chainproof._internal import verifier
from chainproof.attest import keys


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A program that has not started the process yet, on two cores; the process is ended after."""
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    monkeypatch.setattr(verifier, "_state", verifier._State())
    yield
    worker = verifier._state.worker
    if worker is not None:
        worker.process.kill()
        worker.process.join()


def _batch(n: int, bad: tuple[int, ...]) -> tuple[list[verifier.Check], list[bool]]:
    key, other = keys.generate(), keys.generate()
    messages = [b"entry %d" % i for i in range(n)]
    sigs = keys.sign_many(key, messages)
    raw, other_raw = keys.public_raw(key.public_key()), keys.public_raw(other.public_key())
    checks = [(raw, s, m) for s, m in zip(sigs, messages, strict=True)]
    kinds = [
        (other_raw, sigs[0], messages[0]),  # another key
        (raw, sigs[1], b"tampered"),
        (raw, b"short", messages[2]),
        (raw[:31], sigs[3], messages[3]),  # a key of the wrong length
        (raw, bytes(64), messages[4]),
    ]
    for n_bad, at in enumerate(bad):
        checks[at] = kinds[n_bad % len(kinds)]
    return checks, [i not in bad for i in range(n)]


def test_a_batch_is_verified_in_another_process_as_here(fresh: None) -> None:
    checks, expected = _batch(300, (0, 9, 150, 298, 299))
    assert verifier.available()
    pending = keys.start_verify_many(checks)
    assert isinstance(pending, verifier.Pending)
    assert pending.result() == expected == [verifier.verify_one(c) for c in checks]
    worker = verifier._state.worker
    assert worker is not None
    assert worker.process.is_alive()
    assert worker.process.pid != os.getpid()
    assert pending.result() == expected  # asked again, the same answer


def test_batches_are_answered_whatever_order_their_results_are_asked_in(fresh: None) -> None:
    first, first_expected = _batch(260, (3,))
    second, second_expected = _batch(270, (200, 201))
    third, third_expected = _batch(280, ())
    a, b, c = verifier.Pending(first), verifier.Pending(second), verifier.Pending(third)
    assert b.result() == second_expected
    assert c.result() == third_expected
    assert a.result() == first_expected


def test_a_small_batch_stays_on_threads(fresh: None) -> None:
    checks, expected = _batch(verifier.MIN_CHECKS - 1, (5,))
    started = keys.start_verify_many(checks)
    assert not isinstance(started, verifier.Pending)
    assert started.result() == expected
    assert verifier._state.worker is None


def test_a_killed_process_leaves_its_batches_to_the_caller_and_is_not_used_again(fresh: None) -> None:
    checks, expected = _batch(300, (17, 18))
    assert verifier.Pending(checks).result() == expected
    worker = verifier._state.worker
    assert worker is not None
    worker.process.kill()
    worker.process.join()
    sent = verifier.Pending(checks)  # the send may or may not notice; the answer must
    assert sent.result() == expected
    assert not verifier.available()
    assert verifier._state.worker is None
    started = keys.start_verify_many(checks)
    assert not isinstance(started, verifier.Pending)
    assert started.result() == expected


def test_one_process_on_one_core_is_none(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_JOBS", "1")
    assert not verifier.available()


def test_a_forked_program_starts_a_process_of_its_own(fresh: None) -> None:
    checks, expected = _batch(256, (100,))
    assert verifier.Pending(checks).result() == expected
    parents = verifier._state.worker
    assert parents is not None
    parents.pid = -1  # as a forked child sees its parent's worker: not its own
    assert verifier.Pending(checks).result() == expected
    assert verifier._state.worker is not parents
    parents.process.kill()
    parents.process.join()


def test_the_process_keeps_no_descriptor_of_the_program_open(fresh: None) -> None:
    """A pipe's write end that the program held when the process started is not held by the
    process too: a reader of the program's output sees its end when the program closes it."""
    read_end, write_end = os.pipe()
    try:
        checks, expected = _batch(256, ())
        assert verifier.Pending(checks).result() == expected  # the process starts holding both
        os.close(write_end)
        os.set_blocking(read_end, False)
        assert os.read(read_end, 1) == b""  # end of file, not "would block"
    finally:
        os.close(read_end)
