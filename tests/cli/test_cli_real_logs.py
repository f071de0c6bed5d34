"""`verify-note` and `verify-proof` on what real logs published: the Go checksum database's signed
tree heads, an entry of Sigstore's Rekor v2 staging log with its inclusion proof and checkpoint,
and a consistency proof between two tree heads of a Certificate Transparency log
(tests/vectors/logs, see the README there)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chainproof.attest import keys
from chainproof.log import note

VECTORS = Path(__file__).parents[1] / "vectors" / "logs"
SUMDB = json.loads((VECTORS / "sum-golang-org.json").read_text())
REKOR_ENTRY = json.loads((VECTORS / "rekor-v2-entry.json").read_text())
REKOR_KEY = json.loads((VECTORS / "rekor-v2-key.json").read_text())
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def _rekor_vkey() -> str:
    """The checkpoint verifier key, from the public key Sigstore's trusted root lists for the log."""
    spki = base64.b64decode(REKOR_KEY["public_key_spki"])
    assert spki.startswith(ED25519_SPKI_PREFIX)
    raw = spki[len(ED25519_SPKI_PREFIX) :]
    return note.NoteVerifier(REKOR_KEY["name"], Ed25519PublicKey.from_public_bytes(raw)).vkey


def _write(tmp_path: Path, name: str, obj: object) -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def _entry(**proof_changes: Any) -> dict[str, Any]:
    entry = json.loads(json.dumps(REKOR_ENTRY))
    entry["inclusionProof"].update(proof_changes)
    return entry


@pytest.mark.parametrize("text", SUMDB["notes"])
def test_sum_golang_org_tree_heads_verify(cli: Cli, tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "tree.note", text)
    assert cli.ok("verify-note", path, "--vkey", SUMDB["vkey"]).out == text.partition("\n\n")[0] + "\n"
    size = text.splitlines()[1]
    changed = _write(tmp_path, "changed.note", text.replace(f"\n{size}\n", f"\n{int(size) + 1}\n"))
    assert "signature" in cli.fails(1, "verify-note", changed, "--vkey", SUMDB["vkey"])


def test_the_key_hash_we_derive_is_the_one_rekor_signs_with() -> None:
    """The four bytes that name the key in the checkpoint's signature line, and the log id's."""
    verifier = note.parse_vkey(_rekor_vkey())
    signature_line = REKOR_ENTRY["inclusionProof"]["checkpoint"]["envelope"].splitlines()[-1]
    assert base64.b64decode(signature_line.split()[-1])[:4] == verifier.key_hash
    assert base64.b64decode(REKOR_KEY["log_id"])[:4] == verifier.key_hash


def test_a_rekor_v2_entry_verifies_against_its_checkpoint(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, "entry.json", REKOR_ENTRY)
    result = cli.ok("verify-proof", path, "--vkey", _rekor_vkey(), "--json").json()
    assert (result["valid"], result["index"], result["tree_size"]) == (True, 645, 646)
    assert result["checkpoint"] == {"origin": REKOR_KEY["name"], "tree_size": 646}
    assert result["root_hash"] == base64.b64decode(REKOR_ENTRY["inclusionProof"]["rootHash"]).hex()
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"tlogEntries": [REKOR_ENTRY]},
    }
    cli.ok("verify-proof", _write(tmp_path, "bundle.json", bundle), "--vkey", _rekor_vkey())
    assert "checkpoint" not in cli.ok("verify-proof", path, "--json").json()  # the proof alone


def test_a_changed_rekor_v2_entry_fails(cli: Cli, tmp_path: Path) -> None:
    vkey = _rekor_vkey()
    body = REKOR_ENTRY["canonicalizedBody"]
    envelope = REKOR_ENTRY["inclusionProof"]["checkpoint"]["envelope"]
    hashes = REKOR_ENTRY["inclusionProof"]["hashes"]
    other_root = base64.b64encode(bytes(32)).decode()
    changed = {
        "body": {
            **REKOR_ENTRY,
            "canonicalizedBody": body[:40] + ("A" if body[40] != "A" else "B") + body[41:],
        },
        "proof": _entry(hashes=[*hashes[:2], base64.b64encode(bytes(32)).decode(), *hashes[3:]]),
        "index": _entry(logIndex="644"),
        "root": _entry(rootHash=other_root),
        "checkpoint": _entry(checkpoint={"envelope": envelope.replace("\n646\n", "\n647\n")}),
    }
    for name, entry in changed.items():
        path = _write(tmp_path, f"{name}.json", entry)
        assert cli.fails(1, "verify-proof", path, "--vkey", vkey), name
    other_log = note.NoteSigner(REKOR_KEY["name"], keys.generate()).verifier.vkey
    assert "signature" in cli.fails(
        1, "verify-proof", _write(tmp_path, "entry.json", REKOR_ENTRY), "--vkey", other_log
    )


