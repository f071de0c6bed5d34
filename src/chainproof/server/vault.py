"""The vault's operations on a server: who may push and pull, and the log entries they make.

- Push (`begin`, `write_part`, `write_files`, `commit`): the admin and recorders. The pusher
  sends the manifest, then each file's bytes in parts (small files many to a request), then its
  own signed statement naming the dataset's root
  (`chainproof.vault.records`), which the server appends only once every file is stored.
- Pull (`pull`, `read_file`, `read_files`): any actor holding a live (unexpired, unrevoked) grant for the
  dataset, and no one else, whatever the role. Before any byte is served the puller's own signed
  `access` record of the pull is appended and committed (the server requires it: no record, no
  bytes); every file request names that entry and is checked against it and against the grant
  again (a grant revoked mid-pull stops the next file).

Refusals are `Denied`, so each is appended to the log as a denied request; so is a blob that
fails its check (`tampered`), which is never served.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chainproof._internal import untrusted_json
from chainproof.attest import dsse
from chainproof.custody import predicates
from chainproof.custody.manifests import Manifest, parse_digest
from chainproof.custody.records import Digest
from chainproof.custody.service import GrantState, now
from chainproof.errors import StoreError, UsageError, VerificationError
from chainproof.log import merkle
from chainproof.server import access
from chainproof.server.access import Denied, Principal
from chainproof.vault import crypto, framing, records
from chainproof.vault.blobs import open_blob_store
from chainproof.vault.datasets import NoSuchDataset, StoredEntry, Vault
from chainproof.vault.keyfile import read_master_key

if TYPE_CHECKING:
    from pathlib import Path

    from chainproof.log.service import AppendResult
    from chainproof.server.service import CustodyServer
    from chainproof.server.settings import ServerSettings

BLOBS_ENV = "CHAINPROOF_VAULT_BLOBS"
"""Where the blobs go: `s3://bucket/prefix` or a directory (default: `blobs/` in the store's)."""
_MANIFESTS_KEPT = 64
_BATCH = 4096  # files one request may ask for at once


def open_vault(settings: ServerSettings, directory: Path) -> Vault:
    """The vault of a server given `--vault-key`; its blobs where `CHAINPROOF_VAULT_BLOBS` says."""
    assert settings.vault_key is not None
    master = read_master_key(settings.vault_key)
    return Vault(master, open_blob_store(os.environ.get(BLOBS_ENV) or None, directory), directory)


class VaultOperations:
    """The vault's side of a `CustodyServer`: each method takes the server and the principal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._committing = threading.Lock()  # two pushes of one dataset append one statement
        self._manifests: dict[bytes, Manifest] = {}
        self._accesses: dict[int, tuple[bytes, str]] = {}  # entry index -> (root, keyid)

    # -- rules ------------------------------------------------------------------------------

    @staticmethod
    def vault(srv: CustodyServer) -> Vault:
        if srv.vault is None:
            raise UsageError("this server keeps no datasets: it was started without --vault-key")
        return srv.vault

    @staticmethod
    def may_push(principal: Principal) -> None:
        access.require_signed(principal)
        if principal.role not in (access.Role.ADMIN, access.Role.RECORDER):
            raise Denied("forbidden", f"{principal.describe()} may not push datasets (admin and recorders)")

    @staticmethod
    def live_grant(srv: CustodyServer, principal: Principal, root: bytes) -> GrantState:
        """The principal's live grant for the dataset; Denied, saying why, without one."""
        access.require_signed(principal)
        artifact = Digest("sha256:" + root.hex())
        with srv.custody_turn():  # the lineage index, one request at a time
            states = srv.custody.grants(grantee=principal.name, artifact=artifact)
        live = [s for s in states if s.status == "active"]
        if live:
            return max(live, key=lambda s: s.entry.index)
        held = {s.status for s in states}
        why = (
            "its grant was revoked"
            if held == {"revoked"}
            else "its grant has expired"
            if "expired" in held and "revoked" not in held
            else "its grants were revoked or have expired"
            if held
            else "it holds no grant"
        )
        raise Denied("no-grant", f"{principal.describe()} may not pull {artifact}: {why}")

    # -- push -------------------------------------------------------------------------------

    def begin(self, srv: CustodyServer, principal: Principal, body: bytes) -> dict[str, Any]:
        self.may_push(principal)
        vault = self.vault(srv)
        return vault.begin(Manifest.loads(body, "the manifest sent"))

    def write_part(
        self, srv: CustodyServer, principal: Principal, root: str, sha256: str, *, offset: int, data: bytes
    ) -> dict[str, Any]:
        self.may_push(principal)
        vault = self.vault(srv)
        return vault.write(_digest(root, "the dataset"), _digest(sha256, "the file"), offset, data)

    def write_files(self, srv: CustodyServer, principal: Principal, root: str, body: bytes) -> dict[str, Any]:
        """Whole files at once (`chainproof.vault.framing`), for the many small files of a dataset."""
        self.may_push(principal)
        vault = self.vault(srv)
        return {"files": vault.write_whole(_digest(root, "the dataset"), framing.unpack(body))}

    def commit(self, srv: CustodyServer, principal: Principal, root_text: str, body: bytes) -> dict[str, Any]:
        """Append the pusher's statement naming the dataset, once every file is stored."""
        self.may_push(principal)
        vault = self.vault(srv)
        root = _digest(root_text, "the dataset")
        with self._committing:
            stored = vault.stored(root) or self._store(srv, principal, vault, root, body)
        return {
            "root": "sha256:" + root.hex(),
            "index": stored.index,
            "leaf_hash": merkle.leaf_hash(stored.leaf).hex(),
        }

    def _store(
        self, srv: CustodyServer, principal: Principal, vault: Vault, root: bytes, body: bytes
    ) -> StoredEntry:
        """Append the pusher's statement and mark the dataset stored, once every file is."""
        missing = vault.unstored(root)
        if missing:
            raise UsageError(
                f"{len(missing)} file(s) of the dataset are not stored yet (e.g. sha256:{missing[0]})"
            )
        envelope = dsse.parse(body)
        records.check_stored(envelope, root)
        if [s.keyid for s in envelope.signatures] != [principal.keyid]:
            raise Denied("forbidden", "the stored statement must be signed by the pusher's key alone")
        result = self._append(srv, envelope, "vault stored")
        stored = StoredEntry(result.entries[0].index, envelope.canonical())
        vault.mark_stored(root, stored)
        return stored

    # -- pull -------------------------------------------------------------------------------

    def pull(self, srv: CustodyServer, principal: Principal, root_text: str, body: bytes) -> dict[str, Any]:
        """A pull, in two requests. Without a body: the facts of the access record the puller is
        to sign (its grant's id and purpose, its name and keyid, the time). With the record,
        signed by the puller's key alone: the record appended and committed, then what the
        client needs to fetch and check the files. Nothing is served without such a record."""
        access.require_signed(principal)
        root = _digest(root_text, "the dataset")
        grant = self.live_grant(srv, principal, root)
        vault = self.vault(srv)
        stored = vault.stored(root)
        if stored is None:
            raise NoSuchDataset(
                f"the vault holds no dataset sha256:{root.hex()} (or its push is not finished)"
            )
        if not body:
            return {
                "root": "sha256:" + root.hex(),
                "record": {
                    "grant": grant.entry.grant_id,
                    "purpose": grant.entry.record.purpose,
                    "actor": principal.name,
                    "keyid": principal.keyid,
                    "time": now(),
                },
            }
        envelope = dsse.parse(body)
        try:
            record = records.check_access(envelope, root, principal.keyid)
        except VerificationError as e:
            raise Denied("bad-access-record", f"the access record sent is refused: {e}") from None
        if record.details.get("grant") != grant.entry.grant_id:
            raise Denied(
                "bad-access-record", f"the access record names another grant than {grant.entry.grant_id}"
            )
        if not _recent(record.time, srv.settings.window):
            raise Denied(
                "bad-access-record", "the access record's time is not now (a record made for another pull)"
            )
        result = self._append(srv, envelope, "vault access")
        index = result.entries[0].index
        with self._lock:
            self._accesses[index] = (root, principal.keyid)
        return {
            "root": "sha256:" + root.hex(),
            "manifest": self._manifest(vault, root).to_json(),
            "chunk_size": crypto.CHUNK_SIZE,
            "stored": stored.to_json(),
            "access": {"index": index, "leaf_hash": result.entries[0].leaf_hash.hex()},
            "grant": grant.entry.grant_id,
        }

    def read_file(
        self,
        srv: CustodyServer,
        principal: Principal,
        root_text: str,
        sha256_text: str,
        *,
        access_index: int,
        offset: int,
    ) -> tuple[int, Iterator[bytes]]:
        """The plaintext of one file of a dataset from `offset` (a multiple of the chunk size),
        for a pull whose access entry is `access_index`: its length and its chunks."""
        root, sha256 = _digest(root_text, "the dataset"), _digest(sha256_text, "the file")
        self.live_grant(srv, principal, root)
        self._check_access(srv, principal, root, access_index)
        vault = self.vault(srv)
        size = vault.files(root).get(sha256)
        if size is None:
            raise UsageError(f"dataset sha256:{root.hex()} has no file sha256:{sha256.hex()}")
        if offset % crypto.CHUNK_SIZE or offset > size or (offset == size and size):
            raise UsageError(f"offset {offset} is not a chunk's start in a file of {size:,} bytes")
        try:
            chunks = vault.open_file(root, sha256, size, offset // crypto.CHUNK_SIZE)
        except crypto.TamperedError as e:
            raise Denied("tampered", f"refused: {e}", 500) from None
        return size - offset, chunks

    def read_files(
        self, srv: CustodyServer, principal: Principal, root_text: str, *, access_index: int, body: bytes
    ) -> tuple[int, Iterator[bytes]]:
        """Many whole files at once, framed as a push sends them (`framing`): the body lists
        their SHA-256s (32 bytes each). Each file's blob is opened, and its first chunk checked,
        when its turn comes: a tampered one cuts the answer short there."""
        root = _digest(root_text, "the dataset")
        self.live_grant(srv, principal, root)
        self._check_access(srv, principal, root, access_index)
        vault = self.vault(srv)
        files = vault.files(root)
        if len(body) % 32 or len(body) > 32 * _BATCH:
            raise UsageError(f"the body lists up to {_BATCH} SHA-256s of 32 bytes each")
        wanted = [body[i : i + 32] for i in range(0, len(body), 32)]
        missing = [w.hex() for w in wanted if w not in files]
        if missing:
            raise UsageError(f"dataset sha256:{root.hex()} has no file sha256:{missing[0]}")
        try:  # the first file opened here: a tampered one refused before the answer starts
            first = vault.open_file(root, wanted[0], files[wanted[0]], 0) if wanted else iter(())
        except crypto.TamperedError as e:
            raise Denied("tampered", f"refused: {e}", 500) from None

        def frames() -> Iterator[bytes]:
            for n, sha256 in enumerate(wanted):
                yield framing.header(sha256, files[sha256])
                yield from first if n == 0 else vault.open_file(root, sha256, files[sha256], 0)

        return sum(framing.HEAD + files[w] for w in wanted), frames()

    def _check_access(self, srv: CustodyServer, principal: Principal, root: bytes, index: int) -> None:
        with self._lock:
            known = self._accesses.get(index)
        if known is None:
            with srv.reading() as log, log.reading() as r:
                if not 0 <= index < r.size():
                    raise Denied("no-access-record", f"entry {index} is not in the log")
                leaf = r.entry(index)
            try:
                envelope = dsse.from_json_obj(_json(leaf))
                records.check_access(envelope, root, principal.keyid)
            except VerificationError as e:
                raise Denied("no-access-record", f"entry {index} does not record this pull: {e}") from None
            known = (root, principal.keyid)
            with self._lock:
                self._accesses[index] = known
        if known != (root, principal.keyid):
            raise Denied("no-access-record", f"entry {index} records another pull than this one")

    # -- helpers ----------------------------------------------------------------------------

    def _manifest(self, vault: Vault, root: bytes) -> Manifest:
        with self._lock:
            found = self._manifests.get(root)
        if found is None:
            found = vault.manifest(root)
            with self._lock:
                if len(self._manifests) >= _MANIFESTS_KEPT:
                    self._manifests.clear()
                self._manifests[root] = found
        return found

    @staticmethod
    def _append(srv: CustodyServer, envelope: dsse.Envelope, label: str) -> AppendResult:
        future = srv.committer.submit([envelope], [label])
        try:
            return future.result(timeout=srv.settings.request_timeout)
        except TimeoutError:
            raise StoreError("the log entry was not committed in time; retry") from None


def _digest(text: str, what: str) -> bytes:
    return parse_digest(text, what, bare_ok=True)


def _recent(time: str | None, window: int) -> bool:
    """Whether an RFC 3339 time is within `window` seconds of now."""
    if time is None:
        return False
    try:
        when = predicates.parse_time(time, "time")
    except VerificationError:
        return False
    return abs((datetime.now(UTC) - when).total_seconds()) <= window


def _json(leaf: bytes) -> object:
    return untrusted_json.loads(leaf)
