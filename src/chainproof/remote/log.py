"""`RemoteLog`: the custody log of a chainproof server, with the local log's methods.

Nothing the server says is taken on trust. The log's verifier key is pinned on first contact;
every checkpoint's signature is checked and it must extend the last one this client saw
(`seen`), by a consistency proof; every entry read, and every entry appended, is proved
included under a checkpoint so checked; every proof returned is verified first. A server that
rewrites its history, forks it, or shows another key is refused with a `VerificationError`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainproof.attest import keys, signing
from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.log import entries, merkle
from chainproof.log import proofs as proof_json
from chainproof.log.note import Checkpoint, parse_vkey, verify_checkpoint
from chainproof.log.proofs import ConsistencyProof, InclusionProof
from chainproof.log.service import AppendedEntry, AppendResult, check_name_free, check_revocation
from chainproof.log.store import KeyRecord, KeyRole, find_key
from chainproof.remote.client import RemoteClient
from chainproof.remote.seen import Seen, SeenStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.attest import dsse


class RemoteLog:
    def __init__(self, url: str, key: Ed25519PrivateKey | None = None, *, home: Path | None = None) -> None:
        self.client = RemoteClient(url, key)
        self.directory = url  # what `log info` shows as the store
        self._seen = SeenStore(self.client.url, home)
        self._info: dict[str, Any] | None = None
        self._head: Checkpoint | None = None  # the latest checkpoint checked in this process

    def close(self) -> None:
        self.client.close()

    # -- facts ------------------------------------------------------------------------------

    def _log_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.get("/v1/log")
        return self._info

    @property
    def vkey(self) -> str:
        """The log's verifier key: the one pinned for this server, else (first contact) the one it names."""
        seen = self._seen.load()
        named = str(self._log_info()["vkey"])
        if seen is not None and seen.vkey != named:
            raise VerificationError(
                f"{self.client.url} now names checkpoint key {named}, not {seen.vkey} as when first "
                f"seen ({self._seen.path}): refusing a log that changed its key"
            )
        return named

    @property
    def origin(self) -> str:
        return parse_vkey(self.vkey).name

    def size(self) -> int:
        return self._checked().size

    def keys(self) -> list[KeyRecord]:
        records: list[KeyRecord] = []
        start: int | None = 0
        while start is not None:
            page = self.client.get("/v1/keys", {"start": start, "limit": 1000})
            records += [key_record(k) for k in page["keys"]]
            start = page["next"]
        return records

    def find_key(self, name_or_keyid: str) -> KeyRecord:
        return find_key(self.keys(), name_or_keyid)

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self) -> str:
        """The latest checkpoint, once its signature is checked and it is proved to extend the one
        last seen; it is then remembered."""
        note = str(self.client.get("/v1/log/checkpoint")["note"])
        self._accept(note)
        return note

    def checked_head(self) -> Checkpoint:
        """The latest checkpoint this process checked (fetching one if none was)."""
        return self._checked()

    def leaves(self, start: int, limit: int) -> list[bytes]:
        """Up to `limit` entries' leaf bytes from `start`, as the server sends them (unchecked:
        the caller proves them, e.g. by the root they make)."""
        page = self.client.get("/v1/log/entries", {"start": start, "limit": limit})
        return [_b64(item["leaf"]) for item in page["entries"]]

    def _checked(self) -> Checkpoint:
        if self._head is None:
            self.checkpoint()
        assert self._head is not None
        return self._head

    def _accept(self, note: str) -> Checkpoint:
        vkey = self.vkey
        try:
            cp = verify_checkpoint(note, parse_vkey(vkey))
        except VerificationError as e:
            raise VerificationError(f"{self.client.url}: its checkpoint does not verify: {e}") from None
        seen = self._seen.load()
        if seen is not None:
            self._check_extends(seen, cp)
        if self._head is None or cp.size >= self._head.size:
            self._head = cp
        self._seen.save(Seen(vkey, cp.size, cp.root, note))
        return cp

    def _check_extends(self, seen: Seen, cp: Checkpoint) -> None:
        where = f"{self.client.url}: the log does not extend the checkpoint seen last ({self._seen.path})"
        if cp.size < seen.size:
            raise VerificationError(f"{where}: it shrank from {seen.size} to {cp.size} entries")
        if cp.size == seen.size:
            if cp.root != seen.root:
                raise VerificationError(f"{where}: another tree of the same size {cp.size} (a fork)")
            return
        proof = self._consistency_from_server(seen.size, cp.size)
        if proof.old_root != seen.root or proof.new_root != cp.root:
            raise VerificationError(f"{where}: the consistency proof is for other trees")
        try:
            proof.verify()
        except VerificationError as e:
            raise VerificationError(f"{where}: {e}") from None

    # -- proofs -----------------------------------------------------------------------------

    def _consistency_from_server(self, old: int, new: int) -> ConsistencyProof:
        got = proof_json.parse(self.client.get("/v1/log/proofs/consistency", {"old": old, "new": new}))
        if not isinstance(got, ConsistencyProof) or (got.old_size, got.new_size) != (old, new):
            raise FormatError(f"{self.client.url}: the server answered another proof than asked")
        return got

    def _root_at(self, size: int) -> bytes:
        """The root of the first `size` entries, proved consistent with the latest checkpoint."""
        head = self._checked()
        if size > head.size:
            self.checkpoint()
            head = self._checked()
        if size > head.size:
            raise UsageError(f"tree size {size} is larger than the log (size {head.size})")
        if size == head.size:
            return head.root
        if size == 0:
            return merkle.EMPTY_ROOT
        proof = self._consistency_from_server(size, head.size)
        if proof.new_root != head.root:
            raise VerificationError(
                f"{self.client.url}: a consistency proof for another tree than its checkpoint's"
            )
        proof.verify()
        return proof.old_root

    def prove(self, index: int, size: int | None = None) -> InclusionProof:
        return self._inclusion({"index": index}, size)

    def prove_leaf(self, leaf_hash: bytes, size: int | None = None) -> InclusionProof:
        return self._inclusion({"leaf_hash": leaf_hash.hex()}, size, leaf_hash)

    def _inclusion(
        self, which: dict[str, object], size: int | None, leaf_hash: bytes | None = None
    ) -> InclusionProof:
        n = self._checked().size if size is None else size
        root = self._root_at(n)
        got = proof_json.parse(self.client.get("/v1/log/proofs/inclusion", {**which, "size": n}))
        if not isinstance(got, InclusionProof) or got.tree_size != n or got.root_hash != root:
            raise VerificationError(f"{self.client.url}: an inclusion proof for another tree than asked")
        if leaf_hash is not None and got.leaf_hash != leaf_hash:
            raise VerificationError(f"{self.client.url}: an inclusion proof of another leaf than asked")
        if "index" in which and got.index != which["index"]:
            raise VerificationError(f"{self.client.url}: an inclusion proof of another entry than asked")
        got.verify()
        return got

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        n = self._checked().size if new is None else new
        root = self._root_at(n)
        if old > n:
            raise UsageError(f"old size {old} is larger than new size {n}")
        got = self._consistency_from_server(old, n)
        if got.new_root != root:
            raise VerificationError(
                f"{self.client.url}: a consistency proof for another tree than its checkpoint's"
            )
        got.verify()
        return got

    # -- entries ----------------------------------------------------------------------------

    def entry(self, index: int) -> bytes:
        """An entry's leaf bytes, proved included under the latest checkpoint."""
        size = self._checked().size
        if not 0 <= index < size:
            self.checkpoint()
            size = self._checked().size
        if not 0 <= index < size:
            raise UsageError(f"index {index} is outside the log (size {size})")
        leaf = _b64(self.client.get(f"/v1/log/entries/{index}")["leaf"])
        self.prove_leaf_at(index, merkle.leaf_hash(leaf))
        return leaf

    def prove_leaf_at(self, index: int, leaf_hash: bytes) -> None:
        proof = self.prove(index)
        if proof.leaf_hash != leaf_hash:
            raise VerificationError(f"{self.client.url}: entry {index} is not the entry the log holds there")

    def append(
        self, envelopes: list[dsse.Envelope] | tuple[dsse.Envelope, ...], labels: Any = ()
    ) -> AppendResult:
        """Append through the server (all or none); each new entry is then proved included
        under the checkpoint it answered with, and that checkpoint checked like any other."""
        body = json.dumps([env.to_json_obj() for env in envelopes]).encode()
        answer = self.client.post("/v1/log/entries", body)
        cp = self._accept(str(answer["checkpoint"]))
        ours = merkle.leaf_hashes([env.canonical() for env in envelopes])
        entries = tuple(
            AppendedEntry(int(e["index"]), bytes.fromhex(e["leaf_hash"]), bool(e["duplicate"]))
            for e in answer["entries"]
        )
        if [e.leaf_hash for e in entries] != ours:
            raise VerificationError(f"{self.client.url}: the server appended other entries than those sent")
        for e in entries:
            proof = self.prove(e.index, cp.size)
            if proof.leaf_hash != e.leaf_hash:
                raise VerificationError(f"{self.client.url}: entry {e.index} is not the one appended")
        return AppendResult(entries, cp.size, str(answer["checkpoint"]))

    def register_key(
        self,
        name: str,
        key: Ed25519PrivateKey,
        *,
        admin_key: Path | None = None,
        passphrase: bytes | None = None,
    ) -> AppendResult:
        """As `TransparencyLog.register_key`, the admin key given by its file; the name is checked
        against the registry as the server lists it (the server's log then admits the entry)."""
        admin = self._admin(admin_key, passphrase)
        check_name_free(self.keys(), name)
        return self.append(
            [signing.sign_statement(entries.registration_statement(name, key.public_key()), admin)]
        )

    def revoke_key(
        self,
        record: KeyRecord,
        *,
        effective_from: int | None,
        reason: str,
        admin_key: Path | None = None,
        passphrase: bytes | None = None,
    ) -> AppendResult:
        """As `TransparencyLog.revoke_key`: the same requests refused before anything is signed."""
        admin = self._admin(admin_key, passphrase)
        self.checkpoint()  # the size as it is now, not as this process first saw it
        size = self.size()
        start = size if effective_from is None else effective_from
        check_revocation(record, start, size)
        return self.append(
            [signing.sign_statement(entries.revocation_statement(record, start, reason), admin)]
        )

    def _admin(self, path: Path | None, passphrase: bytes | None) -> Ed25519PrivateKey:
        if path is None:
            raise UsageError("on a remote store, give the admin key's file (--admin-key)")
        return keys.read_private(path, passphrase)


def _b64(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        raise FormatError("the server sent an entry that is not base64") from None


def key_record(obj: dict[str, Any]) -> KeyRecord:
    """A key record as the server's `/v1/keys` lists it (`key_json` with the public key)."""
    try:
        return KeyRecord(
            keyid=str(obj["keyid"]),
            name=str(obj["name"]),
            public_key=_b64(obj["public_key"]),
            role=KeyRole(obj["role"]),
            registered_at=int(obj["registered_at"]),
            revoked_from=None if obj["revoked_from"] is None else int(obj["revoked_from"]),
            revoked_at=None if obj["revoked_at"] is None else int(obj["revoked_at"]),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise FormatError(f"the server sent a key record that is not one ({e})") from None
