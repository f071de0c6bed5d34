"""`chainproof grant`: scoped, expiring, revocable access to a dataset."""

from __future__ import annotations

from typing import Annotated

import typer

from chainproof.cli.custody_options import KeyOption, PassphraseOption, artifact, open_custody, read_key, warn
from chainproof.cli.output import JsonOption, emit

app = typer.Typer(
    help="Grants: an actor may access a dataset, for a purpose, until a time.", no_args_is_help=True
)


@app.command("add")
def add(
    ctx: typer.Context,
    actor: Annotated[str, typer.Argument(help="The actor granted access.")],
    target: Annotated[str, typer.Argument(metavar="ARTIFACT", help="The dataset: a path or sha256:<hex>.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the access is for.")],
    expires: Annotated[
        str, typer.Option("--expires", metavar="ISO8601", help="When it ends, e.g. 2026-12-31T00:00:00Z.")
    ],
    key: KeyOption,
    passphrase_env: PassphraseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Grant ACTOR access to ARTIFACT for a purpose, until a time (an entry signed by --key)."""
    custody = open_custody(ctx)
    done = custody.grant(
        actor, artifact(target), purpose=purpose, expires=expires, key=read_key(key, passphrase_env)
    )
    warn(done.warnings)
    emit(
        as_json,
        {"grant_id": done.statement_digest, "index": done.index, "warnings": list(done.warnings)},
        [f"granted {actor} access until {expires}: grant {done.statement_digest} (entry {done.index})"],
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    grant_id: Annotated[str, typer.Argument(metavar="GRANT_ID", help="The grant's id, sha256:<hex>.")],
    key: KeyOption,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    passphrase_env: PassphraseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a grant: hops after this entry are no longer covered by it; earlier ones stay covered."""
    from chainproof.custody.records import digest

    done = open_custody(ctx).revoke_grant(
        digest(grant_id, "grant id"), key=read_key(key, passphrase_env), reason=reason
    )
    emit(
        as_json,
        {"grant_id": grant_id, "index": done.index},
        [f"revoked grant {grant_id} (entry {done.index})"],
    )


@app.command("list")
def list_grants(
    ctx: typer.Context,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Only this actor's grants.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--artifact", metavar="ARTIFACT", help="Only grants on this dataset.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List grants with their state now: active, expired or revoked."""
    from chainproof.lineage.shapes import grant_json

    states = open_custody(ctx).grants(grantee=actor, artifact=artifact(target) if target else None)
    emit(
        as_json,
        {"grants": [grant_json(s.entry, s.status) for s in states]},
        [
            f"{s.entry.grant_id}  {s.status:<7}  {s.entry.record.grantee} on {s.entry.record.artifact}"
            f" until {s.entry.record.expires} for {s.entry.record.purpose!r} (entry {s.entry.index})"
            for s in states
        ]
        or ["no grants"],
    )


@app.command("uses")
def uses(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ARTIFACT", help="The dataset (sha256:<hex>).")],
    as_json: JsonOption = False,
) -> None:
    """Who used a dataset: its access records in log order, each with the grant that covered it
    (granted before it, not revoked before it, not expired at the time it states), or none."""
    from chainproof.lineage.shapes import grant_use_json

    wanted = artifact(target)
    found = open_custody(ctx).grant_uses(wanted)
    emit(
        as_json,
        {"artifact": wanted, "uses": [grant_use_json(u) for u in found]},
        [
            f"entry {u.index}  {u.actor or 'key ' + u.keyid[:16]}  at {u.time or '?'}  "
            + (f"under grant {u.grant_id}" if u.grant_id else "UNDER NO GRANT")
            for u in found
        ]
        or [f"no access records of {wanted}"],
    )
