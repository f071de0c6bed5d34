"""The SDK: `chainproof.track` records a run with its environment, inputs and outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

import chainproof
from chainproof.attest import keys
from chainproof.custody.hops import Hop
from chainproof.custody.records import HopRecord
from chainproof.lineage.graph import lineage
from chainproof.log.service import ADMIN_FILE, TransparencyLog


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store with an ingested dataset and a registered trainer: (store, trainer key, dataset)."""
    log = TransparencyLog.create(tmp_path / "store", "sdk.test/custody")
    custody = chainproof.Custody(log)
    try:
        admin = keys.read_private(log.directory / ADMIN_FILE)
        trainer = keys.generate()
        key_file = tmp_path / "trainer.pem"
        keys.write_private(key_file, trainer)
        log.register_key("trainer", trainer)
        trainer_id = keys.keyid(trainer.public_key())
        custody.add_actor("trainer", role="recorder", organisation="lab", keyid=trainer_id, admin=admin)
        data = tmp_path / "data"
        data.mkdir()
        (data / "shard-0.jsonl").write_text('{"x": 1}\n')
        custody.record(Hop.INGEST, trainer, outputs=[chainproof.artifact_digest(data)])
    finally:
        custody.close()
    return tmp_path / "store", key_file, data


def test_a_run_is_recorded_with_its_environment_inputs_and_outputs(
    store: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    directory, key, data = store
    model = tmp_path / "model.bin"
    with chainproof.track(
        "train", key=key, store=directory, inputs=[data], details={"code": "git+x@1"}
    ) as run:
        model.write_bytes(b"weights")
        out = run.output(model)
    assert run.recorded is not None
    assert not run.recorded.warnings
    custody = chainproof.Custody.open(directory)
    try:
        with custody.lineage_index() as index:
            [hop] = index.producers(out)
            graph = lineage(out, index)
    finally:
        custody.close()
    assert isinstance(hop.record, HopRecord)
    assert hop.record.hop is Hop.TRAIN
    assert hop.record.succeeded
    assert hop.record.details == {"code": "git+x@1"}
    env = hop.record.environment
    assert env is not None
    assert any(p.name.lower() == "cryptography" for p in env.packages)  # the running interpreter's
    assert chainproof.artifact_digest(data) in {n.digest for n in graph.nodes}


def test_an_exception_is_recorded_as_a_failed_run_and_raised(store: tuple[Path, Path, Path]) -> None:
    directory, key, data = store
    with (
        pytest.raises(RuntimeError, match="out of memory"),
        chainproof.track("train", key=key, store=directory, inputs=[data]),
    ):
        raise RuntimeError("out of memory")
    custody = chainproof.Custody.open(directory)
    try:
        with custody.lineage_index() as index:
            [hop] = index.consumers(chainproof.artifact_digest(data))
    finally:
        custody.close()
    assert hop.record.succeeded is False
    assert hop.record.outputs == ()


def test_a_failure_to_record_never_hides_the_runs_own_exception(
    store: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    directory, _, data = store
    stranger = tmp_path / "stranger.pem"
    keys.write_private(stranger, keys.generate())
    with (
        pytest.raises(KeyError) as caught,
        chainproof.track("train", key=stranger, store=directory, inputs=[data]),
    ):
        raise KeyError("the run's own")
    assert any("could not record this failed run" in n for n in caught.value.__notes__)
    with (
        pytest.raises(chainproof.VerificationError, match="not registered"),
        chainproof.track("train", key=stranger, store=directory, inputs=[data]) as run,
    ):
        run.output(data / "shard-0.jsonl")


def test_unknown_hops_and_inputs_are_usage_errors(store: tuple[Path, Path, Path], tmp_path: Path) -> None:
    directory, key, _ = store
    with (
        pytest.raises(chainproof.UsageError, match="unknown hop"),
        chainproof.track("bake", key=key, store=directory),
    ):
        pass
    with (
        pytest.raises(chainproof.UsageError, match="no such file"),
        chainproof.track("train", key=key, store=directory, inputs=[tmp_path / "nope"]),
    ):
        pass


def test_the_public_api_lists_what_it_exports() -> None:
    for name in chainproof.__all__:
        assert getattr(chainproof, name) is not None
    with pytest.raises(AttributeError):
        _ = chainproof.nothing_here  # type: ignore[attr-defined]
