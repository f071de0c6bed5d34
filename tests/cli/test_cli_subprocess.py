"""A few runs of the real `chainproof` executable (.venv/bin/chainproof), as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import HOP, ORIGIN, digest

from chainproof.log import merkle

EXE = Path(sys.executable).with_name("chainproof")


def run(
    *args: object, stdin: bytes = b"", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [str(EXE), *(str(a) for a in args)],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )
    for stream in (result.stdout, result.stderr):
        assert b"Traceback" not in stream, stream.decode(errors="replace")
    return result


def ok(*args: object, stdin: bytes = b"", env: dict[str, str] | None = None) -> bytes:
    result = run(*args, stdin=stdin, env=env)
    assert result.returncode == 0, (args, result.stderr)
    assert result.stderr == b""
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("chainproof: error: ")
    return lines[0]


def test_the_executable_exists() -> None:
    assert EXE.is_file(), EXE
    assert run("--version").stdout.startswith(b"chainproof ")


@pytest.mark.slow
def test_a_whole_workflow_through_the_executable(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {"CHAINPROOF_STORE": str(store)}
    init = json.loads(ok("init", "--origin", ORIGIN, "--json", env=env))
    vkey = init["vkey"]
    key = json.loads(ok("key", "new", "trainer-ci", "--out", tmp_path / "trainer.pem", "--json", env=env))
    assert key["name"] == "trainer-ci"
    envelope = ok(
        "attest",
        "--key",
        tmp_path / "trainer.pem",
        "--type",
        HOP,
        "--subject",
        f"model-42=sha256:{digest('weights')}",
        "--predicate",
        "-",
        "--out",
        "-",
        stdin=b'{"code": "git+https://git.example/train@9f1c2e"}',
    )
    appended = json.loads(ok("log", "append", "-", "--json", stdin=envelope, env=env))
    assert appended == {
        "entries": [
            {"index": 2, "leaf_hash": merkle.leaf_hash(envelope.rstrip(b"\n")).hex(), "duplicate": False}
        ],
        "tree_size": 3,
    }
    assert ok("log", "get", "2", "--raw", env=env) == envelope.rstrip(b"\n")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.write_bytes(ok("log", "checkpoint", env=env))
    assert ok("verify-note", checkpoint, "--vkey", vkey).startswith(f"{ORIGIN}\n3\n".encode())
    proof = tmp_path / "proof.json"
    proof.write_bytes(ok("log", "prove", "2", "--json", env=env))
    assert ok("verify-proof", proof, "--checkpoint", checkpoint, "--vkey", vkey).startswith(b"valid: leaf 2")
    export = tmp_path / "log.export"
    ok("log", "export", export, env=env)
    assert json.loads(ok("audit", "--export", export, "--vkey", vkey, "--json"))["ok"] is True
    assert ok("audit", "--vkey", vkey, "--checkpoint", checkpoint, env=env).endswith(b"0 problems\n")
    # python -m chainproof is the same program
    module = subprocess.run(
        [sys.executable, "-m", "chainproof", "--store", str(store), "log", "info", "--json"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout)["tree_size"] == 3


@pytest.mark.slow
def test_errors_through_the_executable(tmp_path: Path) -> None:
    message = one_line_error(run("--store", tmp_path / "missing", "log", "info"), 2)
    assert "no chainproof store at" in message
    store = tmp_path / "store"
    vkey = json.loads(ok("--store", store, "init", "--origin", ORIGIN, "--json"))["vkey"]
    assert "index 7 is outside the log (size 1)" in one_line_error(
        run("--store", store, "log", "get", "7"), 2
    )
    result = run("--store", store, "log", "prove", "0", "--size", "9", "--json")
    error = {"error": "tree size 9 is larger than the log (size 1)", "exit_code": 2}
    assert json.loads(result.stdout) == error
    one_line_error(result, 2)
    assert "not JSON" in one_line_error(run("--store", store, "log", "append", "-", stdin=b"{broken"), 1)
    assert "nested too deeply" in one_line_error(
        run("--store", store, "log", "append", "-", stdin=b"[" * 50_000), 1
    )
    (store / "log.db").write_bytes(b"garbage " * 1000)
    assert "damaged or not a chainproof store" in one_line_error(
        run("--store", store, "audit", "--vkey", vkey), 2
    )
    assert "missing argument 'index'" in one_line_error(run("--store", store, "log", "get"), 2)


def test_commands_close_the_store_they_open(tmp_path: Path) -> None:
    """start.run freezes every object at exit, so nothing is left for a final collection to
    close: each command must close its store itself, or SQLite keeps its write-ahead logs."""
    store = tmp_path / "store"
    ok("--store", store, "init", "--origin", ORIGIN)
    ok("--store", store, "key", "new", "trainer-ci", "--out", tmp_path / "trainer.pem")
    for command in (["log", "get", "1", "--raw"], ["log", "prove", "1", "--json"], ["key", "list"]):
        ok("--store", store, *command)
    one_line_error(run("--store", store, "log", "append", "-", stdin=b"{broken"), 1)
    one_line_error(run("--store", store, "log", "consistency", "9"), 2)
    assert sorted(p.name for p in store.iterdir() if p.name.endswith(("-wal", "-shm"))) == []


def test_the_collector_paused_for_start_up_is_back_on_when_a_command_runs() -> None:
    """cli/start.py pauses the cyclic GC while importing; the command itself must run with it,
    and what start-up made is frozen when it returns."""
    code = (
        "import gc, sys\n"
        "from chainproof.cli import start, app\n"
        "seen = []\n"
        "real = app.build_app\n"
        "def build(args):\n"
        "    seen.append(gc.isenabled())\n"
        "    return real(args)\n"
        "app.build_app = build\n"
        "sys.argv = ['chainproof', '--version']\n"
        "rc = start.run()\n"
        "print(seen, gc.isenabled(), rc, gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines()[-1] == "[False] True 0 True"
