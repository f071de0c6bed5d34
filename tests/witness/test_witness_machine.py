"""`Witness`: what it cosigns, what it refuses (with the tlog-witness statuses), and what it keeps."""

from __future__ import annotations

import base64
import itertools
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tree_support import ORIGIN, Log, _root

from chainproof.attest import keys
from chainproof.errors import UsageError
from chainproof.log import merkle
from chainproof.log.note import NoteSigner
from chainproof.witness import protocol
from chainproof.witness.cosignature import CosignatureSigner
from chainproof.witness.protocol import AddCheckpoint
from chainproof.witness.state import WitnessState
from chainproof.witness.witness import Witness


@pytest.fixture
def log() -> Log:
    return Log().grow(5)


@pytest.fixture
def witness(tmp_path: Path, log: Log) -> Witness:
    state = WitnessState(tmp_path / "state")
    state.pin(ORIGIN, log.signer.verifier.vkey)
    return Witness(CosignatureSigner("witness.test/w1", keys.generate()), state, clock=lambda: 1700000000)


def _cosigned_size(witness: Witness) -> int | None:
    latest = witness.latest(ORIGIN)
    return None if latest is None else latest.size


def test_cosigns_a_first_checkpoint_and_its_growth(witness: Witness, log: Log) -> None:
    [cosig] = witness.add_checkpoint(log.request(0))
    body = log.note().split("\n\n")[0] + "\n"
    witness.verifier.verify(cosig, body)
    assert cosig.timestamp == 1700000000
    for grow in (1, 2, 9, 16, 1):
        old = len(log.hashes)
        log.grow(grow)
        witness.add_checkpoint(log.request(old))
        assert _cosigned_size(witness) == len(log.hashes)
    witness.add_checkpoint(log.request(len(log.hashes)))  # the same checkpoint again


def test_state_survives_a_new_process(tmp_path: Path, witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0))
    again = Witness(witness.signer, WitnessState(tmp_path / "state"))
    with pytest.raises(protocol.Conflict) as refused:
        again.add_checkpoint(log.request(0))
    assert refused.value.size == 5
    assert refused.value.status == 409


def test_refuses_a_wrong_old_size(witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0))
    log.grow(3)
    with pytest.raises(protocol.Conflict) as refused:
        witness.add_checkpoint(log.request(4))
    assert refused.value.size == 5


def test_refuses_a_fork_of_the_same_size(witness: Witness, log: Log) -> None:
    fork = log.copy(b"fork").grow(0)
    fork.hashes[-1] = merkle.leaf_hash(b"other")
    witness.add_checkpoint(log.request(0))
    with pytest.raises(protocol.Conflict, match="forked"):
        witness.add_checkpoint(fork.request(5))
    assert witness.latest(ORIGIN).root == _root(log.hashes)  # type: ignore[union-attr]


def test_refuses_an_inconsistent_larger_checkpoint(witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0))
    rewritten = Log(log.signer, b"rewritten").grow(9)
    with pytest.raises(protocol.BadProof) as refused:
        witness.add_checkpoint(rewritten.request(5))
    assert refused.value.status == 422
    assert _cosigned_size(witness) == 5


def test_refuses_a_bad_proof(witness: Witness, log: Log) -> None:
    witness.add_checkpoint(log.request(0))
    log.grow(6)
    good = log.request(5)
    bad = AddCheckpoint(5, (good.proof[0][::-1], *good.proof[1:]), good.note)
    with pytest.raises(protocol.BadProof):
        witness.add_checkpoint(bad)
    with pytest.raises(protocol.BadProof):
        witness.add_checkpoint(AddCheckpoint(5, good.proof[:-1], good.note))


def test_refuses_a_smaller_checkpoint(witness: Witness, log: Log) -> None:
    small = log.copy(b"")
    witness.add_checkpoint(log.grow(4).request(0))
    with pytest.raises(protocol.Conflict):
        witness.add_checkpoint(small.request(5))
    with pytest.raises(protocol.BadRequest):  # old size above the checkpoint's
        witness.add_checkpoint(small.request(9))
    assert _cosigned_size(witness) == 9


