"""`chainproof witness`: cosign a log's checkpoints as a C2SP witness (tlog-witness,
tlog-cosignature), after checking each is consistent with the last one cosigned."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chainproof.cli.output import JsonOption, emit, request_key, say

if TYPE_CHECKING:
    from chainproof.witness.cosignature import CosignatureSigner
    from chainproof.witness.feed import Round
    from chainproof.witness.witness import Witness

app = typer.Typer(help="Witness a log: check and cosign its checkpoints.", no_args_is_help=True)

LogOption = Annotated[str, typer.Option("--log", help="The log's server URL (a `chainproof serve`).")]
StateOption = Annotated[
    Path,
    typer.Option("--state", help="The witness's state directory: pinned log keys, what it cosigned."),
]
KeyOption = Annotated[Path, typer.Option("--key", help="The witness's Ed25519 private key file (PEM).")]
NameOption = Annotated[
    str | None,
    typer.Option("--name", help="The witness's name in its cosignatures (default: witness-<key hash>)."),
]
LogVkeyOption = Annotated[
    str | None,
    typer.Option("--log-vkey", help="The log's checkpoint verifier key (default: pinned on first contact)."),
]


def _signer(key: Path, name: str | None) -> CosignatureSigner:
    from chainproof._internal.config import Settings
    from chainproof.attest import keys
    from chainproof.witness.cosignature import CosignatureSigner, default_name

    private = keys.read_private(key, Settings().key_passphrase)
    return CosignatureSigner(name or default_name(private.public_key()), private)


def _witness(state: Path, key: Path, name: str | None) -> Witness:
    from chainproof.witness.state import WitnessState
    from chainproof.witness.witness import Witness

    return Witness(_signer(key, name), WitnessState(state))


def _round_lines(done: Round) -> list[str]:
    if done.refusal is not None:
        return [
            f"REFUSED ({done.refusal.status} {done.refusal.code}): {done.refusal}",
            "the checkpoint cosigned before:",
            *(done.previous or "(none)\n").rstrip("\n").split("\n"),
            "the checkpoint the log shows now:",
            *done.offered.rstrip("\n").split("\n"),
        ]
    lines = [f"cosigned tree size {done.size}"]
    if done.hand_in_error is not None:
        lines.append(f"the log did not keep the cosignature: {done.hand_in_error}")
    return lines


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM, mode 0600).")],
    name: NameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a witness's Ed25519 key (encrypted with CHAINPROOF_KEY_PASSPHRASE if set) and print its
    cosignature verifier key."""
    from chainproof._internal.config import Settings
    from chainproof.attest import keys

    keys.write_private(out, keys.generate(), Settings().key_passphrase)  # never over a file
    verifier = _signer(out, name).verifier
    emit(as_json, {"key": str(out), "name": verifier.name, "vkey": verifier.vkey}, [verifier.vkey])


@app.command("vkey")
def vkey(key: KeyOption, name: NameOption = None, as_json: JsonOption = False) -> None:
    """Print the witness's cosignature verifier key: give it to the log's `serve --witness`."""
    verifier = _signer(key, name).verifier
    emit(as_json, {"name": verifier.name, "vkey": verifier.vkey}, [verifier.vkey])


