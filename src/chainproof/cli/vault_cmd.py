"""`chainproof vault`: the data vault's master key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.output import JsonOption, emit

app = typer.Typer(help="The data vault's master key: make one, rotate it.", no_args_is_help=True)


@app.command("keygen")
def keygen(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the key (never overwritten).")],
    as_json: JsonOption = False,
) -> None:
    """Make a vault master key (32 random bytes, mode 0600) for `serve --vault-key FILE`.

    Keep it outside the store's directory and its blobs: a copy of those without the key
    reveals no plaintext, and without the key the datasets cannot be read back at all.
    """
    from chainproof.vault import write_master_key

    key = write_master_key(file)
    emit(
        as_json,
        {"file": str(file), "keyid": key.keyid},
        [f"vault key {key.keyid} written to {file} (mode 0600)"],
    )


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    old: Annotated[
        Path, typer.Option("--old", metavar="FILE", help="The master key the datasets are under now.")
    ],
    new: Annotated[
        Path, typer.Option("--new", metavar="FILE", help="The master key to wrap them under (keygen).")
    ],
    blobs: Annotated[
        str | None,
        typer.Option(
            "--blobs",
            metavar="DIR_OR_S3_URL",
            envvar="CHAINPROOF_VAULT_BLOBS",
            help="The blob store (env CHAINPROOF_VAULT_BLOBS; default: blobs/ in the store's directory).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-wrap every dataset key under a new master key; the blobs are not re-encrypted.

    Run it on the store's host, then restart the server with `--vault-key NEW`. A rotation
    stopped half way is run again: datasets already under NEW are left as they are.
    """
    from chainproof.cli.output import store_dir
    from chainproof.log.location import is_postgres
    from chainproof.log.service import TransparencyLog
    from chainproof.vault import open_blob_store, read_master_key
    from chainproof.vault import rotate as rotate_keys

    old_key, new_key = read_master_key(old), read_master_key(new)
    where = store_dir(ctx)
    if is_postgres(where):
        log = TransparencyLog.open(where, read_only=True)
        try:
            directory = log.directory
        finally:
            log.close()
    else:
        directory = Path(where)
    store = open_blob_store(blobs, directory)
    try:
        done = rotate_keys(store, old_key, new_key)
    finally:
        store.close()
    emit(
        as_json,
        {"rotated": done, "old_keyid": old_key.keyid, "new_keyid": new_key.keyid, "blobs": store.location},
        [f"{len(done)} dataset key(s) now wrapped by vault key {new_key.keyid} (was {old_key.keyid})"],
    )
