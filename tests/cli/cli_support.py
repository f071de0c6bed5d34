"""Helpers for the CLI tests: run `chainproof` in-process, check its output contract, make inputs.

Every run is checked for the contract that holds whatever the command: no traceback anywhere, and
a failure (exit 1 or 2) from chainproof itself is one line on stderr; with --json, stdout is one
JSON object.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest import dsse, keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.cli.app import main
from chainproof.log import merkle
from chainproof.log.service import TransparencyLog

ORIGIN = "cli.example/custody"
HOP = "https://chainproof.test/cli-hop/v1"
ERROR_PREFIX = "chainproof: error: "


@dataclass
class Result:
    args: list[str]
    code: int
    out_bytes: bytes
    err: str

    @property
    def out(self) -> str:
        return self.out_bytes.decode("utf-8")

    def json(self) -> Any:
        """stdout as exactly one JSON object on one line."""
        lines = self.out.splitlines()
        assert len(lines) == 1, (self.args, self.out)
        obj = json.loads(lines[0])
        assert isinstance(obj, dict)
        return obj

    def error(self) -> str:
        """The one-line error on stderr (without its prefix)."""
        assert self.code in (1, 2), (self.args, self.code, self.err)
        lines = self.err.splitlines()
        assert len(lines) == 1, (self.args, self.err)
        assert lines[0].startswith(ERROR_PREFIX), self.err
        return lines[0][len(ERROR_PREFIX) :]


@dataclass
class Cli:
    """`chainproof ARGS...` in this process, through cli.app.main, with captured output."""

    capsys: pytest.CaptureFixture[bytes]
    monkeypatch: pytest.MonkeyPatch
    runs: list[Result] = field(default_factory=list)

    def __call__(self, *args: object, stdin: bytes = b"") -> Result:
        argv = [str(a) for a in args]
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(argv)
        captured = self.capsys.readouterr()
        result = Result(argv, code, captured.out, captured.err.decode("utf-8", errors="replace"))
        self.runs.append(result)
        check_contract(result)
        return result

    def ok(self, *args: object, stdin: bytes = b"") -> Result:
        result = self(*args, stdin=stdin)
        assert result.code == 0, (result.args, result.code, result.err)
        assert result.err == "", result.err
        return result

    def fails(self, code: int, *args: object, stdin: bytes = b"") -> str:
        """Run, expect exit `code` with a one-line error; return the error's text."""
        result = self(*args, stdin=stdin)
        assert result.code == code, (result.args, result.code, result.out, result.err)
        message = result.error()
        if "--json" in result.args:
            assert result.json() == {"error": message, "exit_code": code}
        else:
            assert result.out == ""
        return message


def check_contract(result: Result) -> None:
    for text in (result.out_bytes.decode("utf-8", errors="replace"), result.err):
        assert "Traceback" not in text, (result.args, text)
        assert 'File "' not in text, (result.args, text)
    if result.code in (1, 2) and result.err.startswith(ERROR_PREFIX):
        result.error()


@dataclass
class Store:
    path: Path
    vkey: str
    workdir: Path

    def open(self) -> TransparencyLog:
        return TransparencyLog.open(self.path)

    def state(self) -> tuple[object, ...]:
        """Everything the store holds, to compare before and after a call that must change nothing."""
        log = self.open()
        try:
            with log.reading() as r:
                size = r.size()
                return (size, list(r.checkpoints()), r.keys(), list(r.entries(0, size)))
        finally:
            log.close()

    def size(self) -> int:
        log = self.open()
        try:
            return log.size()
        finally:
            log.close()


def attest_args(key: Path, predicate: str | Path, out: str | Path) -> list[str | Path]:
    """`attest` with KEY about one subject `m` of the test hop type, PREDICATE to OUT."""
    return [
        "attest",
        "--key",
        key,
        "--type",
        HOP,
        "--subject",
        f"m=sha256:{digest('m')}",
        "--predicate",
        predicate,
        "--out",
        out,
    ]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def statement(n: int, tag: str = "") -> Statement:
    name = f"model-{tag}{n}.safetensors"
    return Statement((Subject(name, {"sha256": digest(name)}),), HOP, {"run": n, "tag": tag})


def envelope(key: Ed25519PrivateKey, n: int, tag: str = "") -> dsse.Envelope:
    return sign_statement(statement(n, tag), key)


def envelope_json(env: dsse.Envelope) -> bytes:
    return env.canonical() + b"\n"


def leaf_hash_hex(env: dsse.Envelope) -> str:
    return merkle.leaf_hash(env.canonical()).hex()


def read_key(path: Path) -> Ed25519PrivateKey:
    return keys.read_private(path)
