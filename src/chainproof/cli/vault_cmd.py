"""`chainproof vault`: the data vault's master key."""

from __future__ import annotations

import typer

app = typer.Typer(help="The data vault's master key: make one, rotate it.", no_args_is_help=True)
