"""`chainproof log`: append, read, prove and export."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chainproof._internal.text import plural
from chainproof.cli.output import JsonOption, emit, open_input, open_local_log, open_log, progress
from chainproof.errors import UsageError
from chainproof.log import shapes

if TYPE_CHECKING:
    from chainproof.log.export import Event

_HASH_HEX = 64  # a leaf hash in hex

app = typer.Typer(
    help="Append to the custody log, read it, prove inclusion and consistency, export it.",
    no_args_is_help=True,
)


@app.command("append")
def append(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Files of DSSE envelopes: one envelope, a JSON array, or JSON Lines; - is stdin."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Append envelopes, all or none: each must be signed by registered, unrevoked keys.

    An envelope the log already holds is not added again; its existing index is returned.
    """
    from chainproof._internal.config import max_entry_bytes
    from chainproof.attest import dsse

    limit = max_entry_bytes()
    labelled = []
    for name in files:
        with open_input(name) as stream:
            labelled += dsse.read_documents(stream, name, limit)
    log = open_log(ctx)
    result = log.append([env for _, env in labelled], [label for label, _ in labelled])
    added = sum(not e.duplicate for e in result.entries)
    emit(
        as_json,
        shapes.append_json(result),
        [
            f"appended {plural(added, 'entry', 'entries')} ({len(result.entries) - added} already present); "
            f"tree size {result.tree_size}"
        ],
    )


@app.command("get")
def get(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="The entry's index.")],
    raw: Annotated[bool, typer.Option("--raw", help="Print exactly the bytes hashed into the leaf.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print one entry: its envelope and decoded statement, or its raw leaf bytes."""
    leaf = open_log(ctx).entry(index)
    if raw:
        sys.stdout.buffer.write(leaf)
        sys.stdout.flush()
        return
    from chainproof.attest import dsse

    env = dsse.parse(leaf)
    payload = env.payload.decode("utf-8", errors="replace")
    emit(
        as_json,
        shapes.entry_json(index, env),
        [f"entry {index}", f"signed by: {', '.join(s.keyid for s in env.signatures)}", payload],
    )


@app.command("checkpoint")
def checkpoint(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the latest signed checkpoint (a C2SP signed note), verbatim."""
    note = open_log(ctx).checkpoint()
    if not as_json:
        sys.stdout.write(note)
        sys.stdout.flush()
        return
    emit(True, shapes.checkpoint_json(note))


def _not_an_entry(text: str) -> UsageError:
    shown = text if len(text) <= _HASH_HEX else text[:_HASH_HEX] + "..."
    return UsageError(f"{shown!r} is neither an index nor a 64-hex leaf hash")


@app.command("prove")
def prove(
    ctx: typer.Context,
    entry: Annotated[
        str, typer.Argument(metavar="INDEX", help="The entry's index, or its 64-hex leaf hash.")
    ],
    size: Annotated[
        int | None, typer.Option("--size", help="Prove against this tree size (default: latest).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print an RFC 9162 inclusion proof for one entry."""
    log = open_log(ctx)
    if entry.isascii() and entry.isdigit() and len(entry) < _HASH_HEX:  # an index; 64 digits are a hash
        proof = log.prove(int(entry), size)
    elif len(entry) == _HASH_HEX:
        try:
            leaf_hash = bytes.fromhex(entry)
        except ValueError:
            raise _not_an_entry(entry) from None
        proof = log.prove_leaf(leaf_hash, size)
    else:
        raise _not_an_entry(entry)
    obj = proof.to_json()
    emit(
        as_json,
        obj,
        [
            f"entry {proof.index} in tree of size {proof.tree_size}",
            f"leaf hash {obj['leaf_hash']}",
            f"root hash {obj['root_hash']}",
            "proof:",
            *(f"  {h}" for h in obj["proof"]),
        ],
    )


@app.command("consistency")
def consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Argument(help="The older tree size.")],
    new: Annotated[int | None, typer.Argument(help="The newer tree size (default: latest).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Print an RFC 9162 consistency proof between two tree sizes."""
    proof = open_log(ctx).consistency(old, new)
    obj = proof.to_json()
    emit(
        as_json,
        obj,
        [
            f"tree {proof.old_size} -> {proof.new_size}",
            f"old root {obj['old_root']}",
            f"new root {obj['new_root']}",
            "proof:",
            *(f"  {h}" for h in obj["proof"]),
        ],
    )


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The export file to write.")],
    as_json: JsonOption = False,
) -> None:
    """Write the whole log, with every checkpoint, to one file that `audit --export` checks offline."""
    size = open_local_log(ctx).export(file, watch=_shown)
    lines = [f"exported {plural(size, 'entry', 'entries')} to {file}"]
    emit(as_json, {"file": str(file), "tree_size": size}, lines)


@app.command("repair-checkpoints")
def repair_checkpoints(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Sign again, with the log's own key, the stored checkpoints its verifier key rejects.

    For a store whose log-signer.pem was once replaced by another key: put the log's own key back
    first. Nothing is written unless the whole log then audits clean.
    """
    result = open_local_log(ctx, mirror=False).repair_checkpoints()  # the server's own job
    sizes = ", ".join(map(str, result.resigned))
    emit(
        as_json,
        result.to_json(),
        [
            f"signed {len(result.resigned)} of {result.checkpoints} checkpoints again (tree sizes {sizes})"
            if result.resigned
            else f"all {result.checkpoints} checkpoints verify; nothing to repair"
        ],
    )


@app.command("info")
def info(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the store's origin, size, checkpoint key and key count."""
    info = shapes.LogInfo.of(open_log(ctx))
    emit(
        as_json,
        info.to_json(),
        [
            f"store:  {info.store}",
            f"origin: {info.origin}",
            f"size:   {info.tree_size}",
            f"vkey:   {info.vkey}",
            f"keys:   {info.keys}",
        ],
    )


def _shown(events: Iterable[Event], size: int) -> Iterator[Event]:
    from chainproof.log import export

    return progress(events, size, "exporting", export.entry_count)
