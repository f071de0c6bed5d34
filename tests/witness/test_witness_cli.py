"""The witness commands' conventions: keys and vkeys, one-line errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from server_support import build_store, serving
from witness_support import chainproof

from chainproof.witness.cosignature import parse_cosigner_vkey


def test_keygen_and_vkey_agree(tmp_path: Path) -> None:
    made = chainproof(
        "witness", "keygen", str(tmp_path / "w.pem"), "--name", "w.test/1", "--json", home=tmp_path
    )
    assert made.returncode == 0, made.stderr
    vkey = json.loads(made.stdout)["vkey"]
    assert parse_cosigner_vkey(vkey).name == "w.test/1"
    shown = chainproof(
        "witness", "vkey", "--key", str(tmp_path / "w.pem"), "--name", "w.test/1", home=tmp_path
    )
    assert shown.stdout.strip() == vkey
    default = chainproof("witness", "vkey", "--key", str(tmp_path / "w.pem"), home=tmp_path)
    assert default.stdout.startswith("witness-")


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "w.pem").write_text("kept")
    again = chainproof("witness", "keygen", str(tmp_path / "w.pem"), home=tmp_path)
    assert again.returncode == 2
    assert (tmp_path / "w.pem").read_text() == "kept"
    assert again.stderr.count("\n") == 1


def test_errors_are_one_line(tmp_path: Path) -> None:
    chainproof("witness", "keygen", str(tmp_path / "w.pem"), home=tmp_path)
    unreachable = chainproof(
        "witness", "check", "--log", "http://127.0.0.1:9", "--state", str(tmp_path / "s"),
        "--key", str(tmp_path / "w.pem"), home=tmp_path,
    )  # fmt: skip
    assert unreachable.returncode == 2
    assert unreachable.stderr.count("\n") == 1
    bad_name = chainproof("witness", "vkey", "--key", str(tmp_path / "w.pem"), "--name", "a b", home=tmp_path)
    assert bad_name.returncode != 0
    assert "Traceback" not in bad_name.stderr
    no_state = chainproof("audit", "--remote", "http://127.0.0.1:9", home=tmp_path)
    assert no_state.returncode == 2
    bad_witness = chainproof(
        "audit",
        "--remote",
        "http://127.0.0.1:9",
        "--state",
        str(tmp_path / "m"),
        "--witness",
        "nope",
        home=tmp_path,
    )
    assert bad_witness.returncode == 2
    assert "--witness" in bad_witness.stderr


def test_a_private_log_is_witnessed_with_a_registered_key_signing_the_reads(tmp_path: Path) -> None:
    """A witness reads a `--private` log only with requests signed by a registered actor's key
    (the global --key); its own --key is its cosigning key."""
    world = build_store(tmp_path / "store")
    chainproof("witness", "keygen", str(tmp_path / "w.pem"), "--name", "w.test/p", home=tmp_path)
    vkey = chainproof(
        "witness", "vkey", "--key", str(tmp_path / "w.pem"), "--name", "w.test/p", home=tmp_path
    )
    with serving(world.directory, "--private", "--witness", vkey.stdout.strip()) as server:
        args = ["witness", "check", "--log", server.url, "--state", str(tmp_path / "s")]
        args += ["--key", str(tmp_path / "w.pem"), "--name", "w.test/p", "--json"]
        unsigned = chainproof(*args, home=tmp_path)
        assert unsigned.returncode != 0
        assert "401" in unsigned.stderr
        signed = chainproof("--key", str(world.key_file("carol")), *args, home=tmp_path)
        assert signed.returncode == 0, signed.stderr
        done = json.loads(signed.stdout)
        assert done["ok"] is True
        assert [c["vkey"] for c in done["handed_in"]] == [vkey.stdout.strip()]
