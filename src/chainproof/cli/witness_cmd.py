"""`chainproof witness`: cosign a log's checkpoints as a C2SP witness."""

from __future__ import annotations

import typer

app = typer.Typer(help="Witness a log: check and cosign its checkpoints.", no_args_is_help=True)