@app.command("check")
def check(
    ctx: typer.Context,
    log: LogOption,
    state: StateOption,
    key: KeyOption,
    name: NameOption = None,
    log_vkey: LogVkeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One round of `witness serve`: fetch the log's latest checkpoint, check it is consistent with
    the last one this witness cosigned (a consistency proof from the log, checked here), cosign it
    and hand the cosignature to the log.

    Exit 1, printing both checkpoints as evidence, when the log's checkpoint is inconsistent with
    (or smaller than) the one cosigned, or not signed by the log's pinned key: nothing is cosigned.
    """
    from chainproof.witness.feed import LogFeed, pin_log, run_round

    witness = _witness(state, key, name)
    feed = LogFeed(log, request_key(ctx) or witness.signer.private_key)
    try:
        origin = pin_log(witness, feed, log_vkey)
        done = run_round(witness, feed)
    finally:
        feed.close()
    info = {"name": witness.signer.name, "vkey": witness.vkey, "log": log, "origin": origin}
    emit(as_json, info | done.to_json(), _round_lines(done))
    if not done.ok:
        raise typer.Exit(1)


@app.command("feed")
def feed_command(
    ctx: typer.Context,
    log: LogOption,
    witness_url: Annotated[
        str, typer.Option("--witness-url", help="The witness's tlog-witness submission prefix (URL).")
    ],
    witness_vkey: Annotated[str, typer.Option("--witness-vkey", help="The witness's cosignature vkey.")],
    as_json: JsonOption = False,
) -> None:
    """Have a C2SP witness elsewhere (any tlog-witness implementation) cosign the log's latest
    checkpoint: post it to the witness's add-checkpoint with a consistency proof from the size
    the witness cosigned last, check the cosignature, and hand it to the log (which must list the
    witness: `serve --witness`), in a request signed with the global --key (a registered key).
    Exit 1 when the witness refuses or answers no valid cosignature.
    """
    from chainproof.errors import FormatError, UsageError
    from chainproof.witness.cosignature import parse_cosigner_vkey
    from chainproof.witness.feed import LogFeed, feed_witness
    from chainproof.witness.http import Refused

    try:
        verifier = parse_cosigner_vkey(witness_vkey)
    except FormatError as e:
        raise UsageError(f"--witness-vkey: {e}") from None
    feed = LogFeed(log, request_key(ctx))
    try:
        fed = feed_witness(feed, witness_url, verifier)
    except Refused as e:
        emit(as_json, {"ok": False, "status": e.status, "message": str(e)}, [f"REFUSED by the witness: {e}"])
        raise typer.Exit(1) from None
    finally:
        feed.close()
    emit(as_json, {"ok": True, **fed.to_json()}, [f"{verifier.name} cosigned tree size {fed.size}"])


@app.command("serve")
def serve(
    ctx: typer.Context,
    log: LogOption,
    state: StateOption,
    key: KeyOption,
    name: NameOption = None,
    log_vkey: LogVkeyOption = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds.", min=0.1)] = 10.0,
    host: Annotated[str, typer.Option("--host", help="The add-checkpoint endpoint's address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Its port (0: a free one).", min=0)] = 8399,
    rounds: Annotated[
        int | None, typer.Option("--rounds", help="Stop after this many rounds (default: run until stopped).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Witness the log at URL: every INTERVAL seconds, one round of `witness check` (cosign the
    log's latest checkpoint if it is consistent with the last one cosigned; refuse it, and say so
    on stderr with both checkpoints, otherwise), and serve the C2SP tlog-witness endpoint
    `POST /add-checkpoint` on HOST:PORT for the log, and other feeders, to submit checkpoints.

    Prints the witness's name and vkey first (with --json: one JSON object, then one per round).
    Stops on SIGTERM or Ctrl-C.
    """
    from chainproof.errors import ChainproofError
    from chainproof.witness.feed import LogFeed, pin_log, run_round
    from chainproof.witness.http import WitnessHTTPServer

    witness = _witness(state, key, name)
    feed = LogFeed(log, request_key(ctx) or witness.signer.private_key)
    stop = threading.Event()
    try:
        origin = pin_log(witness, feed, log_vkey)
        http = WitnessHTTPServer(witness, host, port)
        http.start()
        start: dict[str, Any] = {
            "name": witness.signer.name,
            "vkey": witness.vkey,
            "log": log,
            "origin": origin,
            "listen": f"http://{host}:{http.port}",
        }
        emit(
            as_json,
            start,
            [f"witness {witness.vkey}", f"witnessing {origin} at {log}; add-checkpoint on {start['listen']}"],
        )
        done_rounds = 0
        # SIGTERM ends the wait between rounds, as Ctrl-C does: a round under way finishes first.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while (rounds is None or done_rounds < rounds) and not stop.is_set():
                try:
                    done = run_round(witness, feed)
                    if as_json:
                        emit(True, done.to_json())
                    for line in _round_lines(done):
                        say(line)
                except ChainproofError as e:  # the log did not answer: try again next round
                    say(f"round failed: {e}")
                done_rounds += 1
                if rounds is None or done_rounds < rounds:
                    stop.wait(interval)
        except KeyboardInterrupt:
            pass
        finally:
            http.shutdown()
            http.server_close()
    finally:
        feed.close()
