"""What the chain-of-custody commands share: the store's custody, keys, artifacts, warnings."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chainproof.cli.output import passphrase_from, progress_callback, request_key, store_dir, store_location
from chainproof.remote.client import is_url

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.custody.records import Digest
    from chainproof.custody.service import Custody

KeyOption = Annotated[Path, typer.Option("--key", metavar="FILE", help="The signer's private key (PEM).")]
PassphraseOption = Annotated[
    str | None,
    typer.Option("--passphrase-env", metavar="VAR", help="Env variable holding the key file's passphrase."),
]


def open_custody(ctx: typer.Context, policy: Path | None = None) -> Custody:
    """The store's custody, closed when the command ends, however it ends."""
    from chainproof.custody.service import Custody
    from chainproof.policy import load

    chosen = load(policy) if policy is not None else None
    indexing = progress_callback("indexing the log's custody records")
    location = store_location(ctx)
    if is_url(location):  # a verified local copy of the server's log, kept up to date
        from chainproof.remote.log import RemoteLog
        from chainproof.remote.mirror import open_mirror

        mirror = open_mirror(RemoteLog(location, request_key(ctx)), progress_callback("copying the log"))
        custody = Custody(mirror, policy=chosen, on_index_progress=indexing)
    else:
        custody = Custody.open(store_dir(ctx), policy=chosen, on_index_progress=indexing)
    ctx.call_on_close(custody.close)
    return custody


def read_key(path: Path, passphrase_env: str | None) -> Ed25519PrivateKey:
    from chainproof.attest import keys

    return keys.read_private(path, passphrase_from(passphrase_env))


def artifact(text: str) -> Digest:
    """`sha256:<hex>` or a path (a file's SHA-256, a directory's manifest root)."""
    from chainproof.custody.service import parse_artifact

    return parse_artifact(text)


def warn(lines: Iterable[str]) -> None:
    for line in lines:
        sys.stderr.write(f"chainproof: warning: {line}\n")
