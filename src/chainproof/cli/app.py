"""The `chainproof` command: global options, command groups, and exit codes.

Exit codes: 0 success; 1 verification failed or input rejected; 2 usage or runtime error.
"""

from __future__ import annotations

import copy
import gc
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from chainproof import __version__
from chainproof._internal.config import Settings
from chainproof.cli.output import JsonOption, Verbosity, emit, set_verbosity
from chainproof.errors import ChainproofError, UsageError, VerificationError

_HELP = (
    "A verifiable chain of custody for AI training pipelines: a tamper-evident log of signed "
    "attestations, with proofs, checkpoints and offline audit.\n\n"
    "Exit codes: 0 ok, 1 verification failed or input rejected, 2 usage or runtime error."
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"chainproof {__version__}\n")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    store: Annotated[
        str,
        typer.Option(
            "--store",
            envvar="CHAINPROOF_STORE",
            metavar="DIR|URL",
            help="The store: a directory, or a chainproof server's http(s):// URL (env CHAINPROOF_STORE).",
        ),
    ] = ".chainproof",
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            envvar="CHAINPROOF_KEY",
            metavar="FILE",
            help="The registered actor key that signs requests to a remote store (env CHAINPROOF_KEY).",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Say nothing on stderr but errors: no progress, summaries or notes "
            "(env CHAINPROOF_QUIET=1).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also say on stderr when each long task starts and ends."),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    if quiet and verbose:
        raise UsageError("--quiet and --verbose ask for opposite things; give one of them")
    set_verbosity(_verbosity(quiet, verbose))
    ctx.obj = {"store": store, "key": key}


def _verbosity(quiet: bool, verbose: bool) -> Verbosity:
    """The options, else CHAINPROOF_QUIET: a CI job's environment, which --verbose overrides."""
    if verbose:
        return Verbosity.VERBOSE
    if quiet or Settings().quiet:
        return Verbosity.QUIET
    return Verbosity.NORMAL


def version(as_json: JsonOption = False) -> None:
    """Print chainproof's version (as --version does), and with --json the Python it runs on."""
    import platform

    obj = {"version": __version__, "python": platform.python_version(), "platform": sys.platform}
    emit(as_json, obj, [f"chainproof {__version__}"])


def _register_version(app: typer.Typer) -> None:
    app.command("version", help=version.__doc__)(version)


def _register_init(app: typer.Typer) -> None:
    from chainproof.cli import init_cmd

    app.command("init", help=init_cmd.init.__doc__)(init_cmd.init)


def _register_attest(app: typer.Typer) -> None:
    from chainproof.cli import attest_cmd

    app.command("attest", help=attest_cmd.attest.__doc__)(attest_cmd.attest)


def _register_key(app: typer.Typer) -> None:
    from chainproof.cli import key_cmd

    app.add_typer(key_cmd.app, name="key")


def _register_log(app: typer.Typer) -> None:
    from chainproof.cli import log_cmd

    app.add_typer(log_cmd.app, name="log")


def _register_audit(app: typer.Typer) -> None:
    from chainproof.cli import audit_cmd

    app.command("audit", help=audit_cmd.audit.__doc__)(audit_cmd.audit)


def _register_tools(app: typer.Typer) -> None:
    from chainproof.cli import tools_cmd

    app.command("verify-proof", help=tools_cmd.verify_proof.__doc__)(tools_cmd.verify_proof)
    app.command("verify-note", help=tools_cmd.verify_note.__doc__)(tools_cmd.verify_note)


def _register_advisories(app: typer.Typer) -> None:
    from chainproof.cli import advisories_cmd

    app.add_typer(advisories_cmd.app, name="advisories")


def _register_deps(app: typer.Typer) -> None:
    from chainproof.cli import deps_cmd

    app.add_typer(deps_cmd.app, name="deps")


def _register_data(app: typer.Typer) -> None:
    from chainproof.cli import data_cmd

    app.add_typer(data_cmd.app, name="data")


def _register_pip(app: typer.Typer) -> None:
    from chainproof.cli import gate_cmd

    app.add_typer(gate_cmd.pip_app, name="pip")


def _register_policy(app: typer.Typer) -> None:
    from chainproof.cli import policy_cmd

    app.add_typer(policy_cmd.app, name="policy")


def _register_actor(app: typer.Typer) -> None:
    from chainproof.cli import actor_cmd

    app.add_typer(actor_cmd.app, name="actor")


def _register_record(app: typer.Typer) -> None:
    from chainproof.cli import record_cmd

    app.command("record", help=record_cmd.record.__doc__)(record_cmd.record)


def _register_grant(app: typer.Typer) -> None:
    from chainproof.cli import grant_cmd

    app.add_typer(grant_cmd.app, name="grant")


def _register_store(app: typer.Typer) -> None:
    from chainproof.cli import store_cmd

    app.add_typer(store_cmd.app, name="store")


def _register_serve(app: typer.Typer) -> None:
    from chainproof.cli import serve_cmd

    app.command("serve", help=serve_cmd.serve.__doc__)(serve_cmd.serve)


