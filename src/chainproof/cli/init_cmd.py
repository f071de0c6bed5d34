"""`chainproof init`: create a store with its checkpoint key, admin key and genesis entry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.output import JsonOption, emit, store_dir
from chainproof.log import location
from chainproof.log.service import TransparencyLog


def init(
    ctx: typer.Context,
    origin: Annotated[
        str,
        typer.Option("--origin", help="The log's origin: its checkpoint key name, e.g. example.com/custody."),
    ],
    admin_key_out: Annotated[
        Path | None,
        typer.Option("--admin-key-out", help="Write the admin key here instead of into the store."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a new store: checkpoint signing key, admin key, and the genesis entry (index 0)."""
    directory = store_dir(ctx)
    log = TransparencyLog.create(directory, origin, admin_key_out=admin_key_out)
    vkey = log.vkey
    keys_in = log.directory
    log.close()
    directory = location.describe(directory)
    emit(
        as_json,
        {"origin": origin, "vkey": vkey, "store": str(directory)},
        [
            f"initialised {directory} for origin {origin}"
            + (f" (keys in {keys_in})" if str(keys_in) != directory else ""),
            f"checkpoint verifier key: {vkey}",
            "give that key to whoever audits this log",
        ],
    )
