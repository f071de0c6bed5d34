"""`verify-proof` and `verify-note`: proofs from this log and in other logs' dialects, good and bad."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import ORIGIN, Cli, Store, envelope, envelope_json, read_key

from chainproof.log import merkle


@pytest.fixture
def grown(cli: Cli, store: Store, alice: Path) -> Store:
    """The store with 11 entries, appended in batches of 1, 4 and 4 after the registration."""
    key = read_key(alice)
    n = 0
    for count in (1, 4, 4):
        files = []
        for _ in range(count):
            path = store.workdir / f"env-{n}.json"
            path.write_bytes(envelope_json(envelope(key, n)))
            files.append(path)
            n += 1
        cli.ok("--store", store.path, "log", "append", *files)
        (store.workdir / f"checkpoint-{store.size()}").write_text(
            cli.ok("--store", store.path, "log", "checkpoint").out
        )
    return store


def _write(store: Store, name: str, obj: object) -> Path:
    path = store.workdir / name
    path.write_text(json.dumps(obj))
    return path


def _b64(hex_hash: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_hash)).decode()


def _flip(hex_hash: str) -> str:
    return ("1" if hex_hash[0] == "0" else "0") + hex_hash[1:]


def _prove(cli: Cli, store: Store, *args: object) -> dict[str, Any]:
    obj: dict[str, Any] = cli.ok("--store", store.path, "log", "prove", *args, "--json").json()
    return obj


def _consistency(cli: Cli, store: Store, *args: object) -> dict[str, Any]:
    obj: dict[str, Any] = cli.ok("--store", store.path, "log", "consistency", *args, "--json").json()
    return obj


def test_inclusion_proofs_from_log_prove_verify(cli: Cli, grown: Store) -> None:
    for index in range(11):
        for size in (index + 1, 11):
            proof = _prove(cli, grown, index, "--size", size)
            path = _write(grown, "proof.json", proof)
            obj = cli.ok("verify-proof", path, "--json").json()
            assert obj == {"valid": True, **proof}
    text = cli.ok("verify-proof", path).out
    assert text.startswith("valid: leaf 10 is in the tree of size 11")


def test_a_proof_from_stdin(cli: Cli, grown: Store) -> None:
    proof = _prove(cli, grown, 3)
    assert cli.ok("verify-proof", "-", stdin=json.dumps(proof).encode()).out.startswith("valid:")


def test_an_inclusion_proof_in_base64_and_other_dialects(cli: Cli, grown: Store) -> None:
    proof = _prove(cli, grown, 6)
    dialects = {
        "base64": {
            **proof,
            "leaf_hash": _b64(proof["leaf_hash"]),
            "root_hash": _b64(proof["root_hash"]),
            "proof": [_b64(h) for h in proof["proof"]],
        },
        "ct": {
            "leaf_index": 6,
            "tree_size": 11,
            "leaf_hash": proof["leaf_hash"],
            "root_hash": proof["root_hash"],
            "audit_path": [_b64(h) for h in proof["proof"]],
        },
        "rekor": {
            "logIndex": "6",
            "treeSize": "11",
            "leafHash": _b64(proof["leaf_hash"]),
            "rootHash": proof["root_hash"],
            "hashes": proof["proof"],
        },
        "sigstore": {
            "inclusionProof": {
                "logIndex": "6",
                "treeSize": "11",
                "rootHash": _b64(proof["root_hash"]),
                "hashes": [_b64(h) for h in proof["proof"]],
            },
            "leafHash": proof["leaf_hash"],
        },
        "urlsafe": {
            **proof,
            "root_hash": _b64(proof["root_hash"]).replace("+", "-").replace("/", "_").rstrip("="),
        },
    }
    for name, obj in dialects.items():
        path = _write(grown, f"{name}.json", obj)
        result = cli.ok("verify-proof", path, "--json").json()
        assert (result["valid"], result["index"], result["tree_size"], result["root_hash"]) == (
            True,
            6,
            11,
            proof["root_hash"],
        ), name


def test_a_flipped_hash_is_invalid(cli: Cli, grown: Store) -> None:
    proof = _prove(cli, grown, 5)
    variants = [
        {**proof, "leaf_hash": _flip(proof["leaf_hash"])},
        {**proof, "root_hash": _flip(proof["root_hash"])},
        *(
            {**proof, "proof": [_flip(h) if i == j else h for j, h in enumerate(proof["proof"])]}
            for i in range(len(proof["proof"]))
        ),
        {**proof, "index": 4},
        {**proof, "tree_size": 5},
        {**proof, "proof": proof["proof"][:-1]},
        {**proof, "proof": [*proof["proof"], proof["root_hash"]]},
        {**proof, "root_hash": _b64(_flip(proof["root_hash"]))},
    ]
    for variant in variants:
        path = _write(grown, "bad-proof.json", variant)
        message = cli.fails(1, "verify-proof", path)
        assert "proof" in message or "outside a tree" in message
        assert cli.fails(1, "verify-proof", path, "--json")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "a proof must be a JSON object"),
        (b'{"hello": 1}', "not a proof"),
        (b'{"index": 0, "tree_size": 1, "leaf_hash": "xyz", "root_hash": "00", "proof": []}', "leaf_hash"),
        (
            b'{"index": -1, "tree_size": 1, "leaf_hash": "'
            + b"0" * 64
            + b'", "root_hash": "'
            + b"0" * 64
            + b'"}',
            "index",
        ),
        (b'{"index": true, "tree_size": 1}', "index must be an integer"),
        (
            b'{"index": 0, "tree_size": 1, "leaf_hash": "'
            + b"0" * 64
            + b'", "root_hash": "'
            + b"0" * 64
            + b'", "proof": "x"}',
            "list",
        ),
        (
            b'{"index": 0, "tree_size": 1, "leaf_hash": "'
            + b"0" * 62
            + b'", "root_hash": "'
            + b"0" * 64
            + b'"}',
            "leaf_hash",
        ),
    ],
)
def test_malformed_proofs(cli: Cli, store: Store, content: bytes, fragment: str) -> None:
    path = store.workdir / "malformed.json"
    path.write_bytes(content)
    assert fragment in cli.fails(1, "verify-proof", path)


def test_consistency_proofs_verify_and_fail_when_flipped(cli: Cli, grown: Store) -> None:
    for old in range(12):
        proof = _consistency(cli, grown, old)
        assert cli.ok("verify-proof", _write(grown, "c.json", proof), "--json").json()["valid"] is True
    proof = _consistency(cli, grown, 3, 7)
    text = cli.ok("verify-proof", _write(grown, "c.json", proof)).out
    assert text.startswith("valid: the tree of size 3 is a prefix of the tree of size 7\n")
    for variant in (
        {**proof, "old_root": _flip(proof["old_root"])},
        {**proof, "new_root": _flip(proof["new_root"])},
        {**proof, "proof": [_flip(proof["proof"][0]), *proof["proof"][1:]]},
        {**proof, "old_size": 4},
        {**proof, "proof": []},
    ):
        assert "proof" in cli.fails(1, "verify-proof", _write(grown, "c-bad.json", variant))
    ct = {
        "first": 3,
        "second": 7,
        "first_root": _b64(proof["old_root"]),
        "second_root": proof["new_root"],
        "consistency": [_b64(h) for h in proof["proof"]],
    }
    assert cli.ok("verify-proof", _write(grown, "c-ct.json", ct), "--json").json()["valid"] is True


def test_verify_proof_against_a_signed_checkpoint(cli: Cli, grown: Store) -> None:
    at11, at7 = grown.workdir / "checkpoint-11", grown.workdir / "checkpoint-7"
    proof = _write(grown, "p.json", _prove(cli, grown, 4))
    cli.ok("verify-proof", proof, "--checkpoint", at11, "--vkey", grown.vkey)
    message = cli.fails(1, "verify-proof", proof, "--checkpoint", at7, "--vkey", grown.vkey)
    assert "the proof is for size 11" in message
    assert "the checkpoint says size 7" in message
    cli.ok(
        "verify-proof",
        _write(grown, "p7.json", _prove(cli, grown, 4, "--size", 7)),
        "--checkpoint",
        at7,
        "--vkey",
        grown.vkey,
    )
    consistency = _write(grown, "c.json", _consistency(cli, grown, 3, 7))
    cli.ok("verify-proof", consistency, "--checkpoint", at7, "--vkey", grown.vkey)
    assert cli.fails(1, "verify-proof", consistency, "--checkpoint", at11, "--vkey", grown.vkey)
    # the checkpoint must verify under the key
    forged = grown.workdir / "forged-checkpoint"
    note = at11.read_text()
    forged.write_text(note.replace("\n11\n", "\n12\n"))
    assert "does not verify" in cli.fails(
        1, "verify-proof", proof, "--checkpoint", forged, "--vkey", grown.vkey
    )
    other = cli.ok(
        "--store", grown.workdir / "other", "init", "--origin", "other.example/log", "--json"
    ).json()["vkey"]
    assert cli.fails(1, "verify-proof", proof, "--checkpoint", at11, "--vkey", other)
    # and --checkpoint needs --vkey
    result = cli("verify-proof", proof, "--checkpoint", at11)
    assert result.code in (1, 2)
    assert "--vkey" in result.error()


def test_a_consistency_proof_between_two_signed_checkpoints(cli: Cli, grown: Store) -> None:
    at3, at7, at11 = (grown.workdir / f"checkpoint-{n}" for n in (3, 7, 11))
    proof = _write(grown, "c.json", _consistency(cli, grown, 3, 11))
    both = ["--old-checkpoint", at3, "--checkpoint", at11, "--vkey", grown.vkey]
    result = cli.ok("verify-proof", proof, *both, "--json").json()
    assert result["old_checkpoint"] == {"origin": ORIGIN, "tree_size": 3}
    assert result["checkpoint"] == {"origin": ORIGIN, "tree_size": 11}
    assert cli.ok("verify-proof", proof, *both).out.count("signed checkpoint of") == 2
    assert (
        cli.ok("verify-proof", proof, "--old-checkpoint", at3, "--vkey", grown.vkey).out.count(
            "signed checkpoint of"
        )
        == 1
    )
    message = cli.fails(
        1, "verify-proof", proof, "--old-checkpoint", at7, "--checkpoint", at11, "--vkey", grown.vkey
    )
    assert "the proof's old tree is size 3" in message
    assert "the checkpoint says size 7" in message
    inclusion = _write(grown, "p.json", _prove(cli, grown, 4))
    message = cli.fails(2, "verify-proof", inclusion, "--old-checkpoint", at3, "--vkey", grown.vkey)
    assert "consistency proofs" in message
    assert "--vkey" in cli.fails(2, "verify-proof", proof, "--old-checkpoint", at3)


def test_verify_proof_with_the_raw_leaf(cli: Cli, grown: Store) -> None:
    proof = _prove(cli, grown, 3)
    leaf = grown.workdir / "leaf"
    leaf.write_bytes(cli.ok("--store", grown.path, "log", "get", 3, "--raw").out_bytes)
    without_hash = {k: v for k, v in proof.items() if k != "leaf_hash"}
    cli.ok("verify-proof", _write(grown, "p.json", without_hash), "--leaf", leaf)
    cli.ok(
        "verify-proof",
        _write(grown, "p.json", {**proof, "leaf_hash": _flip(proof["leaf_hash"])}),
        "--leaf",
        leaf,
    )
    other = grown.workdir / "other-leaf"
    other.write_bytes(leaf.read_bytes() + b" ")
    assert cli.fails(1, "verify-proof", _write(grown, "p.json", proof), "--leaf", other)
    assert merkle.leaf_hash(leaf.read_bytes()).hex() == proof["leaf_hash"]


def test_verify_note(cli: Cli, grown: Store) -> None:
    note_file = grown.workdir / "checkpoint-11"
    note = note_file.read_text()
    body = note.split("\n\n")[0] + "\n"
    assert cli.ok("verify-note", note_file, "--vkey", grown.vkey).out == body
    assert cli.ok("verify-note", note_file, "--vkey", grown.vkey, "--json").json() == {
        "valid": True,
        "body": body,
    }
    assert cli.ok("verify-note", "-", "--vkey", grown.vkey, stdin=note.encode()).out == body
    bad = grown.workdir / "bad-note"
    for forged in (
        note.replace("\n11\n", "\n12\n"),
        note.replace(body.split("\n")[2], base64.b64encode(b"\0" * 32).decode()),
        note[:-4] + ("A" if note[-4] != "A" else "B") + note[-3:],
        body,
        note.replace("\u2014", "-"),
    ):
        assert forged != note
        bad.write_text(forged)
        assert cli.fails(1, "verify-note", bad, "--vkey", grown.vkey)
    other = cli.ok(
        "--store", grown.workdir / "other", "init", "--origin", "cli.example/custody", "--json"
    ).json()["vkey"]
    assert "no signature by" in cli.fails(1, "verify-note", note_file, "--vkey", other)
    assert "verifier key" in cli.fails(1, "verify-note", note_file, "--vkey", "not-a-vkey")
    bad.write_bytes(b"\xff\xfe")
    assert "UTF-8" in cli.fails(1, "verify-note", bad, "--vkey", grown.vkey)


def test_verify_proof_says_when_no_signed_checkpoint_binds_the_proof(cli: Cli, grown: Store) -> None:
    at11, at7 = grown.workdir / "checkpoint-11", grown.workdir / "checkpoint-7"
    unbound = "not bound to a signed checkpoint: the proof was checked only against itself"
    inclusion = _write(grown, "p.json", _prove(cli, grown, 4))
    lines = cli.ok("verify-proof", inclusion).out.splitlines()
    assert lines[0].startswith("valid: leaf 4 is in the tree of size 11")
    assert lines[-1].startswith(unbound)
    bound = cli.ok("verify-proof", inclusion, "--checkpoint", at11, "--vkey", grown.vkey).out
    assert "not bound" not in bound
    assert bound.splitlines()[-1] == f"signed checkpoint of {ORIGIN}: size 11, the same root"
    consistency = _write(grown, "c.json", _consistency(cli, grown, 7, 11))
    assert cli.ok("verify-proof", consistency).out.splitlines()[-1].startswith(unbound)
    old_only = cli.ok("verify-proof", consistency, "--old-checkpoint", at7, "--vkey", grown.vkey).out
    assert old_only.splitlines()[-1].startswith("the new tree is not bound to a signed checkpoint")
    both = ["--old-checkpoint", at7, "--checkpoint", at11, "--vkey", grown.vkey]
    assert "not bound" not in cli.ok("verify-proof", consistency, *both).out