def test_bundles_and_entries_that_cannot_be_read(cli: Cli, tmp_path: Path) -> None:
    two = {"verificationMaterial": {"tlogEntries": [REKOR_ENTRY, REKOR_ENTRY]}}
    assert "exactly one" in cli.fails(1, "verify-proof", _write(tmp_path, "two.json", two))
    bad_body = {**REKOR_ENTRY, "canonicalizedBody": "not base64!"}
    assert "canonicalizedBody" in cli.fails(1, "verify-proof", _write(tmp_path, "b.json", bad_body))
    bare = _entry()
    del bare["inclusionProof"]["checkpoint"]
    message = cli.fails(2, "verify-proof", _write(tmp_path, "bare.json", bare), "--vkey", _rekor_vkey())
    assert "--checkpoint" in message


# -- Certificate Transparency -------------------------------------------------------------------

CT = json.loads((VECTORS / "ct-argon2027h1.json").read_text())


def _sth_verifies(sth: dict[str, Any]) -> bool:
    """RFC 6962 section 3.5: the log's ECDSA signature over the TreeHeadSignature structure."""
    key = serialization.load_der_public_key(base64.b64decode(CT["log"]["key"]))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signed = base64.b64decode(sth["tree_head_signature"])
    assert signed[:2] == bytes([4, 3])  # SHA-256, ECDSA
    (length,) = struct.unpack(">H", signed[2:4])
    root = base64.b64decode(sth["sha256_root_hash"])
    message = bytes([0, 1]) + struct.pack(">QQ", sth["timestamp"], sth["tree_size"]) + root
    try:
        key.verify(signed[4 : 4 + length], message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return len(signed) == 4 + length


def _ct_proof() -> dict[str, Any]:
    """The consistency proof between the two tree heads, as CT's get-sth and get-sth-consistency
    give it, in the field names CT uses."""
    old, new = CT["get-sth"]
    return {
        "first": old["tree_size"],
        "second": new["tree_size"],
        "first_root": old["sha256_root_hash"],
        "second_root": new["sha256_root_hash"],
        **CT["get-sth-consistency"],
    }


def test_the_ct_tree_heads_are_the_logs() -> None:
    """The vector is what Argon2027h1 signed: its key is the log id's, and both STHs verify."""
    assert hashlib.sha256(base64.b64decode(CT["log"]["key"])).digest() == base64.b64decode(
        CT["log"]["log_id"]
    )
    assert all(_sth_verifies(sth) for sth in CT["get-sth"])
    assert not _sth_verifies({**CT["get-sth"][0], "tree_size": CT["get-sth"][0]["tree_size"] + 1})


def test_a_ct_consistency_proof_between_two_tree_heads(cli: Cli, tmp_path: Path) -> None:
    proof = _ct_proof()
    result = cli.ok("verify-proof", _write(tmp_path, "ct.json", proof), "--json").json()
    assert (result["old_size"], result["new_size"]) == (384_065_451, 384_071_894)
    for k in range(len(proof["consistency"])):
        hashes_ = list(proof["consistency"])
        hashes_[k] = base64.b64encode(bytes(32)).decode()
        assert cli.fails(
            1, "verify-proof", _write(tmp_path, f"bad{k}.json", {**proof, "consistency": hashes_})
        )
    swapped = {**proof, "first_root": proof["second_root"], "second_root": proof["first_root"]}
    assert cli.fails(1, "verify-proof", _write(tmp_path, "swapped.json", swapped))
    assert cli.fails(
        1, "verify-proof", _write(tmp_path, "moved.json", {**proof, "first": proof["first"] - 1})
    )


def test_a_ct_consistency_proof_bound_to_both_signed_tree_heads(cli: Cli, tmp_path: Path) -> None:
    """What a CT monitor checks: the log's newer tree head extends the older one, both signed."""
    old, new = CT["get-sth"]
    proof = _ct_proof()
    path, key = _write(tmp_path, "ct.json", proof), CT["log"]["key"]
    sth_old, sth_new = _write(tmp_path, "old.json", old), _write(tmp_path, "new.json", new)
    both = ["--old-checkpoint", sth_old, "--checkpoint", sth_new, "--vkey", key]
    result = cli.ok("verify-proof", path, *both, "--json").json()
    named = f"CT log {CT['log']['log_id']}"
    assert result["old_checkpoint"] == {"origin": named, "tree_size": old["tree_size"]}
    assert result["checkpoint"] == {"origin": named, "tree_size": new["tree_size"]}
    swapped = ["--old-checkpoint", sth_new, "--checkpoint", sth_old, "--vkey", key]
    assert "the proof's old tree is size 384065451" in cli.fails(1, "verify-proof", path, *swapped)
    later = _write(tmp_path, "later.json", {**new, "timestamp": new["timestamp"] + 1})
    assert "does not verify" in cli.fails(1, "verify-proof", path, "--checkpoint", later, "--vkey", key)
    assert "needs the log's key" in cli.fails(
        1, "verify-proof", path, "--checkpoint", sth_new, "--vkey", SUMDB["vkey"]
    )
