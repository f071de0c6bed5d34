"""How commands speak: one JSON object on stdout with --json, plain lines otherwise, errors on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeVar

import typer

from chainproof.errors import FormatError, UsageError

if TYPE_CHECKING:
    from chainproof.log.custody import CustodyLog

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(as_json: bool, obj: dict[str, Any], lines: Iterable[str] = ()) -> None:
    if as_json:
        import json  # here: `log get --raw`, run once per entry, never pays for it

        sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")
    else:
        for line in lines:
            sys.stdout.write(line + "\n")
    sys.stdout.flush()


def store_dir(ctx: typer.Context) -> Path:
    path = ctx.obj["store"] if ctx.obj else None
    if not isinstance(path, Path):
        raise UsageError("no store directory given")
    return path


def open_log(ctx: typer.Context) -> CustodyLog:
    """The store's custody log, closed when the command ends, however it ends: a closed store
    folds its write-ahead logs back into the databases and removes them."""
    from chainproof.log.custody import CustodyLog

    log = CustodyLog.open(store_dir(ctx))
    ctx.call_on_close(log.close)
    return log


def read_input(name: str, limit: int | None = None) -> bytes:
    """The bytes of a file, or of standard input for `-`; with `limit`, FormatError past that many
    (found before any more is read)."""
    if limit is None:
        if name == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(name).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {name}: {e.strerror}") from None
    with open_input(name) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FormatError(f"{name} holds more than {limit:,} bytes")
    return data


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    """A file, or standard input for `-`, to read as it goes."""
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = Path(name).open("rb")  # noqa: SIM115 -- closed by the `with` below
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror}") from None
    with stream:
        yield stream


def passphrase_from(env_name: str | None) -> bytes | None:
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise UsageError(f"environment variable {env_name} is empty or not set")
    return value.encode("utf-8")


T = TypeVar("T")
_PROGRESS_MIN = 20_000


def progress(items: Iterable[T], total: int, what: str, counts: Callable[[T], int]) -> Iterator[T]:
    """Yield `items`, showing a progress bar on a terminal's stderr for long runs.

    `counts` says how far each item advances the bar (entries, say, not the checkpoints between).
    """
    if total < _PROGRESS_MIN or not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        done = shown = 0
        for item in items:
            yield item
            done += counts(item)
            if done - shown >= 1000:
                shown = done
                bar.update(task, completed=done)
