"""Tests of chainproof.log.proofs: proof JSON in chainproof's, CT's and Rekor's shapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chainproof.errors import FormatError
from chainproof.log import proofs
from chainproof.log.merkle import ProofError
from chainproof.log.proofs import ConsistencyProof, InclusionProof

from .rfc6962_naive import ct_tree

TREE = ct_tree()
LEAF5 = TREE.leaf_hash(5)
ROOT8 = TREE.root(8)
PATH5 = TREE.path(5, 8)
ROOT2, ROOT5 = TREE.root(2), TREE.root(5)
CONS25 = TREE.proof(2, 5)


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _b64url(h: bytes) -> str:
    return base64.urlsafe_b64encode(h).decode().rstrip("=")


def test_inclusion_json_round_trip() -> None:
    proof = InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    obj = proof.to_json()
    assert obj == {
        "index": 5,
        "tree_size": 8,
        "leaf_hash": LEAF5.hex(),
        "root_hash": ROOT8.hex(),
        "proof": [h.hex() for h in PATH5],
    }
    parsed = proofs.parse(json.loads(json.dumps(obj)))
    assert parsed == proof
    parsed.verify()


def test_consistency_json_round_trip() -> None:
    proof = ConsistencyProof(2, 5, ROOT2, ROOT5, tuple(CONS25))
    obj = proof.to_json()
    assert obj["old_size"] == 2
    assert obj["proof"] == [h.hex() for h in CONS25]
    parsed = proofs.parse(json.loads(json.dumps(obj)))
    assert parsed == proof
    parsed.verify()


def test_parsed_proofs_still_verify_strictly() -> None:
    obj = InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5)).to_json()
    obj["index"] = 4
    with pytest.raises(ProofError):
        proofs.parse(obj).verify()
    cons = ConsistencyProof(2, 5, ROOT2, ROOT5, tuple(CONS25)).to_json()
    cons["new_root"] = ROOT8.hex()
    with pytest.raises(ProofError):
        proofs.parse(cons).verify()


def test_hex_hashes_in_either_case() -> None:
    obj = InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5)).to_json()
    obj["root_hash"] = obj["root_hash"].upper()
    parsed = proofs.parse(obj)
    assert isinstance(parsed, InclusionProof)
    assert parsed.root_hash == ROOT8


@pytest.mark.parametrize("encode", [_b64, _b64url, lambda h: _b64(h).rstrip("="), base64.urlsafe_b64encode])
def test_base64_hashes(encode: Any) -> None:
    def enc(h: bytes) -> str:
        out = encode(h)
        return out.decode() if isinstance(out, bytes) else str(out)

    obj = {
        "index": 5,
        "tree_size": 8,
        "leaf_hash": enc(LEAF5),
        "root_hash": enc(ROOT8),
        "proof": [enc(h) for h in PATH5],
    }
    parsed = proofs.parse(obj)
    assert parsed == InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    parsed.verify()


def test_decode_hash_accepts_url_safe_base64() -> None:
    text = _b64url(_URLSAFE)
    assert "-" in text
    assert "_" in text
    assert proofs.decode_hash(text, "h") == _URLSAFE
    assert proofs.decode_hash(text + "=", "h") == _URLSAFE


def test_decode_hash_prefers_hex_for_64_hex_digits() -> None:
    text = "ab" * 32  # also valid base64 (of 48 bytes)
    assert proofs.decode_hash(text, "h") == bytes.fromhex(text)


def test_certificate_transparency_field_names() -> None:
    # RFC 6962 get-proof-by-hash returns leaf_index and audit_path (base64); the client adds the rest.
    ct = {
        "leaf_index": 5,
        "audit_path": [_b64(h) for h in PATH5],
        "tree_size": 8,
        "leaf_hash": _b64(LEAF5),
        "root_hash": _b64(ROOT8),
    }
    parsed = proofs.parse(ct)
    assert parsed == InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    parsed.verify()
    # get-sth-consistency returns "consistency"; first/second name the sizes.
    cons = {
        "first": 2,
        "second": 5,
        "consistency": [_b64(h) for h in CONS25],
        "first_root": _b64(ROOT2),
        "second_root": _b64(ROOT5),
    }
    parsed_c = proofs.parse(cons)
    assert parsed_c == ConsistencyProof(2, 5, ROOT2, ROOT5, tuple(CONS25))
    parsed_c.verify()


def test_rekor_and_trillian_field_names_with_string_integers() -> None:
    rekor = {
        "logIndex": "5",
        "treeSize": "8",
        "rootHash": ROOT8.hex(),
        "hashes": [h.hex() for h in PATH5],
        "leafHash": LEAF5.hex(),
    }
    parsed = proofs.parse(rekor)
    assert parsed == InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    parsed.verify()
    cons = {"oldSize": "2", "newSize": "5", "oldRoot": ROOT2.hex(), "newRoot": ROOT5.hex(), "hashes": []}
    cons["hashes"] = [h.hex() for h in CONS25]
    assert proofs.parse(cons) == ConsistencyProof(2, 5, ROOT2, ROOT5, tuple(CONS25))


def test_sigstore_bundle_style_inclusion_proof_member() -> None:
    inner: dict[str, Any] = {
        "logIndex": "5",
        "rootHash": _b64(ROOT8),
        "treeSize": "8",
        "hashes": [_b64(h) for h in PATH5],
        "checkpoint": {"envelope": "rekor.example - 123\n8\n...\n"},
    }
    entry: dict[str, Any] = {
        "logIndex": "999",  # the outer, global index is ignored in favour of the proof's own
        "leafHash": _b64(LEAF5),
        "inclusionProof": inner,
    }
    parsed = proofs.parse(entry)
    assert parsed == InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    parsed.verify()
    # A leaf hash inside the proof member wins over the outer one.
    overridden = dict(entry, leafHash=_b64(ROOT8), inclusionProof=dict(inner, leaf_hash=LEAF5.hex()))
    parsed = proofs.parse(overridden)
    assert isinstance(parsed, InclusionProof)
    assert parsed.leaf_hash == LEAF5


def test_sigstore_entry_leaf_from_its_canonicalized_body_and_whole_bundles() -> None:
    body = bytes.fromhex("40414243")  # leaf 5 of the RFC 6962 test tree
    proof = {"logIndex": "5", "rootHash": _b64(ROOT8), "treeSize": "8", "hashes": [_b64(h) for h in PATH5]}
    entry = {"canonicalizedBody": base64.b64encode(body).decode(), "inclusionProof": proof}
    expected = InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5))
    assert proofs.parse(entry) == expected
    assert proofs.parse({"verificationMaterial": {"tlogEntries": [entry]}}) == expected
    assert proofs.embedded_checkpoint(entry) is None
    note = "log.example\n8\n" + _b64(ROOT8) + "\n\n\u2014 log.example AAAA\n"
    assert (
        proofs.embedded_checkpoint({**entry, "inclusionProof": {**proof, "checkpoint": {"envelope": note}}})
        == note
    )
    assert proofs.embedded_checkpoint(_GOOD) is None
    # A leaf hash given by the caller (verify-proof --leaf) replaces the one the JSON names.
    assert proofs.parse(_with(_GOOD, leaf_hash=ROOT8.hex()), LEAF5) == expected
    with pytest.raises(FormatError, match="exactly one"):
        proofs.parse({"verificationMaterial": {"tlogEntries": []}})
    # A leaf hash the entry names as well must be its body's.
    assert proofs.parse({**entry, "leafHash": LEAF5.hex()}) == expected
    with pytest.raises(FormatError, match="not the hash of its canonicalizedBody"):
        proofs.parse({**entry, "inclusionProof": {**proof, "leaf_hash": _b64(ROOT8)}})
    with pytest.raises(FormatError, match="canonicalizedBody is not valid base64"):
        proofs.parse({**entry, "canonicalizedBody": "%%"})
    with pytest.raises(FormatError, match="envelope must be"):
        proofs.embedded_checkpoint({**entry, "inclusionProof": {**proof, "checkpoint": {"envelope": 5}}})


def test_missing_proof_list_is_an_empty_proof() -> None:
    leaf = TREE.leaf_hash(0)
    parsed = proofs.parse({"index": 0, "tree_size": 1, "leaf_hash": leaf.hex(), "root_hash": leaf.hex()})
    assert parsed == InclusionProof(0, 1, leaf, leaf, ())
    parsed.verify()


_URLSAFE = bytes([0xFB, 0xFF]) * 16  # its URL-safe base64 has '-' and '_'
_GOOD: dict[str, Any] = InclusionProof(5, 8, LEAF5, ROOT8, tuple(PATH5)).to_json()
_GOOD_C: dict[str, Any] = ConsistencyProof(2, 5, ROOT2, ROOT5, tuple(CONS25)).to_json()


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    obj = dict(base)
    for k, v in changes.items():
        if v is None:
            obj.pop(k, None)
        else:
            obj[k] = v
    return obj


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([], "must be a JSON object"),
        ("proof", "must be a JSON object"),
        (None, "must be a JSON object"),
        ({}, "not a proof"),
        ({"tree_size": 8}, "not a proof"),
        (_with(_GOOD, index=-1), "index must not be negative"),
        (_with(_GOOD, index=True), "index must be an integer"),
        (_with(_GOOD, index=1.0), "index must be an integer"),
        (_with(_GOOD, index="-1"), "index must be an integer"),
        (_with(_GOOD, index="+1"), "index must be an integer"),
        (_with(_GOOD, index=" 1"), "index must be an integer"),
        (_with(_GOOD, index=""), "index must be an integer"),
        (_with(_GOOD, index="\u0665"), "index must be an integer"),  # ARABIC-INDIC DIGIT FIVE
        (_with(_GOOD, index=[5]), "index must be an integer"),
        (_with(_GOOD, tree_size=None), "tree_size must be an integer"),
        (_with(_GOOD, tree_size="eight"), "tree_size must be an integer"),
        (_with(_GOOD, leaf_hash=None), "leaf_hash must be a string"),
        (_with(_GOOD, leaf_hash=5), "leaf_hash must be a string"),
        # Not 64 hex digits, so read as base64, which gives the wrong length.
        (_with(_GOOD, leaf_hash=LEAF5.hex()[:-2]), "leaf_hash is 46 bytes, not 32"),
        (_with(_GOOD, leaf_hash=LEAF5.hex() + "00"), "leaf_hash is 49 bytes, not 32"),
        (_with(_GOOD, leaf_hash="!!" + LEAF5.hex()[2:]), "leaf_hash is neither 64 hex digits nor base64"),
        (_with(_GOOD, root_hash=_b64(ROOT8[:16])), "root_hash is 16 bytes"),
        (_with(_GOOD, root_hash=_b64(ROOT8) + "!"), "root_hash is neither"),
        (_with(_GOOD, root_hash=_b64url(_URLSAFE) + "!"), "root_hash is neither"),
        (
            _with(_GOOD, root_hash=_b64url(_URLSAFE)[:20] + " " + _b64url(_URLSAFE)[20:]),
            "root_hash is neither",
        ),
        (_with(_GOOD, root_hash="*" + _b64url(_URLSAFE)), "root_hash is neither"),
        # Junk that a lenient decoder would silently drop, leaving a well-padded 32-byte value.
        (_with(_GOOD, root_hash=_b64url(_URLSAFE) + "$$$$"), "root_hash is neither"),
        (
            _with(_GOOD, root_hash=_b64url(_URLSAFE)[:8] + "    " + _b64url(_URLSAFE)[8:]),
            "root_hash is neither",
        ),
        (_with(_GOOD, root_hash=_b64url(_URLSAFE) + "=\n\n\n\n"), "root_hash is neither"),
        (_with(_GOOD, root_hash=_b64(_URLSAFE)[:8] + "    " + _b64(_URLSAFE)[8:]), "root_hash is neither"),
        (_with(_GOOD, root_hash=""), "root_hash is 0 bytes"),
        (_with(_GOOD, proof="ab" * 32), "must be a list of hashes"),
        (_with(_GOOD, proof={"0": "ab" * 32}), "must be a list of hashes"),
        (_with(_GOOD, proof=["ab" * 32, "xyz"]), "proof hash 1"),
        (_with(_GOOD, proof=["ab" * 32, None]), "proof hash 1 must be a string"),
        (_with(_GOOD_C, new_size=None), "new_size must be an integer"),
        (_with(_GOOD_C, old_size=-2), "old_size must not be negative"),
        (_with(_GOOD_C, new_root=None), "new_root must be a string"),
        (_with(_GOOD_C, old_root="00"), "old_root is 1 bytes"),
    ],
)
def test_malformed_proofs_raise_format_error(obj: object, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        proofs.parse(obj)
