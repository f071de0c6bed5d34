"""`chainproof serve`: the store as a shared custody log over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.output import emit, store_dir
from chainproof.errors import UsageError
from chainproof.log import location


def serve(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="DIR|URL",
            help="The store to serve, a directory or postgresql://…#name (default: the global --store).",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="The port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Server processes sharing the port and the store.")
    ] = 1,
    private: Annotated[
        bool,
        typer.Option(
            "--private",
            help="Refuse unsigned reads of the log too (by default anyone may read it, as a "
            "public transparency log).",
        ),
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", min=0.001, help="Requests a second per signer, on average.")
    ] = 200.0,
    burst: Annotated[int, typer.Option("--burst", min=1, help="Requests per signer at once.")] = 400,
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="The largest request body taken, in bytes.")
    ] = 16 << 20,
    body_timeout: Annotated[
        float,
        typer.Option("--body-timeout", min=0.1, help="Seconds a client may take to send a request body."),
    ] = 30.0,
    checkpoint_key: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint-key",
            metavar="FILE",
            help="The log's checkpoint key, when this host keeps it elsewhere than in the store's directory.",
        ),
    ] = None,
    vault_key: Annotated[
        Path | None,
        typer.Option(
            "--vault-key",
            metavar="FILE",
            envvar="CHAINPROOF_VAULT_KEY",
            help="The data vault's master key (`vault keygen`; env CHAINPROOF_VAULT_KEY), kept outside "
            "the store: with it the server keeps datasets (`data push`, `data pull`).",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            metavar="VKEY",
            help="A witness whose cosignatures of this log's checkpoints are kept and served "
            "(its C2SP verifier key; repeat for several).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Say where it serves as one JSON object on stdout, before serving."),
    ] = False,
) -> None:
    """Serve the store over HTTP (OpenAPI at /openapi.json): appends, entries, proofs, checkpoints,
    keys, actors, grants, lineage, verify and impact, for requests signed (RFC 9421) by registered
    actor keys, as their roles allow. Stops on Ctrl-C or SIGTERM once the requests in flight are
    answered and their appends committed.

    The server signs the entries that record denied requests with its own key: --key FILE
    (global), else the store's server.pem, made and registered with the store's admin key when
    first needed.
    """
    from chainproof.server.run import serve as run
    from chainproof.server.settings import ServerSettings

    directory: Path | str = store_dir(ctx) if store is None else store
    if not location.is_postgres(directory):
        directory = Path(directory)
        if not (directory / "log.db").exists():
            raise UsageError(f"no chainproof store at {directory} (run `chainproof init` first)")
    key = ctx.obj.get("key") if ctx.obj else None
    settings = ServerSettings(
        store=directory,
        key=key,
        checkpoint_key=checkpoint_key,
        public_log=not private,
        rate=rate,
        burst=burst,
        max_body=max_body,
        body_timeout=body_timeout,
        vault_key=vault_key,
        witnesses=tuple(witness or ()),
    )
    from chainproof.server.cosignatures import parse_witnesses  # a bad --witness: refused before serving

    parse_witnesses(settings.witnesses)
    url = f"http://{host}:{port}"
    shown = location.describe(directory)
    emit(as_json, {"url": url, "store": shown, "workers": workers}, [f"serving {shown} at {url}"])
    run(settings, host=host, port=port, workers=workers)
