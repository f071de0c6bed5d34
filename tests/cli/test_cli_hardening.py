"""End to end: what a newcomer's probe broke (a swapped checkpoint key, limits on input)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli, Store, attest_args, envelope, read_key, statement

from chainproof.attest import dsse, keys
from chainproof.log.note import NoteSigner
from chainproof.log.service import SIGNER_FILE


def test_a_swapped_checkpoint_key_is_refused_before_anything_is_written(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    (tmp_path / "p.json").write_text("{}")
    cli.ok(*attest_args(alice, tmp_path / "p.json", tmp_path / "e.json"))
    before = store.state()
    shutil.move(store.path / SIGNER_FILE, tmp_path / "real.pem")
    keys.write_private(store.path / SIGNER_FILE, keys.generate())

    message = cli.fails(2, "--store", store.path, "log", "append", tmp_path / "e.json")
    assert f"{store.path / SIGNER_FILE} is not this log's checkpoint key" in message
    message = cli.fails(2, "--store", store.path, "key", "new", "bob", "--out", tmp_path / "bob.pem")
    assert "not this log's checkpoint key" in message
    assert not (tmp_path / "bob.pem").exists()
    assert store.state() == before

    (store.path / SIGNER_FILE).unlink()
    shutil.move(tmp_path / "real.pem", store.path / SIGNER_FILE)
    cli.ok("--store", store.path, "log", "append", tmp_path / "e.json")
    cli.ok("--store", store.path, "audit", "--vkey", store.vkey)


# -- limits ---------------------------------------------------------------------------------


def test_an_envelope_past_the_entry_limit_is_refused_in_one_line(
    cli: Cli, store: Store, alice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"blob": "x" * 3000}))
    cli.ok(*attest_args(alice, tmp_path / "p.json", tmp_path / "e.json"))
    size = len((tmp_path / "e.json").read_bytes()) - 1
    before = store.state()
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", str(size - 1))
    message = cli.fails(1, "--store", store.path, "log", "append", tmp_path / "e.json")
    assert message == (
        f"{tmp_path / 'e.json'}: the envelope is {size:,} bytes; the log takes entries of at most "
        f"{size - 1:,} bytes (CHAINPROOF_MAX_ENTRY_BYTES sets that)"
    )
    assert store.state() == before
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", str(size))
    cli.ok("--store", store.path, "log", "append", tmp_path / "e.json")


def test_attest_refuses_an_envelope_the_log_would_refuse_before_writing_it(
    cli: Cli, alice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", "4000")
    out = tmp_path / "e.json"
    (tmp_path / "p.json").write_text(json.dumps({"blob": "x" * 3000}))  # base64 makes it 4/3 larger
    assert "the log takes entries of at most 4,000 bytes" in cli.fails(
        1, *attest_args(alice, tmp_path / "p.json", out)
    )
    (tmp_path / "p.json").write_text(json.dumps({"blob": "x" * 5000}))  # not even read whole
    assert "holds more than 4,000 bytes" in cli.fails(1, *attest_args(alice, tmp_path / "p.json", out))
    (tmp_path / "p.json").write_text("{}")
    args = attest_args(alice, tmp_path / "p.json", out)
    args[args.index("--type") + 1] = ""
    assert cli.fails(1, *args) == "predicateType must be a non-empty string"
    assert not out.exists()
    assert not list(tmp_path.glob(".e.json*"))


def test_duplicate_keys_are_refused_in_envelopes_statements_and_predicates(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    key = read_key(alice)
    good = envelope(key, 1).canonical().decode()
    in_envelope = good.replace('"payloadType":', '"payloadType":"text/plain","payloadType":')
    payload = statement(2).canonical().replace(b'"run":2', b'"run":2,"run":3')
    in_statement = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, payload, key, keys.keyid(key.public_key()))
    before = store.state()
    for name, text, fragment in [
        ("envelope.json", in_envelope, "the key 'payloadType' appears twice in one object"),
        ("statement.json", in_statement.canonical().decode(), "the statement: the key 'run' appears twice"),
    ]:
        (tmp_path / name).write_text(text + "\n")
        message = cli.fails(1, "--store", store.path, "log", "append", tmp_path / name)
        assert message.startswith(f"{tmp_path / name}: ")
        assert fragment in message
    assert store.state() == before
    (tmp_path / "p.json").write_text('{"a": {"b": 1, "b": 1}}')
    message = cli.fails(1, *attest_args(alice, tmp_path / "p.json", tmp_path / "out.json"))
    assert message == "the predicate: the key 'b' appears twice in one object"
    assert not (tmp_path / "out.json").exists()


def test_key_new_refuses_a_name_already_registered_and_unrevoked(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    before = store.state()
    out = tmp_path / "alice-2.pem"
    message = cli.fails(2, "--store", store.path, "key", "new", "alice", "--out", out)
    assert message.startswith("a key named 'alice' is already registered")
    assert not out.exists()
    assert store.state() == before
    cli.ok("--store", store.path, "key", "revoke", "alice")
    cli.ok("--store", store.path, "key", "new", "alice", "--out", out)
    cli.ok("--store", store.path, "audit", "--vkey", store.vkey)


def test_integers_past_pythons_limit_get_our_message_everywhere(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    digits = b"9" * 5000
    key = read_key(alice)
    payload = statement(1).canonical().replace(b'"run":1', b'"run":' + digits)
    in_statement = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, payload, key, keys.keyid(key.public_key()))
    cases = [
        ("statement.json", in_statement.canonical() + b"\n", ["--store", store.path, "log", "append"]),
        ("p.json", b'{"n": ' + digits + b"}", None),
        ("proof.json", b'{"index": 0, "tree_size": ' + digits + b"}", ["verify-proof"]),
        ("export.txt", b'{"format": ' + digits + b"}\n", ["audit", "--vkey", store.vkey, "--export"]),
    ]
    for name, data, command in cases:
        (tmp_path / name).write_bytes(data)
        args = (
            attest_args(alice, tmp_path / name, tmp_path / "out.json")
            if command is None
            else [*command, tmp_path / name]
        )
        message = cli.fails(1, *args)
        assert "an integer of 5,000 digits (chainproof reads at most 4,300)" in message, (name, message)
        assert "set_int_max_str_digits" not in message


def test_a_large_envelope_is_refused_without_reading_it_whole(cli: Cli, store: Store, tmp_path: Path) -> None:
    """70 MB took 409 MB to append; now it is refused having read little more than the limit."""
    big = tmp_path / "big.json"
    payload = base64.b64encode(b"x" * 30_000_000)
    big.write_bytes(
        b'{"payloadType":"application/vnd.in-toto+json","payload":"' + payload + b'","signatures":[]}\n'
    )
    script = (
        "import resource, subprocess, sys;"
        "r = subprocess.run(sys.argv[1:], capture_output=True);"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    exe = Path(sys.executable).with_name("chainproof")
    command = [sys.executable, "-c", script, str(exe), "--store", str(store.path), "log", "append", str(big)]
    code, peak_kib = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    assert code == "1"
    # The interpreter with chainproof loaded takes about 35 MB; the file alone is 40 MB (it was 176
    # MB in all when it was read whole), and at most two 8.5 MB pieces of it are read at a time.
    assert int(peak_kib) < 64 << 10, peak_kib


def test_repair_checkpoints_signs_again_what_a_swapped_key_signed(
    cli: Cli, store: Store, alice: Path
) -> None:
    log = store.open()
    try:  # as the log wrote before it checked its key: a checkpoint signed by another key
        signer = NoteSigner(log.origin, keys.generate())
        with log.store.writer() as w:
            log._append(w, [envelope(read_key(alice), 1)], signer)
    finally:
        log.close()
    assert cli("--store", store.path, "audit", "--vkey", store.vkey).code == 1
    size = store.size()
    assert cli.ok("--store", store.path, "log", "repair-checkpoints", "--json").json() == {
        "resigned": [size],
        "checkpoints": 3,
    }
    cli.ok("--store", store.path, "audit", "--vkey", store.vkey)
    out = cli.ok("--store", store.path, "log", "repair-checkpoints").out
    assert out == "all 3 checkpoints verify; nothing to repair\n"
