"""`chainproof actor`: bind registered keys to actors with a role and an organisation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.custody_options import open_custody
from chainproof.cli.output import JsonOption, emit, passphrase_from

app = typer.Typer(
    help="Actors: people, contractor organisations, services and CI jobs, bound to their keys.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name the key was registered under (`key new NAME`).")],
    role: Annotated[str, typer.Option("--role", help="The actor's role, as the policy names roles.")],
    org: Annotated[str, typer.Option("--org", help="The actor's organisation.")],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            metavar="KEYFILE_OR_PUBKEY",
            help="The actor's key: its private or public key file (PEM), or its key id.",
        ),
    ],
    admin_key: Annotated[
        Path | None, typer.Option("--admin-key", help="The admin key, when init kept it outside the store.")
    ] = None,
    admin_passphrase_env: Annotated[
        str | None,
        typer.Option(
            "--admin-passphrase-env", metavar="VAR", help="Env variable holding the admin key's passphrase."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record that the key registered as NAME belongs to an actor with a role and an organisation
    (an entry signed by the admin key)."""
    from chainproof.attest import keys

    custody = open_custody(ctx)
    keyid = keys.keyid_of(key)
    admin, _ = custody.log.admin_key(admin_key, passphrase_from(admin_passphrase_env))
    done = custody.add_actor(name, role=role, organisation=org, keyid=keyid, admin=admin)
    emit(
        as_json,
        {"name": name, "role": role, "organisation": org, "keyid": keyid, "index": done.index},
        [f"{name} ({keyid[:16]}) is a {role} of {org} (entry {done.index})"],
    )


@app.command("list")
def list_actors(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every actor record, oldest first."""
    from chainproof.lineage.shapes import actor_json

    with open_custody(ctx).lineage_index() as index:
        actors = index.actors()
    emit(
        as_json,
        {"actors": [actor_json(a) for a in actors]},
        [
            f"{r.name}  {r.role}  {r.organisation}  {r.keyid[:16]}  entry {a.index}"
            for a in actors
            for r in [a.record]
        ],
    )
