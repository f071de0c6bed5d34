"""Tests of chainproof._internal.crypto_worker: batches of Ed25519 signing and verification in a process
of their own."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from chainproof._internal import crypto_worker
from chainproof.attest import dsse, keys


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A program that has not started the process yet, on two cores; the process is ended after."""
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    monkeypatch.setattr(crypto_worker, "_state", crypto_worker._State())
    yield
    worker = crypto_worker._state.worker
    if worker is not None:
        worker.process.kill()
        worker.process.join()


def _batch(n: int, bad: tuple[int, ...]) -> tuple[list[crypto_worker.Check], list[bool]]:
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
    assert crypto_worker.available(len(checks))
    pending = keys.start_verify_many(checks)
    assert isinstance(pending, crypto_worker.Pending)
    assert pending.result() == expected == [crypto_worker.verify_one(c) for c in checks]
    worker = crypto_worker._state.worker
    assert worker is not None
    assert worker.process.is_alive()
    assert worker.process.pid != os.getpid()
    assert pending.result() == expected  # asked again, the same answer


def test_a_batch_is_signed_in_another_process_as_the_key_itself_signs(fresh: None) -> None:
    key = keys.generate()
    messages = [b"statement %d" % i for i in range(crypto_worker.MIN_BATCH + 5)]
    started = keys.start_sign_many(key, messages)
    assert isinstance(started, crypto_worker.Pending)
    assert started.result() == [key.sign(m) for m in messages]  # Ed25519 is deterministic


def test_lots_signed_while_the_next_is_written_make_the_envelopes_one_at_a_time_would(fresh: None) -> None:
    key = keys.generate()
    kid = keys.keyid(key.public_key())
    payloads = [b'{"n":%d}' % i for i in range(3 * crypto_worker.MIN_BATCH + 7)]
    signing = dsse.Signing(dsse.INTOTO_PAYLOAD_TYPE, key, kid)
    for at in range(0, len(payloads), crypto_worker.MIN_BATCH):
        signing.add(payloads[at : at + crypto_worker.MIN_BATCH])  # the last lot stays on threads
    assert signing.envelopes() == [dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, p, key, kid) for p in payloads]
    assert crypto_worker._state.worker is not None


def test_signing_and_verifying_batches_are_answered_in_turn(fresh: None) -> None:
    key = keys.generate()
    messages = [b"m %d" % i for i in range(crypto_worker.MIN_BATCH)]
    checks, expected = _batch(crypto_worker.MIN_BATCH, (1,))
    signed = keys.start_sign_many(key, messages)
    verified = crypto_worker.start_verify(checks)
    assert verified.result() == expected
    assert signed.result() == [key.sign(m) for m in messages]


def test_batches_are_answered_whatever_order_their_results_are_asked_in(fresh: None) -> None:
    first, first_expected = _batch(260, (3,))
    second, second_expected = _batch(270, (200, 201))
    third, third_expected = _batch(280, ())
    a, b, c = (
        crypto_worker.start_verify(first),
        crypto_worker.start_verify(second),
        crypto_worker.start_verify(third),
    )
    assert b.result() == second_expected
    assert c.result() == third_expected
    assert a.result() == first_expected


def test_a_small_batch_stays_on_threads(fresh: None) -> None:
    checks, expected = _batch(crypto_worker.MIN_BATCH - 1, (5,))
    _done_on_threads(checks, expected)
    assert crypto_worker._state.worker is None


def _done_on_threads(checks: list[crypto_worker.Check], expected: list[bool]) -> None:
    """The batch is verified, and its messages signed, on this process's threads, and right."""
    started = keys.start_verify_many(checks)
    assert not isinstance(started, crypto_worker.Pending)
    assert started.result() == expected
    key = keys.generate()
    signed = keys.start_sign_many(key, [m for _, _, m in checks])
    assert not isinstance(signed, crypto_worker.Pending)
    assert signed.result() == [key.sign(m) for _, _, m in checks]


