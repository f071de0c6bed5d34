"""`chainproof key`: make, list and revoke the actor keys the log accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof.attest import keys
from chainproof.cli.output import JsonOption, emit, open_log, passphrase_from
from chainproof.log import shapes

app = typer.Typer(
    help="Register, list and revoke actor keys (registry entries signed by the admin key).",
    no_args_is_help=True,
)

AdminKey = Annotated[
    Path | None,
    typer.Option("--admin-key", help="The admin key, when init kept it outside the store."),
]
AdminPassphrase = Annotated[
    str | None,
    typer.Option(
        "--admin-passphrase-env", metavar="VAR", help="Env variable holding the admin key's passphrase."
    ),
]


@app.command("new")
def new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The actor's name, e.g. a person, contractor or CI job.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the new private key (mode 0600).")],
    passphrase_env: Annotated[
        str | None,
        typer.Option(
            "--passphrase-env", metavar="VAR", help="Encrypt the key file with the passphrase in VAR."
        ),
    ] = None,
    admin_key: AdminKey = None,
    admin_passphrase_env: AdminPassphrase = None,
    as_json: JsonOption = False,
) -> None:
    """Make an Ed25519 key, write it to OUT, and register it in the log."""
    log = open_log(ctx)
    key = keys.generate()
    passphrase = passphrase_from(passphrase_env)
    keys.write_private(out, key, passphrase)
    try:
        result = log.register_key(
            name, key, admin_key=admin_key, passphrase=passphrase_from(admin_passphrase_env)
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    obj = shapes.registered_key_json(name, key.public_key(), result.entries[0].index)
    emit(
        as_json,
        obj,
        [f"registered {name} as {obj['keyid']} (entry {obj['index']}); private key in {out}"],
    )


@app.command("list")
def list_keys(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every key the log knows, with when it was registered and revoked."""
    records = open_log(ctx).keys()
    lines = [
        f"{k.keyid}  {k.role:<5}  {k.name}  registered at {k.registered_at}"
        + ("" if k.revoked_from is None else f", revoked from entry {k.revoked_from}")
        for k in records
    ]
    emit(as_json, {"keys": [shapes.key_json(k) for k in records]}, lines)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key's name or keyid.")],
    effective_from: Annotated[
        int | None,
        typer.Option(
            "--from",
            metavar="INDEX",
            help="First entry the key may no longer sign (default: the next entry).",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    admin_key: AdminKey = None,
    admin_passphrase_env: AdminPassphrase = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key from an entry on: the log rejects its signatures on later entries."""
    log = open_log(ctx)
    record = log.find_key(key)
    result = log.revoke_key(
        record,
        effective_from=effective_from,
        reason=reason,
        admin_key=admin_key,
        passphrase=passphrase_from(admin_passphrase_env),
    )
    index = result.entries[0].index
    revoked = log.find_key(record.keyid)
    emit(
        as_json,
        {**shapes.key_json(revoked), "index": index},
        [
            f"revoked {record.name} ({record.keyid}) for entries {revoked.revoked_from} on; "
            f"the revocation is entry {index}"
        ],
    )
