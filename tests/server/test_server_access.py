"""The role rules of `server.access`, as a matrix: every role against every kind of append."""

from __future__ import annotations

import pytest

from chainproof.custody.hops import Hop
from chainproof.custody.records import ActorRecord, Digest, GrantRecord, HopRecord
from chainproof.log.entries import KEY_REGISTRATION, KEY_REVOCATION
from chainproof.server import access
from chainproof.server.access import ANONYMOUS, Denied, Principal, Role, Submitted

DATA = Digest("sha256:" + "aa" * 32)
OTHER = Digest("sha256:" + "bb" * 32)
LABELS = Digest("sha256:" + "cc" * 32)

ADMIN = Principal("k-admin", "root", Role.ADMIN)
ALICE = Principal("k-alice", "alice", Role.RECORDER, "lab")
BOB = Principal("k-bob", "bob", Role.CONTRACTOR, "annotators")
CAROL = Principal("k-carol", "carol", Role.AUDITOR, "lab")
NOBODY = Principal("k-x", "x", None)
ORGS = {"k-admin": None, "k-alice": "lab", "k-alice2": "lab", "k-bob": "annotators", "k-vendor": "vendor"}


def organisation_of(keyid: str) -> str | None:
    return ORGS.get(keyid)


def granted(name: str, artifact: Digest) -> bool:
    return (name, artifact) == ("bob", DATA)


def hop(kind: Hop, signers: tuple[str, ...], inputs: tuple[Digest, ...] = (DATA,)) -> Submitted:
    record = HopRecord(hop=kind, inputs=inputs, outputs=(LABELS,))
    return Submitted(f"https://chainproof.dev/custody/{kind}/v1", record, signers)


def plain(signers: tuple[str, ...], predicate_type: str = "https://example.com/test/v1") -> Submitted:
    return Submitted(predicate_type, None, signers)


ACTOR = Submitted(
    "https://chainproof.dev/custody/actor/v1",
    ActorRecord(name="eve", role="admin", organisation="lab", keyid="k-eve"),
    ("k-alice",),
)
GRANT = Submitted(
    "https://chainproof.dev/custody/grant/v1",
    GrantRecord(grantee="bob", artifact=OTHER, purpose="x", expires="2999-01-01T00:00:00Z"),
    ("k-bob",),
)

CASES = [
    # principal, submitted, allowed
    (ADMIN, [ACTOR, plain(("k-vendor",), KEY_REGISTRATION)], True),
    (ALICE, [hop(Hop.INGEST, ("k-alice",)), plain(("k-alice", "k-alice2"))], True),
    (ALICE, [hop(Hop.INGEST, ("k-vendor",))], False),  # another organisation's key
    (ALICE, [plain(("k-alice",), KEY_REGISTRATION)], False),
    (ALICE, [plain(("k-alice",), KEY_REVOCATION)], False),
    (ALICE, [ACTOR], False),
    (BOB, [hop(Hop.ANNOTATE, ("k-bob",))], True),
    (BOB, [hop(Hop.ACCESS, ("k-bob",))], True),
    (BOB, [hop(Hop.ANNOTATE, ("k-bob",), (DATA, OTHER))], False),  # one input not granted
    (BOB, [hop(Hop.ANNOTATE, ("k-bob", "k-alice"))], False),  # not its own key alone
    (BOB, [hop(Hop.TRAIN, ("k-bob",))], False),
    (BOB, [plain(("k-bob",))], False),
    (BOB, [GRANT], False),
    (CAROL, [plain(("k-carol",))], False),
    (NOBODY, [plain(("k-x",))], False),
    (ANONYMOUS, [plain(())], False),
]


@pytest.mark.parametrize(("principal", "submitted", "allowed"), CASES)
def test_append_matrix(principal: Principal, submitted: list[Submitted], allowed: bool) -> None:
    if allowed:
        access.may_append(principal, submitted, organisation_of, granted)
        return
    with pytest.raises(Denied) as caught:
        access.may_append(principal, submitted, organisation_of, granted)
    assert caught.value.status == (401 if principal is ANONYMOUS else 403)
    assert caught.value.code in {"unsigned", "forbidden", "no-role"}


def test_the_refusal_names_the_envelope_at_fault() -> None:
    with pytest.raises(Denied, match="envelope 2"):
        access.may_append(
            BOB, [hop(Hop.ANNOTATE, ("k-bob",)), hop(Hop.TRAIN, ("k-bob",))], organisation_of, granted
        )


@pytest.mark.parametrize(
    ("principal", "artifact", "allowed"),
    [
        (ADMIN, OTHER, True),
        (ALICE, OTHER, True),
        (CAROL, OTHER, True),
        (BOB, DATA, True),
        (BOB, OTHER, False),
    ],
)
def test_reads_of_one_artifact(principal: Principal, artifact: Digest, allowed: bool) -> None:
    if allowed:
        access.may_read_artifact(principal, artifact, granted)
    else:
        with pytest.raises(Denied, match="no live grant"):
            access.may_read_artifact(principal, artifact, granted)


@pytest.mark.parametrize("principal", [BOB, ANONYMOUS, NOBODY])
def test_whole_log_answers_are_not_for_contractors_or_strangers(principal: Principal) -> None:
    with pytest.raises(Denied):
        access.may_read_all(principal)
    for allowed in (ADMIN, ALICE, CAROL):
        access.may_read_all(allowed)