def test_a_killed_process_leaves_its_batches_to_the_caller_and_is_not_used_again(fresh: None) -> None:
    checks, expected = _batch(300, (17, 18))
    assert crypto_worker.start_verify(checks).result() == expected
    worker = crypto_worker._state.worker
    assert worker is not None
    worker.process.kill()
    worker.process.join()
    sent = crypto_worker.start_verify(checks)  # the send may or may not notice; the answer must
    key = keys.generate()
    messages = [m for _, _, m in checks]
    signed = crypto_worker.start_sign(keys._secret(key), messages)
    assert sent.result() == expected
    assert signed.result() == [key.sign(m) for m in messages]
    assert not crypto_worker.available(crypto_worker.MIN_BATCH)
    assert crypto_worker._state.worker is None
    _done_on_threads(checks, expected)


def test_one_process_on_one_core_is_none(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_JOBS", "1")
    assert not crypto_worker.available(crypto_worker.MIN_BATCH)


def test_a_forked_program_starts_a_process_of_its_own(fresh: None) -> None:
    checks, expected = _batch(256, (100,))
    assert crypto_worker.start_verify(checks).result() == expected
    parents = crypto_worker._state.worker
    assert parents is not None
    parents.pid = -1  # as a forked child sees its parent's worker: not its own
    assert crypto_worker.start_verify(checks).result() == expected
    assert crypto_worker._state.worker is not parents
    parents.process.kill()
    parents.process.join()


def test_the_process_keeps_no_descriptor_of_the_program_open(fresh: None) -> None:
    """A pipe's write end that the program held when the process started is not held by the
    process too: a reader of the program's output sees its end when the program closes it."""
    read_end, write_end = os.pipe()
    try:
        checks, expected = _batch(256, ())
        assert crypto_worker.start_verify(checks).result() == expected  # the process starts holding both
        os.close(write_end)
        os.set_blocking(read_end, False)
        assert os.read(read_end, 1) == b""  # end of file, not "would block"
    finally:
        os.close(read_end)


def test_batches_sent_faster_than_their_answers_are_read_do_not_block_each_other(fresh: None) -> None:
    """Sending many large batches before asking for any answer: the process must keep reading
    them while its answers wait to be read, or both sides wait on a full pipe for ever."""
    key = keys.generate()
    lots = [[bytes([n]) * 10_000 + b"%d" % i for i in range(crypto_worker.MIN_BATCH)] for n in range(24)]
    outcome: list[bool] = []

    def send_all_then_read() -> None:
        pending = [keys.start_sign_many(key, lot) for lot in lots]  # 30 MB out, 190 KB back
        outcome.append(
            all(p.result() == [key.sign(m) for m in lot] for p, lot in zip(pending, lots, strict=True))
        )

    worker = threading.Thread(target=send_all_then_read, daemon=True)
    worker.start()
    worker.join(timeout=120)  # a guard against hanging, not a measure of speed
    assert not worker.is_alive(), "the batches and their answers blocked each other"
    assert outcome == [True]


def test_an_answer_interrupted_half_read_ends_the_process(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a read cut short (Ctrl-C), the pipe may stand inside an answer: the next answer read
    from it could be any bytes of the right length. The process is not used again."""
    checks, expected = _batch(crypto_worker.MIN_BATCH, (3,))
    pending = crypto_worker.start_verify(checks)
    worker = crypto_worker._state.worker
    assert worker is not None

    def interrupted(self: object, maxlength: int | None = None) -> bytes:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(type(worker.receive), "recv_bytes", interrupted)
        with pytest.raises(KeyboardInterrupt):
            pending.result()
    assert not crypto_worker.available(crypto_worker.MIN_BATCH)
    assert crypto_worker._state.worker is None
    assert pending.result() == expected  # worked out here
    assert crypto_worker.start_verify(checks).result() == expected
