"""The witness commands' conventions: keys and vkeys, one-line errors and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
from server_support import build_store, serving
from witness_support import chainproof

from chainproof.attest import http_signatures as hs
from chainproof.attest import keys
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


def test_a_private_log_is_witnessed_by_the_witnesses_it_lists(tmp_path: Path) -> None:
    """A witness signs its requests with its cosigning key: a `--private` log lets a listed
    witness read its checkpoints and proofs (not its entries) and hand in cosignatures; a witness
    it does not list reads with a registered actor's key (the global --key), or not at all."""
    world = build_store(tmp_path / "store")
    vkeys = {}
    for name in ("listed", "other"):
        chainproof(
            "witness", "keygen", str(tmp_path / f"{name}.pem"), "--name", f"w.test/{name}", home=tmp_path
        )
        shown = chainproof(
            "witness",
            "vkey",
            "--key",
            str(tmp_path / f"{name}.pem"),
            "--name",
            f"w.test/{name}",
            home=tmp_path,
        )
        vkeys[name] = shown.stdout.strip()

    def check(name: str, *before: str) -> subprocess.CompletedProcess[str]:
        args = ["witness", "check", "--log", server.url, "--state", str(tmp_path / f"state-{name}")]
        args += ["--key", str(tmp_path / f"{name}.pem"), "--name", f"w.test/{name}", "--json"]
        return chainproof(*before, *args, home=tmp_path)

    with serving(world.directory, "--private", "--witness", vkeys["listed"]) as server:
        done = check("listed")
        assert done.returncode == 0, done.stderr
        assert [c["vkey"] for c in json.loads(done.stdout)["handed_in"]] == [vkeys["listed"]]
        refused = check("other")
        assert refused.returncode == 2
        assert "401 unknown-key" in refused.stderr
        # read with an auditor's key: cosigned, but the log keeps no cosignature of a witness it does not list
        read = check("other", "--key", str(world.key_file("carol")))
        assert read.returncode == 0, read.stderr
        round_ = json.loads(read.stdout)
        # the note handed in may carry the listed witness's cosignature too (served with it)
        assert vkeys["other"] not in [c["vkey"] for c in round_["handed_in"] or []]
        assert round_["handed_in"] or "unknown-witness" in round_["hand_in_error"]
        # a listed witness reads proofs, never entries
        entries = httpx.get(
            server.url + "/v1/log/entries/0", headers=_signed_by(tmp_path / "listed.pem", server.url)
        )
        assert entries.status_code == 403


def _signed_by(key_file: Path, url: str) -> dict[str, str]:
    return hs.sign_request("GET", url + "/v1/log/entries/0", {}, b"", keys.read_private(key_file))
