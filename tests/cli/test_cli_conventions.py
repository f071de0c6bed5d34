"""The conventions every command shares: usage errors as one line (and one JSON object with --json),
--json everywhere, exit codes as the README documents them.

The commands are enumerated from the real typer app, so a command added later is covered here
without anyone remembering to add it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from cli_support import ERROR_PREFIX, Cli, Store

from chainproof import __version__
from chainproof._internal.text import plural
from chainproof.cli.app import build_app

Command = typer.core.TyperCommand | typer.core.TyperGroup


def _walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command of the click tree under `command`, groups included, with its words."""
    assert isinstance(command, Command), command
    yield path, command
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


def _commands() -> list[tuple[tuple[str, ...], Command]]:
    return list(_walk(typer.main.get_command(build_app()), ()))


COMMANDS = _commands()
LEAVES = [path for path, command in COMMANDS if not isinstance(command, typer.core.TyperGroup)]


def test_the_enumeration_finds_every_command_group() -> None:
    paths = {path for path, _ in COMMANDS}
    for expected in [("init",), ("log", "get"), ("deps", "scan"), ("deps", "gate"), ("pip", "install")]:
        assert expected in paths
    assert len(LEAVES) >= 20


def _with_bad_option(path: tuple[str, ...]) -> list[str]:
    """`path` with an option no command has, where the command itself parses it."""
    command = dict(COMMANDS)[path]
    if command.context_settings.get("ignore_unknown_options"):
        # `pip install` hands unknown options to pip: its group parses the ones before the command.
        return [*path[:-1], "--no-such-option", "--json", path[-1]]
    return [*path, "--no-such-option", "--json"]


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "(root)")
def test_every_command_reports_a_bad_option_as_one_line_and_one_json_object(
    cli: Cli, path: tuple[str, ...]
) -> None:
    result = cli(*_with_bad_option(path))
    assert result.code == 2, (result.args, result.code, result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(ERROR_PREFIX)
    message = lines[0][len(ERROR_PREFIX) :]
    assert "--no-such-option" in message
    assert result.json() == {"error": message, "exit_code": 2}


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_takes_json(path: tuple[str, ...]) -> None:
    """--json on the command, or on the group whose options come before it (`pip --json install`)."""
    on_the_way = [dict(COMMANDS)[path[:n]] for n in range(1, len(path) + 1)]
    assert any("--json" in p.opts for c in on_the_way for p in c.params), path


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nonsense"], "no such command 'nonsense'"),
        (["log", "nonsense"], "no such command 'nonsense'"),
        (["deps", "scan", "--format", "xml"], "'xml' is not one of 'table', 'json', 'sarif', 'cyclonedx'"),
        (["deps", "scan", "--fail-on", "severe"], "'severe' is not one of"),
        (["log", "get", "-1"], "-1 is negative"),
        (["log", "consistency", "-3"], "-3 is negative"),
        (["log", "get", "one"], "'one' is not a valid int"),
        (["log", "get"], "missing argument"),
        (["init"], "missing option '--origin'"),
        (["key", "revoke", "alice", "--from", "soon"], "'soon' is not a valid int"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli: Cli, store: Store, args: list[str], fragment: str) -> None:
    message = cli.fails(2, "--store", store.path, *args)
    assert fragment in message
    assert cli.fails(2, "--store", store.path, *args, "--json") == message


def test_a_usage_error_says_where_the_help_is(cli: Cli) -> None:
    message = cli.fails(2, "log", "prove", "--bogus")
    assert message == "no such option: --bogus (see 'chainproof log prove --help')"


def test_help_still_prints_help(cli: Cli) -> None:
    helps = [["--help"], ["-h"], ["log", "--help"], ["deps", "scan", "--help"], ["pip", "install", "--help"]]
    for args in helps:
        assert "Usage:" in cli.ok(*args).out


def test_a_group_without_its_command_prints_its_help(cli: Cli) -> None:
    result = cli("log")
    assert result.code == 2
    assert "append" in result.out
    assert "error" not in result.err


# -- exit codes as documented, errors in the user's terms -------------------------------------------


@pytest.mark.parametrize("origin", ["", "two words", "a+b"])
def test_a_bad_origin_is_a_usage_error_that_names_the_origin(cli: Cli, tmp_path: Path, origin: str) -> None:
    message = cli.fails(2, "--store", tmp_path / "s", "init", "--origin", origin, "--json")
    assert message == f"origin {origin!r} must be non-empty, without spaces or '+'"
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("when", ["1", "99"])
def test_revoking_from_an_impossible_entry_is_a_usage_error(
    cli: Cli, store: Store, alice: Path, when: str
) -> None:
    before = store.state()
    message = cli.fails(2, "--store", store.path, "key", "revoke", "alice", "--from", when, "--json")
    assert message == (
        "a revocation takes effect after the key's registration (entry 1) and no later than the "
        f"revocation itself (entry 2), not at entry {when}"
    )
    assert store.state() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["log", "consistency", "2", "1"], "old size 2 is larger than new size 1"),
        (["log", "consistency", "5"], "old size 5 is larger than the log (size 2)"),
        (["log", "prove", "0", "--size", "7"], "tree size 7 is larger than the log (size 2)"),
        (["log", "prove", "0", "--size", "-1"], "tree size -1 is negative"),
    ],
)
def test_sizes_out_of_range_say_what_is_larger(
    cli: Cli, store: Store, alice: Path, args: list[str], message: str
) -> None:
    assert cli.fails(2, "--store", store.path, *args) == message


