"""`chainproof data`: dataset manifests, proofs that a file belongs to a dataset, and diffs.

Parsing and printing only: the work is `chainproof.custody`'s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chainproof._internal import untrusted_json
from chainproof.cli.output import JsonOption, emit, read_input
from chainproof.errors import FormatError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.custody import Change, ManifestDiff, ProgressCallback

app = typer.Typer(
    help="Dataset manifests: hash a dataset, prove that a file belongs to it, diff two versions; "
    "push a dataset to a server's vault and pull it back under a grant.",
    no_args_is_help=True,
)

JobsOption = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        min=0,
        envvar="CHAINPROOF_JOBS",
        metavar="N",
        help="Threads hashing files (env CHAINPROOF_JOBS; default: every core; 0 or 1: one).",
    ),
]
_BAR_AFTER_SECONDS = 0.5


@contextmanager
def _progress(what: str) -> Iterator[ProgressCallback | None]:
    """A byte progress bar on a terminal's stderr, shown only once the work has taken a while."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    started = time.monotonic()
    bar = Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(what, total=None)
    shown = False

    def update(done: int, total: int) -> None:
        nonlocal shown
        if not shown and time.monotonic() - started < _BAR_AFTER_SECONDS:
            return
        bar.update(task, completed=done, total=total)
        if not shown:
            bar.start()  # after the first update, so that its first frame already has the total
            shown = True

    try:
        yield update
    finally:
        if shown:
            bar.stop()


@contextmanager
def _stages(*names: str) -> Iterator[tuple[ProgressCallback, ...]]:
    """One progress callback per stage of a long command, each stage's bar shown in turn (a
    terminal shows one at a time): the first report of a stage ends the bar of the one before."""
    stack = ExitStack()
    shown: dict[str, ProgressCallback | None] = {}

    def stage(name: str) -> ProgressCallback:
        def update(done: int, total: int) -> None:
            if name not in shown:
                stack.close()
                shown.clear()
                shown[name] = stack.enter_context(_progress(name))
            callback = shown[name]
            if callback is not None:
                callback(done, total)

        return update

    with stack:
        yield tuple(stage(n) for n in names)


def _jobs(jobs: int | None) -> int | None:
    return None if jobs is None else max(1, jobs)


