"""Who may do what on a server: the four roles, as rules over facts, with no I/O.

A request is signed by a registered key (`attest.http_signatures`); the key's actor record in the
log gives its role and organisation. The rules:

- `admin` (the log's admin key, or an actor of role admin): everything.
- `recorder`: appends whose every signature is by a key of its own organisation's actors, of any
  statement but the log's key registry and actor records (the admin's); reads everything.
- `contractor`: appends of `annotate` and `access` hop records only, signed by its own key alone,
  whose every input is a dataset it holds a live grant for; reads only what concerns those datasets.
- `auditor`: reads everything, writes nothing.

Anyone else (an unsigned request, a key without an actor) reads the log's public part when the
server publishes it, and nothing more. Every refusal is a `Denied` with a stable code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chainproof.custody.hops import Hop
from chainproof.custody.records import ActorRecord, Digest, GrantRecord, GrantRevocation, HopRecord, Record
from chainproof.errors import ChainproofError
from chainproof.log.entries import GENESIS, KEY_REGISTRATION, KEY_REVOCATION


class Role(enum.StrEnum):
    ADMIN = "admin"
    RECORDER = "recorder"
    CONTRACTOR = "contractor"
    AUDITOR = "auditor"


class Denied(ChainproofError):
    """A request the rules refuse: `code` is stable for machines, the message says why."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Principal:
    """Who signed a request: a registered key, and its actor's role and organisation (None for a
    key no actor record names, and for an unsigned request, whose keyid is empty)."""

    keyid: str
    name: str
    role: Role | None
    organisation: str | None = None
    witness: bool = False
    """Signed by a witness the server lists (by its cosigning key), not by a registered key: it
    reads the log's checkpoints and proofs and hands in cosignatures, and nothing more."""

    @property
    def signed(self) -> bool:
        return bool(self.keyid)

    def describe(self) -> str:
        if not self.signed:
            return "an unsigned request"
        return f"{self.name} ({self.role or 'no role'}, key {self.keyid[:16]})"


ANONYMOUS = Principal("", "anonymous", None)

CONTRACTOR_HOPS = frozenset({Hop.ANNOTATE, Hop.ACCESS})
_REGISTRY_TYPES = frozenset({GENESIS, KEY_REGISTRATION, KEY_REVOCATION})


@dataclass(frozen=True)
class Submitted:
    """What the rules see of one envelope to append: its type, its custody record (None for any
    other statement) and the keyids that signed it."""

    predicate_type: str
    record: Record | None
    signers: tuple[str, ...]


OrganisationOf = Callable[[str], str | None]
"""The organisation of the actor a keyid belongs to, None for a key of no actor."""
Granted = Callable[[str, Digest], bool]
"""Whether actor `name` holds a live (unexpired, unrevoked) grant for the artifact."""


def role_of(text: str) -> Role | None:
    try:
        return Role(text)
    except ValueError:
        return None


def require_signature(principal: Principal) -> None:
    """Signed by a key the server knows (a registered key, or a listed witness's)."""
    if not principal.signed:
        raise Denied("unsigned", "this request must be signed (RFC 9421) by a registered key", 401)


def require_signed(principal: Principal) -> None:
    """Signed by the key of an actor (which has a role)."""
    require_signature(principal)
    if principal.role is None:
        raise Denied("no-role", f"key {principal.keyid[:16]} ({principal.name}) belongs to no actor")


def may_write(principal: Principal) -> None:
    """Any append at all: checked before the request's body is even parsed."""
    require_signed(principal)
    if principal.role is Role.AUDITOR:
        raise Denied("forbidden", f"{principal.describe()} reads and never writes")


def may_read_private_log(principal: Principal, *, contents: bool) -> None:
    """A private log's reads: signed; a contractor or a witness reads its checkpoints and proofs
    (hashes), not its entries, which name other datasets than those it is granted."""
    if principal.witness:
        if contents:
            raise Denied("forbidden", f"witness {principal.name} may read the log's proofs, not its entries")
        return
    require_signed(principal)
    if contents and principal.role is Role.CONTRACTOR:
        raise Denied("forbidden", f"{principal.describe()} may read the log's proofs, not its entries")


def may_audit(principal: Principal) -> None:
    """An audit of the whole store (minutes on a large one): the admin's and the auditors'."""
    require_signed(principal)
    if principal.role not in (Role.ADMIN, Role.AUDITOR):
        raise Denied("forbidden", f"{principal.describe()} may not run an audit (admin and auditors)")


def may_read_all(principal: Principal) -> None:
    """Custody answers over the whole log (impact, actors, every grant): all but contractors."""
    require_signed(principal)
    if principal.role is Role.CONTRACTOR:
        raise Denied("forbidden", f"{principal.describe()} may read only the datasets it is granted")


def may_read_artifact(principal: Principal, artifact: Digest, granted: Granted) -> None:
    """Lineage, verify and grants of one artifact: a contractor only for an artifact it is granted."""
    require_signed(principal)
    if principal.role is Role.CONTRACTOR and not granted(principal.name, artifact):
        raise Denied("forbidden", f"{principal.describe()} holds no live grant for {artifact}")


def may_append(
    principal: Principal, submitted: Sequence[Submitted], organisation_of: OrganisationOf, granted: Granted
) -> None:
    """Refuse (Denied) an append the principal's role does not allow, naming the first envelope at fault."""
    may_write(principal)
    role = principal.role
    if role is Role.ADMIN:
        return
    for position, item in enumerate(submitted, 1):
        if role is Role.RECORDER:
            problem = _recorder_problem(principal, item, organisation_of)
        else:
            problem = _contractor_problem(principal, item, granted)
        if problem is not None:
            raise Denied("forbidden", f"envelope {position}: {problem}")


def _recorder_problem(principal: Principal, item: Submitted, organisation_of: OrganisationOf) -> str | None:
    if item.predicate_type in _REGISTRY_TYPES or isinstance(item.record, ActorRecord):
        return f"{principal.describe()} may not change the key registry or the actors (admin only)"
    for keyid in item.signers:
        if organisation_of(keyid) != principal.organisation:
            return f"signed by key {keyid[:16]}, which is not of {principal.organisation}'s actors"
    return None


def _contractor_problem(principal: Principal, item: Submitted, granted: Granted) -> str | None:
    record = item.record
    if not isinstance(record, HopRecord) or record.hop not in CONTRACTOR_HOPS:
        kind = record.hop if isinstance(record, HopRecord) else _kind(item)
        return f"a contractor records only annotate and access hops, not {kind}"
    if item.signers != (principal.keyid,):
        return "a contractor's records are signed by its own key alone"
    for artifact in record.inputs:
        if not granted(principal.name, artifact):
            return f"{principal.name} holds no live grant for {artifact}"
    return None


def _kind(item: Submitted) -> str:
    if isinstance(item.record, GrantRecord):
        return "grants"
    if isinstance(item.record, GrantRevocation):
        return "grant revocations"
    return f"statements of type {item.predicate_type}"
