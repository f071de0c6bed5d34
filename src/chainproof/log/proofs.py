"""Inclusion and consistency proofs as values, and their JSON form.

`log prove` and `log consistency` print the JSON that `to_json` gives (hashes as lowercase hex).
`parse` reads that JSON back, and also the field names other RFC 9162 logs use (Certificate
Transparency's `leaf_index` / `audit_path` / `consistency`, Rekor's and Trillian's `logIndex` /
`treeSize` / `rootHash` / `hashes`, with integers as JSON strings), with hashes in hex or base64,
and the transparency-log entries of Sigstore bundles, so that `verify-proof` can check a proof
from any of them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainproof.errors import FormatError
from chainproof.log import merkle

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> None:
        merkle.verify_inclusion(self.index, self.tree_size, self.leaf_hash, self.proof, self.root_hash)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "root_hash": self.root_hash.hex(),
            "proof": [h.hex() for h in self.proof],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> None:
        merkle.verify_consistency(self.old_size, self.new_size, self.old_root, self.new_root, self.proof)

    def to_json(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "proof": [h.hex() for h in self.proof],
        }


def decode_hash(value: object, what: str) -> bytes:
    """A 32-byte hash given as 64 hex digits or as standard / URL-safe base64."""
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a string of hex or base64")
    if _HEX64.fullmatch(value):
        return bytes.fromhex(value)
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = (
            base64.b64decode(padded, altchars=b"-_", validate=True)
            if "-" in value or "_" in value
            else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is neither 64 hex digits nor base64") from None
    if len(raw) != merkle.HASH_SIZE:
        raise FormatError(f"{what} is {len(raw)} bytes, not {merkle.HASH_SIZE}")
    return raw


def _pick(obj: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _int(value: object, what: str) -> int:
    """A tree size or leaf index: RFC 9162 makes them 64-bit unsigned integers."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FormatError(f"{what} must be an integer")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise FormatError(f"{what} must be an integer, not {value!r}")
        if len(value) > merkle.SIZE_DIGITS:
            raise FormatError(f"{what} must be below 2**64")
        value = int(value)
    if value < 0:
        raise FormatError(f"{what} must not be negative")
    if value >= merkle.SIZE_LIMIT:
        raise FormatError(f"{what} must be below 2**64")
    return value


def _hashes(value: object) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FormatError("the proof must be a list of hashes")
    return tuple(decode_hash(h, f"proof hash {i}") for i, h in enumerate(value))


def sigstore_entry(obj: object) -> dict[str, Any] | None:
    """The transparency-log entry in `obj`, or None when it holds none.

    That is `obj` itself when it has an `inclusionProof` object (a Sigstore bundle's
    TransparencyLogEntry), or the one entry of a whole bundle's `verificationMaterial.tlogEntries`.
    """
    if not isinstance(obj, dict):
        return None
    material = obj.get("verificationMaterial")
    if isinstance(material, dict) and "tlogEntries" in material:
        entries = material["tlogEntries"]
        if not isinstance(entries, list) or len(entries) != 1:
            raise FormatError("the Sigstore bundle must hold exactly one entry in tlogEntries")
        obj = entries[0]
    return obj if isinstance(obj, dict) and isinstance(obj.get("inclusionProof"), dict) else None


def embedded_checkpoint(obj: object) -> str | None:
    """The signed checkpoint a Sigstore entry carries (`inclusionProof.checkpoint.envelope`)."""
    entry = sigstore_entry(obj)
    checkpoint = entry["inclusionProof"].get("checkpoint") if entry is not None else None
    envelope = checkpoint.get("envelope") if isinstance(checkpoint, dict) else None
    if envelope is not None and not isinstance(envelope, str):
        raise FormatError("inclusionProof.checkpoint.envelope must be the signed note as a string")
    return envelope


def _from_sigstore(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's inclusion proof, for the leaf its `canonicalizedBody` holds (the logged bytes).

    A leaf hash the entry also names must be that body's: a proof must not speak for other bytes
    than the ones the entry shows.
    """
    inner = dict(entry["inclusionProof"])
    named = _pick(inner, "leaf_hash", "leafHash")
    if named is None:
        named = _pick(entry, "leaf_hash", "leafHash")
    body = entry.get("canonicalizedBody")
    if body is not None:
        if not isinstance(body, str):
            raise FormatError("canonicalizedBody must be a base64 string")
        try:
            leaf = merkle.leaf_hash(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            raise FormatError("canonicalizedBody is not valid base64") from None
        if named is not None and decode_hash(named, "leaf_hash") != leaf:
            raise FormatError("the entry's leaf hash is not the hash of its canonicalizedBody")
        named = leaf.hex()
    inner["leaf_hash"] = named
    return inner


def parse(obj: object, leaf_hash: bytes | None = None) -> InclusionProof | ConsistencyProof:
    """Read a proof from JSON; `leaf_hash`, when given, replaces the leaf hash the JSON carries.

    A Sigstore entry or bundle (see `sigstore_entry`) is read as the inclusion proof it carries.
    """
    entry = sigstore_entry(obj)
    if entry is not None:
        obj = _from_sigstore(entry)
    if not isinstance(obj, dict):
        raise FormatError("a proof must be a JSON object")
    proof = _hashes(_pick(obj, "proof", "hashes", "audit_path", "consistency"))
    if _pick(obj, "old_size", "first", "oldSize") is not None:
        return ConsistencyProof(
            old_size=_int(_pick(obj, "old_size", "first", "oldSize"), "old_size"),
            new_size=_int(_pick(obj, "new_size", "second", "newSize"), "new_size"),
            old_root=decode_hash(_pick(obj, "old_root", "oldRoot", "first_root"), "old_root"),
            new_root=decode_hash(_pick(obj, "new_root", "newRoot", "second_root"), "new_root"),
            proof=proof,
        )
    index = _pick(obj, "index", "leaf_index", "logIndex")
    if index is None:
        raise FormatError("not a proof: no index (inclusion) nor old_size (consistency)")
    return InclusionProof(
        index=_int(index, "index"),
        tree_size=_int(_pick(obj, "tree_size", "treeSize"), "tree_size"),
        leaf_hash=decode_hash(_pick(obj, "leaf_hash", "leafHash"), "leaf_hash")
        if leaf_hash is None
        else leaf_hash,
        root_hash=decode_hash(_pick(obj, "root_hash", "rootHash"), "root_hash"),
        proof=proof,
    )
