"""The entries the log itself understands, and the rule that admits an envelope into the log.

Every leaf is a DSSE envelope holding an in-toto Statement v1. Three predicate types manage the
log's own keys:

- genesis (always entry 0): declares the origin, the checkpoint verifier key and the admin key,
  and is signed by that admin key;
- key registration: signed by the admin key, makes an actor key valid for later entries;
- key revocation: signed by the admin key, makes a key invalid from a given entry on (at most the
  revocation's own index, so a compromise can be dated back).

Pure logic over values: the caller supplies the key lookup (the store's index, or the replay of an
audit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chainproof.attest import dsse, keys, statement
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import ChainproofError, FormatError, VerificationError
from chainproof.log.store import KeyRecord, KeyRole

PREDICATE_BASE = "https://chainproof.dev/log"
GENESIS = f"{PREDICATE_BASE}/genesis/v1"
KEY_REGISTRATION = f"{PREDICATE_BASE}/key-registration/v1"
KEY_REVOCATION = f"{PREDICATE_BASE}/key-revocation/v1"


class RejectedEntry(VerificationError):
    """An envelope may not enter the log: unknown or revoked signer, bad signature, bad statement."""


KeyLookup = Callable[[str], KeyRecord | None]
Verified = frozenset[tuple[bytes, bytes]]
"""(signature, public key) pairs already checked over one envelope's PAE: `admit` need not redo
the Ed25519 work, only the registry checks (which key, valid at which index) that can change."""


@dataclass(frozen=True)
class Admitted:
    """An envelope that passed admission, and what it changes in the key registry."""

    envelope: dsse.Envelope
    statement: Statement
    key_change: KeyRecord | None


def _key_subject(name: str, keyid: str) -> Subject:
    return Subject(name, {"sha256": keyid})


def genesis_statement(origin: str, checkpoint_vkey: str, admin: Ed25519PublicKey) -> Statement:
    admin_id = keys.keyid(admin)
    predicate = {
        "origin": origin,
        "checkpoint_key": checkpoint_vkey,
        "admin": {"name": KeyRole.ADMIN, "keyid": admin_id, "public_key": keys.public_pem(admin)},
    }
    return Statement((_key_subject(origin, admin_id),), GENESIS, predicate)


def registration_statement(name: str, key: Ed25519PublicKey) -> Statement:
    kid = keys.keyid(key)
    predicate = {"name": name, "keyid": kid, "public_key": keys.public_pem(key)}
    return Statement((_key_subject(name, kid),), KEY_REGISTRATION, predicate)


def revocation_statement(record: KeyRecord, effective_from: int, reason: str) -> Statement:
    predicate = {"keyid": record.keyid, "effective_from": effective_from, "reason": reason}
    return Statement((_key_subject(record.name, record.keyid),), KEY_REVOCATION, predicate)


def _str_field(st: Statement, name: str) -> str:
    value = st.predicate.get(name)
    if not isinstance(value, str) or not value:
        raise FormatError(f"{st.predicate_type} predicate needs {name!r} as a non-empty string")
    return value


def _int_field(st: Statement, name: str) -> int:
    value = st.predicate.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{st.predicate_type} predicate needs {name!r} as an integer")
    return value


def _declared_key(st: Statement, obj: dict[str, object] | None = None) -> tuple[str, bytes]:
    """The (keyid, raw public key) a genesis or registration predicate declares, checked."""
    source = obj if obj is not None else dict(st.predicate)
    pem, kid = source.get("public_key"), source.get("keyid")
    if not isinstance(pem, str) or not isinstance(kid, str):
        raise FormatError(f"{st.predicate_type} predicate needs 'public_key' (PEM) and 'keyid'")
    key = keys.load_public_pem(pem)
    if keys.keyid(key) != kid:
        raise FormatError(f"keyid {kid} is not the SHA-256 of the declared public key")
    return kid, keys.public_raw(key)


def _genesis(env: dsse.Envelope, st: Statement, index: int) -> KeyRecord:
    if index != 0:
        raise RejectedEntry("a genesis entry may only be entry 0")
    admin = st.predicate.get("admin")
    if not isinstance(admin, dict):
        raise FormatError("the genesis predicate needs an 'admin' key object")
    _str_field(st, "origin")
    _str_field(st, "checkpoint_key")
    kid, raw = _declared_key(st, admin)
    record = KeyRecord(kid, KeyRole.ADMIN, raw, KeyRole.ADMIN, registered_at=0)
    _check_signatures(env, 0, lambda k: record if k == kid else None)
    return record


def _check_signatures(
    env: dsse.Envelope, index: int, lookup: KeyLookup, verified: Verified = frozenset()
) -> list[KeyRecord]:
    """Every signature must come from a key valid at `index` and verify; returns the signers."""
    signers: list[KeyRecord] = []
    for sig in env.signatures:
        if not sig.keyid:
            raise RejectedEntry("a signature has no keyid; the log accepts only identified signers")
        record = lookup(sig.keyid)
        if record is None:
            raise RejectedEntry(f"key {sig.keyid} is not registered in this log")
        if not record.valid_at(index):
            raise RejectedEntry(f"key {sig.keyid} ({record.name}) is revoked for entry {index}")
        if (sig.sig, record.public_key) not in verified:
            try:
                env.verify_signature(sig, record.public_key)
            except dsse.SignatureError as e:
                raise RejectedEntry(str(e)) from None
        signers.append(record)
    return signers


@dataclass(frozen=True)
class Context:
    """What an admission rule sees of an envelope whose signatures have been checked."""

    envelope: dsse.Envelope
    statement: Statement
    index: int
    signers: tuple[KeyRecord, ...]
    lookup: KeyLookup


Rule = Callable[[Context], "KeyRecord | None"]
"""One predicate type's admission: raise `RejectedEntry` (or `FormatError`) to refuse; return the
key-registry record the entry creates or changes, if any."""

Check = Callable[[Statement], object]
"""One predicate type's schema: raise `FormatError` (or `RejectedEntry`) for a statement of that
type that may not enter. It sees nothing but the statement, so a batch's checks run while its
signatures are still being verified (see `precheck`)."""


@dataclass(frozen=True)
class Rules:
    """How each predicate type the log treats specially is admitted: its schema (`checks`) and its
    rule, which sees the checked signers (`by_type`); an entry of any other type needs only valid
    signatures by keys valid at its index. Combine with `|`."""

    by_type: Mapping[str, Rule] = field(default_factory=dict)
    checks: Mapping[str, Check] = field(default_factory=dict)

    def __or__(self, other: Rules) -> Rules:
        clash = (self.by_type.keys() & other.by_type.keys()) | (self.checks.keys() & other.checks.keys())
        if clash:
            raise ValueError(f"two admission rules for {', '.join(sorted(clash))}")
        return Rules({**self.by_type, **other.by_type}, {**self.checks, **other.checks})


@dataclass(frozen=True)
class Prechecked:
    """What admission works out from an envelope alone, ahead of the signatures: its statement
    (None when it does not parse) and the error its type's check raised, if any. The errors are
    raised by `admit` in the order they always were: a statement that does not parse first, a
    failed check only once the signatures pass."""

    statement: Statement | None
    error: ChainproofError | None = None


def admin_only(ctx: Context) -> None:
    """Refuse an entry not signed by the admin key alone."""
    if any(s.role is not KeyRole.ADMIN for s in ctx.signers):
        raise RejectedEntry(f"only the admin key may sign {ctx.statement.predicate_type} entries")


def _registration_rule(ctx: Context) -> KeyRecord:
    admin_only(ctx)
    return _registration(ctx.statement, ctx.index, ctx.lookup)


def _revocation_rule(ctx: Context) -> KeyRecord:
    admin_only(ctx)
    return _revocation(ctx.statement, ctx.index, ctx.lookup)


LOG_RULES = Rules({KEY_REGISTRATION: _registration_rule, KEY_REVOCATION: _revocation_rule})
"""The log's own key registry. The genesis is not among them: it comes before any key is
registered (it declares the admin key and is signed by it), so `admit` checks it first."""


def admit(
    env: dsse.Envelope,
    index: int,
    lookup: KeyLookup,
    verified: Verified = frozenset(),
    rules: Rules = LOG_RULES,
    *,
    prechecked: Prechecked | None = None,
) -> Admitted:
    """Check one envelope for entry `index`; raise RejectedEntry or FormatError if it may not enter.

    `verified` names signatures over `env` already checked (see `preverify`); `rules` says how
    each predicate type is admitted beyond its signatures; `prechecked` is `env`'s `precheck`, when
    the caller worked it out ahead."""
    if env.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        raise RejectedEntry(f"payloadType {env.payload_type!r} is not {dsse.INTOTO_PAYLOAD_TYPE!r}")
    ahead = prechecked if prechecked is not None else _precheck(env, rules)
    if ahead.statement is None:
        raise ahead.error or FormatError("the statement does not parse")
    st = ahead.statement
    if st.predicate_type == GENESIS:
        return Admitted(env, st, _genesis(env, st, index))
    signers = _check_signatures(env, index, lookup, verified)
    if ahead.error is not None:
        raise ahead.error
    rule = rules.by_type.get(st.predicate_type)
    change = rule(Context(env, st, index, tuple(signers), lookup)) if rule is not None else None
    return Admitted(env, st, change)


def precheck(envelopes: Sequence[dsse.Envelope], rules: Rules) -> list[Prechecked]:
    """Each envelope's statement and its type's check (see `Prechecked`): the Python half of a
    batch's admission, which a writer runs while the batch's signatures are verified on helper
    threads (`Preverifying`)."""
    return [_precheck(env, rules) for env in envelopes]


def _precheck(env: dsse.Envelope, rules: Rules) -> Prechecked:
    if env.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        return Prechecked(None, RejectedEntry(f"payloadType {env.payload_type!r} is not in-toto"))
    try:
        # An envelope made in this process may carry the statement its payload was written from.
        st = env.statement if env.statement is not None else statement.parse(env.payload)
    except ChainproofError as e:
        return Prechecked(None, e)
    check = rules.checks.get(st.predicate_type)
    if check is not None:
        try:
            check(st)
        except ChainproofError as e:
            return Prechecked(st, e)
    return Prechecked(st)


def preverify(envelopes: Sequence[dsse.Envelope], lookup: KeyLookup) -> list[Verified]:
    """For each envelope, its signatures that verify under the keys `lookup` knows now.

    Ed25519 verification is most of an append's cost and needs no lock: doing it against a snapshot
    of the registry before the write lock lets writers to one log verify in parallel, and a batch
    verifies on every core (`keys.verify_many`). A signature that fails here is simply not listed;
    `admit` checks it again under the lock and gives the error.
    """
    return Preverifying(envelopes, lookup).result()


class Preverifying:
    """`preverify`, started when made: in a process of its own for a large batch, on helper
    threads for a small one (`keys.start_verify_many`). The calling thread meanwhile does Python
    work of its own (`precheck`, and a writer's admission and writes).

    `submitted` lists, per envelope, the signatures handed over: what `result` gives
    when every one of them verifies. A writer admits a batch as if they all did, so that its own
    Python work runs beside the verification, and `confirmed` says whether they did, before the
    writer signs a tree head or commits."""

    def __init__(self, envelopes: Sequence[dsse.Envelope], lookup: KeyLookup) -> None:
        self._checks: list[tuple[bytes, bytes, bytes]] = []
        self._owners: list[int] = []
        submitted: list[set[tuple[bytes, bytes]]] = [set() for _ in envelopes]
        for position, env in enumerate(envelopes):
            if env.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
                continue  # admit rejects it before any signature
            message = dsse.pae(env.payload_type, env.payload)
            for sig in env.signatures:
                record = lookup(sig.keyid) if sig.keyid else None
                if record is not None:
                    self._checks.append((record.public_key, sig.sig, message))
                    self._owners.append(position)
                    submitted[position].add((sig.sig, record.public_key))
        self.submitted: list[Verified] = [frozenset(s) for s in submitted]
        self._started = keys.start_verify_many(self._checks)
        self._result: list[Verified] | None = None

    def result(self) -> list[Verified]:
        """For each envelope, the submitted signatures that verify; waits for them."""
        if self._result is None:
            good: list[set[tuple[bytes, bytes]]] = [set() for _ in self.submitted]
            for position, (raw, signature, _), ok in zip(
                self._owners, self._checks, self._started.result(), strict=True
            ):
                if ok:
                    good[position].add((signature, raw))
            self._result = [frozenset(g) for g in good]
        return self._result

    def confirmed(self) -> bool:
        """Whether every submitted signature verifies."""
        return self.result() == self.submitted


def _registration(st: Statement, index: int, lookup: KeyLookup) -> KeyRecord:
    name = _str_field(st, "name")
    kid, raw = _declared_key(st)
    if lookup(kid) is not None:
        raise RejectedEntry(f"key {kid} is already registered")
    return KeyRecord(kid, name, raw, KeyRole.ACTOR, registered_at=index)


def _revocation(st: Statement, index: int, lookup: KeyLookup) -> KeyRecord:
    kid = _str_field(st, "keyid")
    effective_from = _int_field(st, "effective_from")
    record = lookup(kid)
    if record is None:
        raise RejectedEntry(f"key {kid} is not registered in this log")
    if record.role == KeyRole.ADMIN:
        raise RejectedEntry("the admin key cannot be revoked by an entry it signs")
    if record.revoked_at is not None:
        raise RejectedEntry(f"key {kid} is already revoked (entry {record.revoked_at})")
    if not record.registered_at < effective_from <= index:
        raise RejectedEntry(
            f"a revocation takes effect after the key's registration (entry {record.registered_at})"
            f" and no later than itself (entry {index}), not at {effective_from}"
        )
    return replace(record, revoked_from=effective_from, revoked_at=index)
