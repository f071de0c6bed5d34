"""What a custody entry says, as values: hops, environments, actors, grants and their revocations.

Pure: `chainproof.custody.predicates` turns these into in-toto Statements and back. Artifacts are
named by digest, written `sha256:<hex>`: a directory by its manifest root, a file by its own
SHA-256 (what `sha256sum` prints).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NewType

from chainproof.custody.hops import Hop
from chainproof.deps.model import Severity
from chainproof.errors import FormatError

Digest = NewType("Digest", str)
"""An artifact's identity: `sha256:` and 64 lowercase hex digits."""

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


def digest(text: str, what: str = "artifact") -> Digest:
    """`text` as a `Digest`, or a `FormatError` saying what is wrong with it."""
    value = text.strip()
    if value.startswith("sha256:") and _DIGEST.match(value.lower()):
        return Digest(value.lower())
    raise FormatError(f"{what} {text!r} is not a digest sha256:<64 hex digits>")


def hex_of(d: Digest) -> str:
    return d.removeprefix("sha256:")


@dataclass(frozen=True, kw_only=True)
class Package:
    """One installed distribution of a recorded environment."""

    name: str
    """As its metadata names it."""
    version: str
    record_sha256: str | None
    """SHA-256 (hex) of its RECORD file: which files it installed, with their hashes."""


@dataclass(frozen=True, kw_only=True)
class EnvFinding:
    """A dependency-guard finding in a recorded environment, as it stood when recorded."""

    rule: str
    severity: Severity
    package: str | None


@dataclass(frozen=True, kw_only=True)
class Environment:
    """The interpreter a `transform` or `train` ran in, captured without running its hooks."""

    python: str
    """Where it was, e.g. `/opt/train/.venv` (a path on the recording machine)."""
    sbom: Digest
    """Digest of the CycloneDX SBOM of `packages`, as `chainproof` writes it."""
    packages: tuple[Package, ...]
    findings: tuple[EnvFinding, ...] = ()
    credentials: tuple[str, ...] = ()
    """Names (never values) of credential-bearing variables and files present when recorded."""


@dataclass(frozen=True, kw_only=True)
class HopRecord:
    """One hop: an actor did `hop` to `inputs`, producing `outputs`."""

    hop: Hop
    inputs: tuple[Digest, ...]
    outputs: tuple[Digest, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    """The hop's own fields (ingest: source, licence, location, classification; annotate:
    organisation, worker, task, guidelines; evaluate: metrics; release: channel, approver)."""
    environment: Environment | None = None
    time: str | None = None
    """When the hop happened (RFC 3339, UTC), as its signer states it: grants' expiry and impact's
    time windows are judged by it. The log's order, which no signer can change, bounds it: a hop
    after a grant's revocation is never covered, whatever time it states."""
    succeeded: bool = True
    """False for a run that raised (the SDK records it, then re-raises)."""

    @property
    def concerns(self) -> tuple[Digest, ...]:
        """The statement's subjects: what the hop made, or, when it made nothing, what it is about."""
        return self.outputs or self.inputs


@dataclass(frozen=True, kw_only=True)
class ActorRecord:
    """A registered key's actor: who holds it, in which role, for which organisation."""

    name: str
    role: str
    organisation: str
    keyid: str


@dataclass(frozen=True, kw_only=True)
class GrantRecord:
    """`grantee` may access `artifact` for `purpose` until `expires` (RFC 3339, UTC)."""

    grantee: str
    artifact: Digest
    purpose: str
    expires: str


@dataclass(frozen=True, kw_only=True)
class GrantRevocation:
    grant_id: Digest
    """The grant's id: the digest of the grant's statement."""
    reason: str = ""


Record = HopRecord | ActorRecord | GrantRecord | GrantRevocation