def _register_vault(app: typer.Typer) -> None:
    from chainproof.cli import vault_cmd

    app.add_typer(vault_cmd.app, name="vault")


def _register_witness(app: typer.Typer) -> None:
    from chainproof.cli import witness_cmd

    app.add_typer(witness_cmd.app, name="witness")


def _register_answers(app: typer.Typer) -> None:
    from chainproof.cli import answers_cmd

    app.command("lineage", help=answers_cmd.lineage_command.__doc__)(answers_cmd.lineage_command)
    app.command("verify", help=answers_cmd.verify_command.__doc__)(answers_cmd.verify_command)
    app.command("impact", help=answers_cmd.impact_command.__doc__)(answers_cmd.impact_command)


# Each command group is imported only when it runs: start-up time is paid on every call.
_COMMANDS: dict[str, Callable[[typer.Typer], None]] = {
    "init": _register_init,
    "attest": _register_attest,
    "key": _register_key,
    "log": _register_log,
    "audit": _register_audit,
    "verify-proof": _register_tools,
    "verify-note": _register_tools,
    "advisories": _register_advisories,
    "deps": _register_deps,
    "pip": _register_pip,
    "policy": _register_policy,
    "data": _register_data,
    "actor": _register_actor,
    "record": _register_record,
    "grant": _register_grant,
    "lineage": _register_answers,
    "verify": _register_answers,
    "impact": _register_answers,
    "version": _register_version,
    "serve": _register_serve,
    "store": _register_store,
    "vault": _register_vault,
    "witness": _register_witness,
}


def _command_words(args: Sequence[str]) -> tuple[str | None, str | None]:
    """The first word after the global options, which names the command group, and the argument
    after it, which names a command if the group has one of that name."""
    words = iter(args)
    for word in words:
        if word in ("--store", "--key"):
            next(words, None)
        elif not word.startswith("-"):
            return word, next(words, None)
    return None, None


def _only(group: typer.Typer, name: str) -> typer.Typer:
    """`group` with only its command `name`, or all of `group` if it has none of that name.

    Typer turns the signature of every command of a group into click parameters on each call,
    and a call runs one of them: about 4 ms of a `log get` for the other eight."""
    chosen = [
        c
        for c in group.registered_commands
        if (c.name or (c.callback and typer.main.get_command_name(c.callback.__name__))) == name
    ]
    if not chosen:
        return group
    pruned = copy.copy(group)
    pruned.registered_commands = chosen
    return pruned


def build_app(args: Sequence[str] = ()) -> typer.Typer:
    """The CLI with the command group `args` names, or with every group when it names none."""
    app = typer.Typer(
        name="chainproof",
        help=_HELP,
        no_args_is_help=True,
        add_completion=True,  # --install-completion, --show-completion (typer's, for bash, zsh, fish)
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    word, command = _command_words(args)
    register = _COMMANDS.get(word or "")
    for r in dict.fromkeys([register] if register else _COMMANDS.values()):
        r(app)
    for group in app.registered_groups:
        if group.name == word and group.typer_instance is not None and command is not None:
            group.typer_instance = _only(group.typer_instance, command)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    set_verbosity(Verbosity.NORMAL)  # until the global options say otherwise
    try:
        app = build_app(args)
        gc.enable()  # paused by the console script while importing (cli/start.py)
        # Not standalone: typer would print its usage errors itself, in a box and without --json.
        code = typer.main.get_command(app).main(args=args, prog_name="chainproof", standalone_mode=False)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except typer.TyperException as e:  # click's usage errors: a bad option, argument or command
        return _usage_error(e, as_json)
    except ChainproofError as e:
        return _fail(str(e), exit_code(e), as_json)
    except OSError as e:
        return _fail(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "), 2, as_json)
    except RecursionError:
        # Only untrusted JSON nests without bound here (json.loads of `[[[[...`).
        return _fail("the input is nested too deeply", 1, as_json)
    except (KeyboardInterrupt, typer.Abort):
        return _fail("interrupted", 130, as_json)
    return code if isinstance(code, int) else 0


def exit_code(error: ChainproofError) -> int:
    """1 when untrusted input was checked and rejected; 2 when the tool could not do its job."""
    return 1 if isinstance(error, VerificationError) else 2


_NEGATIVE = re.compile(r"-\d+")


def _usage_error(e: typer.TyperException, as_json: bool) -> int:
    """One line for what click reports in several, with the command's help to turn to."""
    message = " ".join(e.format_message().split()).rstrip(".")
    ctx = getattr(e, "ctx", None)
    if not message:
        # `no_args_is_help`: the help is already printed, and is the whole answer.
        return 2
    option = getattr(e, "option_name", None)
    if isinstance(option, str) and _NEGATIVE.fullmatch(option):
        # `log get -1`: the parser takes a negative number for an option.
        message = f"{option} is negative: indexes and sizes start at 0"
    elif message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return _fail(message, 2, as_json)


def _fail(message: str, code: int, as_json: bool) -> int:
    if as_json:
        import json  # only on this path, as in output.emit

        sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
    sys.stderr.write(f"chainproof: error: {message}\n")
    return code
