"""The Python SDK for training code: record a run, its environment, inputs and outputs.

    import chainproof

    with chainproof.track("train", key="lab.pem", inputs=["data/train/", "sha256:9f86..."]) as run:
        model = fit(...)
        model.save("model.safetensors")
        run.output("model.safetensors")

On leaving the block the run is recorded as one hop, signed with `key`: the running
interpreter's environment (every installed distribution, read without running anything, and the
names of the credentials in reach), the inputs and the outputs. An exception inside the block is
recorded as a failed run and re-raised, never hidden. A directory is named by its manifest root
and a file by its SHA-256, computed when it is named: inputs when the block starts, outputs at
`run.output`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainproof.attest.keys import read_private
from chainproof.custody.environment import Captured, capture
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody, Recorded, now, parse_artifact
from chainproof.errors import ChainproofError, UsageError
from chainproof.log.service import default_store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PathOrDigest = str | os.PathLike[str]


@dataclass
class Run:
    """The run being recorded; `output` names what it made."""

    hop: Hop
    inputs: tuple[Digest, ...]
    started: str
    outputs: list[Digest] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    recorded: Recorded | None = None
    """Set once the run is recorded, on leaving the block."""

    def output(self, artifact: PathOrDigest) -> Digest:
        """Name an output (a path, hashed now, or `sha256:<hex>`); returns its digest."""
        d = parse_artifact(os.fspath(artifact))
        if d not in self.outputs:
            self.outputs.append(d)
        return d


@contextmanager
def track(
    hop: str | Hop,
    *,
    key: PathOrDigest,
    store: PathOrDigest | None = None,
    inputs: Sequence[PathOrDigest] = (),
    details: Mapping[str, Any] | None = None,
    passphrase: bytes | None = None,
) -> Iterator[Run]:
    """Record the block as one `transform` or `train` (or any hop) in the store's custody log.

    `store` defaults as on the command line: `$CHAINPROOF_STORE`, else `./.chainproof`.
    """
    try:
        kind = Hop(str(hop))
    except ValueError:
        raise UsageError(f"unknown hop {hop!r}; hops are {Hop.names()}") from None
    signer = read_private(Path(key), passphrase)
    directory = Path(store) if store is not None else default_store()
    run = Run(kind, tuple(parse_artifact(os.fspath(i)) for i in inputs), now(), details=dict(details or {}))
    environment = capture(None) if kind in (Hop.TRANSFORM, Hop.TRAIN) else None
    try:
        yield run
    except BaseException as e:
        try:
            _record(directory, run, signer, environment, succeeded=False)
        except ChainproofError as why:  # the run's own exception must surface, not ours
            e.add_note(f"chainproof could not record this failed run: {why}")
        raise
    _record(directory, run, signer, environment, succeeded=True)


def _record(
    directory: Path, run: Run, signer: Ed25519PrivateKey, environment: Captured | None, *, succeeded: bool
) -> None:
    custody = Custody.open(directory)
    try:
        run.recorded = custody.record(
            run.hop,
            signer,
            inputs=run.inputs,
            outputs=run.outputs,
            details=run.details,
            environment=environment,
            succeeded=succeeded,
        )
    finally:
        custody.close()
