"""How the log admits custody entries: each custody type brings its schema, and actors their rule.

A hop, grant or grant revocation enters once its statement passes its type's schema
(`predicates.from_statement`): what is in the log can then be read as a record, and the lineage
index can file it without checking it again. Who may record what is a policy question, answered by
`verify`, never by the log: a hop the policy would refuse is still evidence. An actor record binds
a key to a role and an organisation, so it is the admin's to sign, like the key registry itself,
and it must name a key registered under the actor's name and valid at that entry.
"""

from __future__ import annotations

from chainproof.attest.statement import Statement
from chainproof.custody import predicates
from chainproof.custody.hops import Hop
from chainproof.custody.records import ActorRecord
from chainproof.log.entries import Context, RejectedEntry, Rules, admin_only
from chainproof.log.store import KeyRecord


def _schema(st: Statement) -> None:
    predicates.from_statement(st)


def _actor(ctx: Context) -> None:
    admin_only(ctx)
    record = predicates.from_statement(ctx.statement)
    assert isinstance(record, ActorRecord)  # the actor type reads as nothing else
    key: KeyRecord | None = ctx.lookup(record.keyid)
    if key is None:
        raise RejectedEntry(f"the actor {record.name!r} names key {record.keyid}, which is not registered")
    if key.name != record.name:
        raise RejectedEntry(f"key {record.keyid[:16]} is registered as {key.name!r}, not {record.name!r}")
    if not key.valid_at(ctx.index):
        raise RejectedEntry(f"key {record.keyid[:16]} ({key.name}) is revoked for entry {ctx.index}")


RULES = Rules(
    by_type={predicates.ACTOR: _actor},  # which reads the actor's schema itself
    checks={
        **{predicates.hop_type(h): _schema for h in Hop if h not in (Hop.TRANSFORM, Hop.TRAIN)},
        predicates.SLSA_PROVENANCE: _schema,  # someone else's provenance reads as none: admitted as is
        predicates.GRANT: _schema,
        predicates.GRANT_REVOCATION: _schema,
    },
)