def test_refuses_a_forged_log_signature(witness: Witness, log: Log) -> None:
    forger = Log(NoteSigner(ORIGIN, keys.generate())).grow(5)
    with pytest.raises(protocol.BadLogSignature) as refused:
        witness.add_checkpoint(forger.request(0))
    assert refused.value.status == 403
    note = log.note()
    body, _, line = note.rpartition("\n\n")
    blob = bytearray(base64.b64decode(line.split(" ")[-1]))
    blob[10] ^= 1
    tampered = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(protocol.BadLogSignature):
        witness.add_checkpoint(AddCheckpoint(0, (), tampered))
    assert witness.latest(ORIGIN) is None


def test_refuses_an_unknown_log(witness: Witness) -> None:
    stranger = Log(NoteSigner("other.test/log", keys.generate())).grow(2)
    with pytest.raises(protocol.UnknownLog) as refused:
        witness.add_checkpoint(stranger.request(0))
    assert refused.value.status == 404


def test_pinning_another_key_is_refused(witness: Witness) -> None:
    with pytest.raises(UsageError, match="pins"):
        witness.state.pin(ORIGIN, NoteSigner(ORIGIN, keys.generate()).verifier.vkey)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["grow", "fork", "stale", "wrong-old"]), st.integers(1, 9)), max_size=12
    )
)
def test_every_cosigned_checkpoint_extends_the_last(steps: list[tuple[str, int]]) -> None:
    """Whatever is submitted, the checkpoints cosigned form one chain of consistent trees."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Log().grow(1)
        state = WitnessState(Path(tmp))
        state.pin(ORIGIN, log.signer.verifier.vkey)
        witness = Witness(CosignatureSigner("w.test", keys.generate()), state)
        witness.add_checkpoint(log.request(0))
        cosigned = [list(log.hashes)]
        for action, n in steps:
            old = _cosigned_size(witness) or 0
            if action == "grow":
                offered = log.grow(n)
            elif action == "fork":
                offered = log.copy(b"fork%d" % n)
                offered.hashes[n % len(offered.hashes)] = merkle.leaf_hash(b"forged %d" % n)
                offered.grow(n % 3)
            elif action == "stale":
                offered = log.copy(b"")
                offered.hashes = offered.hashes[: max(0, len(offered.hashes) - n)]
            else:
                offered = log.grow(n)
                old = max(0, old - 1)
            try:
                witness.add_checkpoint(offered.request(min(old, len(offered.hashes))))
            except protocol.WitnessRefusal:
                continue
            cosigned.append(list(offered.hashes))
        for before, after in itertools.pairwise(cosigned):
            assert after[: len(before)] == before  # each tree cosigned contains the one before


def test_racing_submissions_are_cosigned_one_at_a_time(tmp_path: Path, log: Log) -> None:
    """Eight submissions from one old size, two histories, through two state objects on one
    directory (as two processes would hold it: only the file lock keeps them apart): exactly one
    is cosigned, and the witness's record is that one."""
    state_dir = tmp_path / "shared"
    first = WitnessState(state_dir)
    first.pin(ORIGIN, log.signer.verifier.vkey)
    signer = CosignatureSigner("w.test", keys.generate())
    witnesses = [Witness(signer, first), Witness(signer, WitnessState(state_dir))]
    witnesses[0].add_checkpoint(log.request(0))
    histories = [log.copy(b"a").grow(3), log.copy(b"b").grow(3)]
    requests = [histories[i % 2].request(5) for i in range(8)]
    won: list[int] = []
    barrier = threading.Barrier(len(requests))

    def submit(i: int) -> None:
        barrier.wait()
        try:
            witnesses[i % 2].add_checkpoint(requests[i])
        except protocol.Conflict:
            return
        won.append(i)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    latest = WitnessState(state_dir).latest(ORIGIN)
    assert latest is not None
    assert latest.root == _root(histories[won[0] % 2].hashes)
