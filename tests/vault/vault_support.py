"""A store with a dataset in its vault: the dataset on disk, its ingest, grants for it (live for
bob, expired for carol, revoked for victor; none for alice, who pushes it), a vault key, and a
real `chainproof serve` with it."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from server_support import Server, Store, build_store, cli, serving

from chainproof.attest import signing
from chainproof.custody import build, predicates
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest, GrantRecord
from chainproof.custody.service import Custody
from chainproof.lineage.filing import statement_digest
from chainproof.log.service import TransparencyLog

MARKER = b"PLAINTEXT-MARKER-7f3a9c"
"""Bytes in the dataset's files and names that must never be found at rest."""


def make_dataset(directory: Path, big: int = 3 * (1 << 20) + 12345) -> Path:
    """Files of several chunks, an empty one, two with the same bytes, a nested one, a link."""
    directory.mkdir(parents=True)
    (directory / "notes-PLAINTEXT-MARKER-7f3a9c.txt").write_bytes(MARKER * 1000)
    (directory / "sub").mkdir()
    (directory / "sub" / "big.bin").write_bytes(os.urandom(big) + MARKER)
    (directory / "sub" / "empty").write_bytes(b"")
    (directory / "copy-a.txt").write_bytes(b"same bytes " + MARKER)
    (directory / "copy-b.txt").write_bytes(b"same bytes " + MARKER)
    (directory / "link").symlink_to("sub/big.bin")
    return directory


@dataclass
class Vaulted:
    store: Store
    server: Server
    dataset: Path
    root: str
    vault_key: Path
    home: Path
    grants: dict[str, str]

    def cli(self, *args: str, who: str | None = None) -> object:
        return cli(self.server.url, *args, key=self.store.key_file(who) if who else None, home=self.home)


def grant_directly(
    log: TransparencyLog, key: Ed25519PrivateKey, grantee: str, root: str, expires: str
) -> str:
    """A grant appended as any client could (here: one already expired, which `grant` refuses)."""
    record = GrantRecord(grantee=grantee, artifact=Digest(root), purpose="testing", expires=expires)
    env = signing.sign_statement(predicates.to_statement(record), key)
    log.append([env])
    return statement_digest(env.payload)


def prepare(work: Path, *, big: int = 3 * (1 << 20) + 12345) -> tuple[Store, Path, str, Path, dict[str, str]]:
    store = build_store(work / "store", work)
    dataset = make_dataset(work / "dataset", big)
    root = build(dataset).digest
    log = TransparencyLog.open(store.directory)
    custody = Custody(log)
    grants: dict[str, str] = {}
    try:
        custody.record(Hop.INGEST, store.keys["alice"], outputs=[Digest(root)])
        grants["bob"] = custody.grant(
            "bob", Digest(root), purpose="labelling", expires="2999-01-01T00:00:00Z", key=store.keys["alice"]
        ).statement_digest
        grants["carol"] = grant_directly(log, store.keys["alice"], "carol", root, "2020-01-01T00:00:00Z")
        grants["victor"] = custody.grant(
            "victor",
            Digest(root),
            purpose="labelling",
            expires="2999-01-01T00:00:00Z",
            key=store.keys["alice"],
        ).statement_digest
        custody.revoke_grant(Digest(grants["victor"]), key=store.keys["alice"], reason="done")
    finally:
        custody.close()
    vault_key = work / "vault.key"
    assert cli(str(store.directory), "vault", "keygen", str(vault_key), home=work / "home").returncode == 0
    return store, dataset, root, vault_key, grants


@contextmanager
def vaulted(work: Path) -> Iterator[Vaulted]:
    store, dataset, root, vault_key, grants = prepare(work)
    with serving(store.directory, "--vault-key", str(vault_key)) as server:
        yield Vaulted(store, server, dataset, root, vault_key, work / "home", grants)


def log_entries(location: Path | str) -> list[dict[str, object]]:
    """Every entry's statement (payload JSON) with its signers' keyids, in log order."""
    log = TransparencyLog.open(location)
    try:
        with log.reading() as r:
            leaves = list(r.entries(0, r.size()))
    finally:
        log.close()
    out = []
    for leaf in leaves:
        env = json.loads(leaf)
        statement = json.loads(base64.b64decode(env["payload"]))
        statement["_signers"] = [s["keyid"] for s in env["signatures"]]
        out.append(statement)
    return out