@app.command("manifest")
def manifest(
    path: Annotated[Path, typer.Argument(help="A directory (every file under it) or one file.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Also write the manifest JSON here."),
    ] = None,
    jobs: JobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hash a dataset: every file's path, size and SHA-256, and the Merkle root that names it.

    Symlinks are recorded with their target text, never followed. Unreadable files, fifos,
    sockets, devices, symlink loops, names that are not UTF-8, and files that change while they
    are hashed are errors naming the path.
    """
    from chainproof._internal.files import write_atomic
    from chainproof.custody import build

    with _progress("hashing") as on_progress:
        result = build(path, jobs=_jobs(jobs), on_progress=on_progress)
    if out is not None:
        write_atomic(out, result.dumps())
    lines = [f"root   {result.digest}", f"files  {len(result):,} ({result.total_size:,} bytes)"]
    emit(as_json, result.to_json(), lines + ([f"written to {out}"] if out is not None else []))


@app.command("digest")
def digest(
    path: Annotated[Path, typer.Argument(help="A file or a directory.")],
    jobs: JobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print an artifact's name, sha256:<hex>: a file's SHA-256 (as sha256sum prints it), a
    directory's manifest root. Use it as an attestation subject's digest."""
    from chainproof.custody import artifact_digest

    kind = "directory" if path.is_dir() else "file"
    name = artifact_digest(path, jobs=_jobs(jobs))
    emit(as_json, {"digest": name, "kind": kind}, [name])


@app.command("prove")
def prove(
    source: Annotated[
        Path, typer.Argument(metavar="MANIFEST_OR_DIR", help="A manifest JSON file or a directory.")
    ],
    relpath: Annotated[str, typer.Argument(metavar="RELPATH", help="The file's path in the dataset.")],
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Also write the proof JSON here.")
    ] = None,
    jobs: JobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Prove that RELPATH is in the dataset: an RFC 9162 inclusion proof of its manifest entry.

    The JSON is `log prove`'s (index, tree_size, leaf_hash, root_hash, proof) plus root, path,
    size and sha256, so that `verify-proof` checks it as well as `data verify-file`.
    """
    import json

    from chainproof._internal.files import write_atomic
    from chainproof.custody import load
    from chainproof.custody import prove as prove_entry

    with _progress("hashing") as on_progress:
        proof = prove_entry(load(source, jobs=_jobs(jobs), on_progress=on_progress), relpath.strip("/"))
    obj = proof.to_json()
    if out is not None:
        write_atomic(out, (json.dumps(obj) + "\n").encode())
    p = proof.inclusion
    lines = [
        f"{proof.entry.path}: entry {p.index} of {p.tree_size} in dataset {obj['root']}",
        f"leaf hash {p.leaf_hash.hex()}",
        *(f"  {h.hex()}" for h in p.proof),
    ]
    emit(as_json, obj, lines + ([f"written to {out}"] if out is not None else []))


@app.command("verify-file")
def verify_file(
    file: Annotated[Path, typer.Argument(help="The file to check.")],
    proof_file: Annotated[
        str, typer.Option("--proof", metavar="PROOF.json", help="From data prove; - is stdin.")
    ],
    root: Annotated[
        str, typer.Option("--root", metavar="sha256:HEX", help="The dataset's root, from a source you trust.")
    ],
    path: Annotated[
        str | None,
        typer.Option(
            "--path", metavar="RELPATH", help="The file's path in the dataset (default: the proof's)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check that FILE is the file at RELPATH in the dataset named by --root; exit 0 if so, 1 if not.

    Only --root is trusted: the leaf is recomputed from FILE's bytes and RELPATH, and the proof's
    hashes must lead from it to that root.
    """

    from chainproof.custody import FileProof, format_digest
    from chainproof.custody import verify_file as verify

    try:
        obj = untrusted_json.loads(read_input(proof_file))
    except ValueError as e:
        raise FormatError(f"{proof_file}: not JSON ({e})") from None
    proof = FileProof.from_json(obj)
    entry = verify(file, path=path.strip("/") if path is not None else None, proof=proof, root=root)
    name = format_digest(proof.root)
    result = {
        "valid": True,
        "path": entry.path,
        "size": entry.size,
        "sha256": entry.sha256.hex(),
        "root": name,
        "index": proof.inclusion.index,
        "tree_size": proof.inclusion.tree_size,
    }
    emit(as_json, result, [f"valid: {file} is {entry.path} in dataset {name} ({entry.size:,} bytes)"])


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="A manifest JSON file, or a directory.")],
    new: Annotated[Path, typer.Argument(help="A manifest JSON file, or a directory.")],
    jobs: JobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the files added, removed and changed from OLD to NEW; exit 0 if identical, 1 if not."""
    from chainproof.custody import diff as diff_manifests
    from chainproof.custody import load

    with _progress("hashing") as on_progress:
        before = load(old, jobs=_jobs(jobs), on_progress=on_progress)
        after = load(new, jobs=_jobs(jobs), on_progress=on_progress)
    result = diff_manifests(before, after)
    emit(as_json, result.to_json(), _diff_lines(result))
    if not result.identical:
        raise typer.Exit(1)


def _size_change(change: Change) -> str:
    old, new = change.old, change.new
    if old.kind is not new.kind:
        return f"{old.kind.value} -> {new.kind.value}"
    if old.size != new.size:
        return f"{old.size:,} -> {new.size:,} bytes"
    return f"{new.size:,} bytes, new content"


def _diff_lines(result: ManifestDiff) -> list[str]:
    from chainproof.custody import format_digest

    lines = [f"+ {e.path} ({e.size:,} bytes)" for e in result.added]
    lines += [f"- {e.path} ({e.size:,} bytes)" for e in result.removed]
    lines += [f"~ {c.path} ({_size_change(c)})" for c in result.changed]
    old, new = format_digest(result.old_root), format_digest(result.new_root)
    if result.identical:
        return [*lines, f"identical: {new}"]
    summary = f"{len(result.added)} added, {len(result.removed)} removed, {len(result.changed)} changed"
    return [*lines, f"{summary} ({old} -> {new})"]


def _remote(ctx: typer.Context) -> tuple[str, Ed25519PrivateKey]:
    """The server's URL (`--store`) and the key that signs for the actor (`--key`)."""
    from chainproof.cli.output import request_key, store_location
    from chainproof.errors import UsageError
    from chainproof.remote.client import is_url

    location = store_location(ctx)
    if not is_url(location):
        command = ctx.command_path.removeprefix("chainproof ")
        raise UsageError(f"`{command}` works with a server's vault: give --store http(s)://...")
    key = request_key(ctx)
    if key is None:
        raise UsageError(
            "give --key FILE (or env CHAINPROOF_KEY): the actor's registered key signs every request"
        )
    return location, key


@app.command("push")
def push(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The dataset: a directory (every file under it) or one file.")],
    jobs: JobsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a dataset in the server's vault, encrypted at rest, named by its manifest root.

    Every file is hashed, then sent in parts (an interrupted push resumes from what the server
    holds); the pusher's key then signs a statement naming the root, which the server appends to
    the log and whose inclusion is proved here. Admin and recorders may push.
    """
    from chainproof.vault import push as push_dataset

    url, key = _remote(ctx)
    with _stages("hashing", "sending") as (on_hashing, on_sending):
        result = push_dataset(url, key, path, jobs=_jobs(jobs), on_hashing=on_hashing, on_progress=on_sending)
    lines = [
        f"root   {result.root}",
        f"files  {result.files:,} ({result.bytes:,} bytes, {result.sent:,} sent now)",
        f"entry  {result.entry} (the log entry naming the dataset, proved included)",
    ]
    emit(as_json, result.to_json(), lines)


@app.command("pull")
def pull(
    ctx: typer.Context,
    artifact: Annotated[str, typer.Argument(metavar="ARTIFACT", help="The dataset's root, sha256:<hex>.")],
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to put its files (made if absent).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Fetch a dataset from the server's vault: for an actor holding a live grant for it only.

    The server records the access in the log before it sends a byte. Every file is checked
    against the manifest, the manifest against ARTIFACT, and the entry naming ARTIFACT is proved
    in the log before any file gets its final name; an interrupted pull leaves its bytes in a
    hidden directory inside DIR and the next pull resumes. Exit 1 when refused (no live grant)
    or when anything fails its check.
    """
    from chainproof.vault import pull as pull_dataset

    url, key = _remote(ctx)
    with _progress("receiving") as on_progress:
        result = pull_dataset(url, key, artifact, directory, on_progress=on_progress)
    lines = [
        f"pulled {result.root} into {result.directory}",
        f"files  {result.files:,} ({result.bytes:,} bytes, {result.received:,} received now), all verified",
        f"access entry {result.access_entry}, dataset entry {result.stored_entry} (both proved in the log)",
    ]
    emit(as_json, result.to_json(), lines)
