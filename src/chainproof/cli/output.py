"""How commands speak: one JSON object on stdout with --json, plain lines otherwise, errors on stderr."""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeVar

import typer

from chainproof.errors import FormatError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.deps.watch import Watch
    from chainproof.log.service import TransparencyLog
    from chainproof.remote.log import RemoteLog

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(as_json: bool, obj: dict[str, Any], lines: Iterable[str] = ()) -> None:
    if as_json:
        import json  # here: `log get --raw`, run once per entry, never pays for it

        sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")
    else:
        for line in lines:
            sys.stdout.write(line + "\n")
    sys.stdout.flush()


def store_location(ctx: typer.Context) -> str:
    """What `--store` names: a directory, or a server's URL."""
    location = ctx.obj["store"] if ctx.obj else None
    if not isinstance(location, str) or not location:
        raise UsageError("no store given")
    return location


def store_dir(ctx: typer.Context) -> Path | str:
    """The store this process opens itself: a directory, or a `postgresql://` URL; UsageError for a
    server's URL, for the commands that work only on a store of their own."""
    from chainproof.log.location import is_postgres
    from chainproof.remote.client import is_url

    location = store_location(ctx)
    if is_url(location):
        command = ctx.command_path.removeprefix("chainproof ")
        raise UsageError(f"`{command}` works on a store of its own, not on a server ({location})")
    return location if is_postgres(location) else Path(location)


def request_key(ctx: typer.Context) -> Ed25519PrivateKey | None:
    """The key that signs requests to a server (`--key`, env CHAINPROOF_KEY), if one is given."""
    path = ctx.obj.get("key") if ctx.obj else None
    if path is None:
        return None
    from chainproof._internal.config import Settings
    from chainproof.attest import keys

    return keys.read_private(path, Settings().key_passphrase)


def open_log(ctx: typer.Context) -> TransparencyLog | RemoteLog:
    """The store's custody log, local or on a server, closed when the command ends, however it
    ends: a closed store folds its write-ahead logs back into the databases and removes them."""
    from chainproof.remote.client import is_url

    location = store_location(ctx)
    log: TransparencyLog | RemoteLog
    if is_url(location):
        from chainproof.remote.log import RemoteLog

        log = RemoteLog(location, request_key(ctx))
    else:
        from chainproof.log.service import TransparencyLog

        log = TransparencyLog.open(store_dir(ctx))
    ctx.call_on_close(log.close)
    return log


def open_local_log(ctx: typer.Context, *, mirror: bool = True) -> TransparencyLog:
    """The custody log of a store of this host, for the commands that read a whole store (export,
    audit, repair); for a server, unless `mirror` is False, the verified local copy of its log
    (`remote.mirror`). Closed when the command ends."""
    from chainproof.remote.client import is_url

    location = store_location(ctx)
    log: TransparencyLog
    if is_url(location) and mirror:
        from chainproof.remote.log import RemoteLog
        from chainproof.remote.mirror import open_mirror

        log = open_mirror(RemoteLog(location, request_key(ctx)), progress_callback("copying the log"))
    else:
        from chainproof.log.service import TransparencyLog

        log = TransparencyLog.open(store_dir(ctx))
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
U = TypeVar("U")


class Verbosity(enum.IntEnum):
    """How much a command says on stderr besides its errors (`--quiet`, `--verbose`)."""

    QUIET = 0
    """Errors, and warnings that explain an exit code (a scan left incomplete); nothing else."""
    NORMAL = 1
    """Also summaries and notes, and progress bars when stderr is a terminal."""
    VERBOSE = 2
    """Also a line when each long task starts and ends, whatever stderr is (a CI log, say)."""


_verbosity = Verbosity.NORMAL
"""Set by the global options for the one command a call runs (main resets it)."""


def set_verbosity(level: Verbosity) -> None:
    global _verbosity  # noqa: PLW0603 - one command per call; the global options set it once
    _verbosity = level


def verbosity() -> Verbosity:
    return _verbosity


