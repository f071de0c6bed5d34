"""`chainproof policy`: print a starting policy, and check a policy file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.output import JsonOption, emit

app = typer.Typer(
    help="Custody policies: who may record which hop, who may touch which data, which hops an "
    "artifact needs, which environments are denied.",
    no_args_is_help=True,
)


@app.command("template")
def template_command(as_json: JsonOption = False) -> None:
    """Print a complete, commented starting policy (TOML) to adapt and pass to `verify --policy`."""
    from chainproof.policy import template

    if as_json:
        emit(True, {"policy": template()})
        return
    sys.stdout.write(template())
    sys.stdout.flush()


@app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The policy file (TOML).")],
    as_json: JsonOption = False,
) -> None:
    """Check a policy file; an error names the line. Exit 0 valid, 1 invalid, 2 unreadable."""
    from chainproof.policy import load

    policy = load(file)
    emit(
        as_json,
        {"ok": True, "file": str(file), **policy.to_json()},
        [
            f"{file}: a valid policy",
            *(
                f"  role {name}: may record {', '.join(sorted(r.hops)) or 'nothing'}"
                + (f" (under a grant: {', '.join(sorted(r.under_grant))})" if r.under_grant else "")
                for name, r in policy.roles.items()
            ),
            f"  grants added and revoked by: {', '.join(sorted(policy.grant_issuers)) or 'nobody'}",
            *(f"  {r.hop.value} needs an earlier {r.after.value}" for r in policy.requires),
            *(
                f"  environments denied with a finding of {', '.join(d.rules)} at {d.at_or_above} or worse"
                for d in policy.deny_findings
            ),
        ],
    )
