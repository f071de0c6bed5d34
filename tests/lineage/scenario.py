"""A custody log in memory, written as a story: keys, actors, grants and hops at their indexes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest.keys import generate, keyid, read_private
from chainproof.attest.signing import sign_statement
from chainproof.custody import predicates
from chainproof.custody.hops import Hop
from chainproof.custody.records import (
    ActorRecord,
    Digest,
    EnvFinding,
    Environment,
    GrantRecord,
    GrantRevocation,
    HopRecord,
    Package,
    Record,
)
from chainproof.deps.model import Severity
from chainproof.lineage.filing import statement_digest
from chainproof.lineage.memory import MemoryLineage
from chainproof.log.service import ADMIN_FILE, TransparencyLog
from chainproof.log.store import KeyRecord, KeyRole
from chainproof.policy import Policy, parse, template

T0 = "2026-03-01T00:00:00Z"


def art(name: str) -> Digest:
    return Digest("sha256:" + hashlib.sha256(name.encode()).hexdigest())


def env(*packages: str, credentials: Sequence[str] = (), findings: Sequence[EnvFinding] = ()) -> Environment:
    pkgs = tuple(
        Package(name=p.split("==")[0], version=p.split("==")[1], record_sha256=None) for p in packages
    )
    return Environment(
        python="/opt/venv",
        sbom=art("sbom:" + ",".join(packages)),
        packages=pkgs,
        findings=tuple(findings),
        credentials=tuple(credentials),
    )


BAD_PTH = EnvFinding(rule="hook-pth-exec", severity=Severity.CRITICAL, package="litellm")


@dataclass
class Story:
    """Records in memory (`lineage`), and also in a real log when one is given: then the keys are
    real, every record is signed and appended, and the memory lineage mirrors the log exactly."""

    log: TransparencyLog | None = None
    lineage: MemoryLineage = field(default_factory=MemoryLineage)
    index: int = 1  # entry 0 is the genesis
    keyids: dict[str, str] = field(default_factory=dict)
    keys: dict[str | None, Ed25519PrivateKey] = field(default_factory=dict)

    def next(self) -> int:
        self.index += 1
        return self.index - 1

    def add(self, record: Record, by: str | None) -> int:
        keyids = [self.keyids[by]] if by else []
        if self.log is None:
            i = self.next()
            self.lineage.add(i, record, keyids, art(f"statement {i}"))
            return i
        st = predicates.to_statement(record)
        [entry] = self.log.append([sign_statement(st, self.keys[by])]).entries
        self.index = entry.index + 1
        signer = keyids or [_keyid(self.keys[None])]
        self.lineage.add(entry.index, record, signer, statement_digest(st.canonical()))
        return entry.index

    def actor(self, name: str, role: str, org: str) -> int:
        if self.log is None:
            keyid = hashlib.sha256(name.encode()).hexdigest()
            self.lineage.set_key(KeyRecord(keyid, name, b"", KeyRole.ACTOR, self.next()))
        else:
            self.keys.setdefault(None, read_private(self.log.directory / ADMIN_FILE))
            self.keys[name] = generate()
            keyid = _keyid(self.keys[name])
            self.log.register_key(name, self.keys[name])
            self.lineage.set_key(self.log.find_key(keyid))
        self.keyids[name] = keyid
        return self.add(ActorRecord(name=name, role=role, organisation=org, keyid=keyid), None)

    def hop(
        self,
        hop: Hop,
        by: str,
        inputs: Sequence[Digest] = (),
        outputs: Sequence[Digest] = (),
        time: str = T0,
        environment: Environment | None = None,
        succeeded: bool = True,
        **details: Any,
    ) -> int:
        record = HopRecord(
            hop=hop,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            details=details,
            environment=environment,
            time=time,
            succeeded=succeeded,
        )
        return self.add(record, by)

    def grant(self, grantee: str, artifact: Digest, by: str, expires: str = "2099-01-01T00:00:00Z") -> Digest:
        i = self.add(GrantRecord(grantee=grantee, artifact=artifact, purpose="labels", expires=expires), by)
        return art(f"statement {i}")

    def revoke(self, grant_id: Digest, by: str) -> int:
        return self.add(GrantRevocation(grant_id=grant_id), by)

    def revoke_key(self, name: str, effective_from: int) -> None:
        old = self.lineage.keys[self.keyids[name]]
        if self.log is None:
            new = KeyRecord(
                old.keyid, old.name, b"", old.role, old.registered_at, effective_from, self.next()
            )
        else:
            self.log.revoke_key(old, effective_from=effective_from, reason="stolen")
            new = self.log.find_key(old.keyid)
            self.index = self.log.size()
        self.lineage.set_key(new)


def policy(extra: str = "") -> Policy:
    return parse(template() + extra)


def _keyid(key: Ed25519PrivateKey) -> str:
    return keyid(key.public_key())


def incident(log: TransparencyLog | None = None) -> tuple[Story, dict[str, Digest]]:
    """The reference incident: a vendor, two contractors (one without a grant), a lab training
    three models, one in an environment holding the LiteLLM 1.82.8 replica."""
    s = Story(log)
    s.actor("vendor", "recorder", "vendor")
    s.actor("ann1", "contractor", "vendor")
    s.actor("ann2", "contractor", "vendor")
    s.actor("lab", "recorder", "lab")
    a = {name: art(name) for name in ("raw", "labels1", "labels2", "m-tainted", "m-clean", "m-ungranted")}
    s.hop(
        Hop.INGEST, "vendor", outputs=[a["raw"]], location="s3://vendor/raw/", classification="confidential"
    )
    s.grant("ann1", a["raw"], by="vendor")
    s.hop(Hop.ANNOTATE, "ann1", [a["raw"]], [a["labels1"]])
    s.hop(Hop.ANNOTATE, "ann2", [a["raw"]], [a["labels2"]])
    bad = env(
        "litellm==1.82.8",
        "torch==2.9.0",
        credentials=["AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY"],
        findings=[BAD_PTH],
    )
    clean = env("torch==2.9.0", credentials=["AWS_SECRET_ACCESS_KEY"])
    for model, environment, labels in (
        ("m-tainted", bad, "labels1"),
        ("m-clean", clean, "labels1"),
        ("m-ungranted", clean, "labels2"),
    ):
        s.hop(Hop.TRAIN, "lab", [a["raw"], a[labels]], [a[model]], environment=environment)
        s.hop(Hop.EVALUATE, "lab", [a[model]], metrics={"f1": 0.9})
        s.hop(Hop.RELEASE, "lab", [a[model]], channel="internal")
    return s, a