def say(message: str, *, level: Verbosity = Verbosity.NORMAL) -> None:
    """`chainproof: MESSAGE` on stderr, when the verbosity is `level` or more."""
    if _verbosity >= level:
        sys.stderr.write(f"chainproof: {message}\n")
        sys.stderr.flush()


_PROGRESS_MIN = 20_000
"""Fewer items than this go by too fast for a bar to be worth drawing (log entries, by default)."""
_REFRESH_SECONDS = 0.1


def progress(
    items: Iterable[T],
    total: int,
    what: str,
    counts: Callable[[T], int] | None = None,
    *,
    minimum: int = _PROGRESS_MIN,
) -> Iterator[T]:
    """Yield `items`, showing a progress bar on a terminal's stderr for long runs.

    `counts` says how far each item advances the bar (entries, say, not the checkpoints between);
    by default one. Nothing is drawn when stderr is not a terminal, when the work is shorter than
    `minimum` items, or with --quiet; --verbose adds a line when the work starts and ends.
    """
    say(f"{what}: 0/{total}", level=Verbosity.VERBOSE)
    started = time.monotonic()
    count = counts or _one
    done = 0
    if _verbosity >= Verbosity.NORMAL and total >= minimum and sys.stderr.isatty():
        shown = _with_bar(items, total, what, count)
    else:
        shown = iter(items)
    for item in shown:
        yield item
        done += count(item)
    say(f"{what}: {done}/{total} in {time.monotonic() - started:.1f} s", level=Verbosity.VERBOSE)


def _one(item: object) -> int:
    return 1


def _with_bar(items: Iterable[T], total: int, what: str, counts: Callable[[T], int]) -> Iterator[T]:
    bar, task = _open_bar(what, total)
    try:
        done = 0
        shown = time.monotonic()
        for item in items:
            yield item
            done += counts(item)
            if time.monotonic() - shown >= _REFRESH_SECONDS:
                shown = time.monotonic()
                bar.update(task, completed=done, refresh=True)
    finally:
        bar.stop()


def progress_callback(what: str, *, minimum: int = _PROGRESS_MIN) -> Callable[[int, int], None]:
    """A `(done, total)` callback for a library call that reports its progress so (the lineage
    index catching up): the same bar as `progress`, drawn from the first call whose total is
    long enough, and gone once `done` reaches `total`."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            shown = _verbosity >= Verbosity.NORMAL and total >= minimum and sys.stderr.isatty()
            state["bar"] = _open_bar(what, total) if shown else None
            say(f"{what}: 0/{total}", level=Verbosity.VERBOSE)
        bar = state["bar"]
        if bar is not None:
            bar[0].update(bar[1], completed=done, refresh=True)
            if done >= total:
                bar[0].stop()
                state["bar"] = None
        if done >= total:
            say(f"{what}: {done}/{total}", level=Verbosity.VERBOSE)

    return update


def _open_bar(what: str, total: int) -> tuple[Any, Any]:
    """A started bar on stderr, and its task; `stop()` it when done."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # Refreshed by its caller rather than by rich's thread: scans, audits and the lineage index
    # fork worker processes, and a fork taken while another thread holds a lock can leave the
    # child stuck on it.
    console = Console(file=sys.stderr, force_terminal=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, transient=True, auto_refresh=False)
    bar.start()
    return bar, bar.add_task(_short(what), total=total)


_LABEL_CHARS = 40


def _short(what: str) -> str:
    """`what` cut to fit beside the bar: its first word (the verb), then the end of the rest, as
    the end of a path says more than its start."""
    if len(what) <= _LABEL_CHARS:
        return what
    verb, _, rest = what.partition(" ")
    return f"{verb} ...{rest[-max(_LABEL_CHARS - len(verb) - 4, 10) :]}"


def watcher(verb: str, *, minimum: int) -> Watch:
    """A library `Watch` that shows each long task as `VERB LABEL` with `progress`."""

    def watch(items: Iterable[U], total: int, label: str) -> Iterator[U]:
        return progress(items, total, f"{verb} {label}", minimum=minimum)

    return watch