def test_a_bad_verifier_key_name_is_called_the_verifier_keys_name(cli: Cli, store: Store) -> None:
    vkey = "two words" + store.vkey[store.vkey.index("+") :]
    message = cli.fails(1, "--store", store.path, "audit", "--vkey", vkey)
    assert message == "the verifier key's name 'two words' must be non-empty, without spaces or '+'"


def test_counts_take_the_singular_for_one(cli: Cli, store: Store, alice: Path) -> None:
    # A new store holds the genesis entry and alice's registration; one problem once tampered.
    assert cli.ok("--store", store.path, "audit", "--vkey", store.vkey).out.endswith(
        "audit ok: 2 entries, 2 checkpoints, 2 keys, 0 problems\n"
    )
    exported = store.workdir / "one.export"
    exporting = cli.ok("--store", store.path, "log", "export", exported)
    assert exporting.out == f"exported 2 entries to {exported}\n"
    fresh = store.workdir / "fresh"
    vkey = cli.ok("--store", fresh, "init", "--origin", "one.example/log", "--json").json()["vkey"]
    assert cli.ok("--store", fresh, "audit", "--vkey", vkey).out == (
        "audit ok: 1 entry, 1 checkpoint, 1 key, 0 problems\n"
    )
    with sqlite3.connect(fresh / "log.db") as db:
        db.execute("DELETE FROM checkpoints")
    result = cli("--store", fresh, "audit", "--vkey", vkey)
    assert result.code == 1
    assert result.out.splitlines()[-1].endswith(", 1 problem")


def test_plural() -> None:
    assert [plural(n, "entry", "entries") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert plural(1, "problem") == "1 problem"
    assert plural(3, "problem") == "3 problems"


# -- version and shell completion ---------------------------------------------------------------------


def test_version_is_a_command_beside_the_option(cli: Cli) -> None:
    assert cli.ok("version").out == cli.ok("--version").out == f"chainproof {__version__}\n"
    obj = cli.ok("version", "--json").json()
    assert obj["version"] == __version__
    assert set(obj) == {"version", "python", "platform"}


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _chainproof_completion chainproof"),
        ("zsh", "#compdef chainproof"),
        ("fish", "complete --command chainproof"),
    ],
)
def test_show_completion_prints_the_shells_script(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, shell: str, marker: str
) -> None:
    # typer detects the shell it runs under; a test names it instead.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = cli.ok("--show-completion", shell).out
    assert marker in script
    assert f"_CHAINPROOF_COMPLETE=complete_{shell}" in script


def test_install_completion_writes_the_script_where_the_shell_reads_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    cli.ok("--install-completion", "bash")
    script = tmp_path / ".bash_completions" / "chainproof.sh"
    assert "_CHAINPROOF_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("chainproof ver", {"version", "verify", "verify-proof", "verify-note"}),
        (
            "chainproof log ",
            {"append", "get", "checkpoint", "prove", "consistency", "export", "info", "repair-checkpoints"},
        ),
        ("chainproof deps scan --format ", {"table", "json", "sarif", "cyclonedx"}),
        ("chainproof --store s key re", {"revoke"}),
    ],
)
def test_completion_completes_commands_and_choices(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, words: str, expected: set[str]
) -> None:
    """What the installed script asks for at each <TAB>: every command group is there to complete,
    although a normal call builds only the one it runs."""
    monkeypatch.setenv("_CHAINPROOF_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    assert set(cli.ok().out.split()) == expected
