"""Custody records to in-toto Statements and back: round trips, schemas, and SLSA's own bindings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement as intoto
from in_toto_attestation.v1 import statement_pb2

from chainproof.attest import statement as statement_mod
from chainproof.custody import predicates as pr
from chainproof.custody import views
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
    digest,
)
from chainproof.deps.model import Severity
from chainproof.errors import FormatError

hexes = st.binary(min_size=32, max_size=32).map(bytes.hex)
digests = hexes.map(lambda h: Digest(f"sha256:{h}"))
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


def details_for(hop: Hop) -> st.SearchStrategy[dict[str, Any]]:
    fields = dict.fromkeys(pr.HOP_FIELDS[hop], texts)
    if hop is Hop.EVALUATE:
        # Past 2**53, JCS writes an integral float as the integer it equals, which reads back as an int.
        fields["metrics"] = st.dictionaries(names, st.floats(-1e15, 1e15), max_size=3)
    return st.fixed_dictionaries({}, optional=fields)


environments = st.builds(
    Environment,
    python=texts,
    sbom=digests,
    packages=st.lists(
        st.builds(
            Package,
            name=names,
            version=st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True),
            record_sha256=st.none() | hexes,
        ),
        max_size=4,
    ).map(tuple),
    findings=st.lists(
        st.builds(EnvFinding, rule=names, severity=st.sampled_from(Severity), package=st.none() | names),
        max_size=3,
    ).map(tuple),
    credentials=st.lists(
        st.sampled_from(["AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "~/.ssh/id_ed25519"]), unique=True
    ).map(tuple),
)


@st.composite
def hop_records(draw: st.DrawFn) -> HopRecord:
    hop = draw(st.sampled_from(Hop))
    made_nothing = hop in (Hop.EVALUATE, Hop.RELEASE, Hop.ACCESS)
    slsa = hop in (Hop.TRANSFORM, Hop.TRAIN)
    inputs = tuple(
        draw(st.lists(digests, min_size=1 if made_nothing or slsa else 0, max_size=3, unique=True))
    )
    outputs = (
        ()
        if made_nothing
        else tuple(draw(st.lists(digests, min_size=0 if slsa else 1, max_size=3, unique=True)))
    )
    return HopRecord(
        hop=hop,
        inputs=inputs,
        outputs=outputs,
        details=draw(details_for(hop)),
        environment=draw(st.none() | environments) if slsa else None,
        time=draw(st.none() | st.sampled_from(["2026-03-24T10:00:00Z", "2026-03-24T12:30:05.5+02:00"])),
        succeeded=draw(st.booleans()) if slsa else True,
    )


records = (
    hop_records()
    | st.builds(ActorRecord, name=names, role=names, organisation=names, keyid=hexes)
    | st.builds(
        GrantRecord, grantee=names, artifact=digests, purpose=texts, expires=st.just("2099-01-01T00:00:00Z")
    )
    | st.builds(GrantRevocation, grant_id=digests, reason=st.text(max_size=10))
)


@given(records)
def test_every_record_survives_the_statement_and_its_canonical_bytes(record: Any) -> None:
    st_ = pr.to_statement(record)
    again = statement_mod.parse(st_.canonical())
    assert pr.from_statement(again) == record
    # What lets the log admit a recorded statement without parsing its payload back.
    assert again == st_


@given(records)
def test_every_statement_is_valid_in_toto(record: Any) -> None:
    obj = json.loads(pr.to_statement(record).canonical())
    proto = json_format.ParseDict(obj, statement_pb2.Statement())
    intoto.Statement.copy_from_pb(proto).validate()


@given(hop_records().filter(lambda r: r.hop in (Hop.TRANSFORM, Hop.TRAIN)))
def test_transform_and_train_are_slsa_provenance_v1(record: HopRecord) -> None:
    obj = json.loads(pr.to_statement(record).canonical())
    assert obj["predicateType"] == "https://slsa.dev/provenance/v1"
    # The SLSA bindings of the in-toto Attestation Framework read it, field for field.
    provenance = json_format.ParseDict(obj["predicate"], provenance_pb2.Provenance())
    assert provenance.build_definition.build_type == pr.hop_type(record.hop)
    assert provenance.run_details.builder.id == pr.BUILDER_ID
    sha = {d.digest["sha256"] for d in provenance.build_definition.resolved_dependencies if d.digest}
    assert {i.removeprefix("sha256:") for i in record.inputs} <= sha


def test_someone_elses_slsa_provenance_is_not_a_custody_hop() -> None:
    st_ = statement_mod.Statement(
        (statement_mod.Subject("x", {"sha256": "ab" * 32}),),
        pr.SLSA_PROVENANCE,
        {"buildDefinition": {"buildType": "https://github.com/actions/runner"}, "runDetails": {}},
    )
    assert pr.from_statement(st_) is None
    assert pr.from_statement(statement_mod.Statement(st_.subjects, "https://example.com/x", {})) is None


def _statement(predicate_type: str, predicate: dict[str, Any], subjects: int = 1) -> statement_mod.Statement:
    return statement_mod.Statement(
        tuple(statement_mod.Subject(f"s{i}", {"sha256": f"{i:02x}" * 32}) for i in range(subjects)),
        predicate_type,
        predicate,
    )


@pytest.mark.parametrize(
    ("predicate_type", "predicate", "words"),
    [
        (pr.hop_type(Hop.INGEST), {"licence": 7}, "licence must be a non-empty string"),
        (pr.hop_type(Hop.INGEST), {"lisence": "MIT"}, "unknown field(s) lisence"),
        (
            pr.hop_type(Hop.EVALUATE),
            {"inputs": [{"digest": {"sha256": "00" * 32}}], "metrics": {"f1": "high"}},
            "metrics.f1 must be a number",
        ),
        (pr.hop_type(Hop.RELEASE), {"inputs": [{"digest": {"sha256": "ff" * 32}}]}, "must be its inputs"),
        (pr.hop_type(Hop.ANNOTATE), {"inputs": [{"digest": {"sha256": "zz"}}]}, "is not a digest"),
        (pr.GRANT, {"grantee": "a", "purpose": "p"}, "expires must be a non-empty string"),
        (pr.hop_type(Hop.INGEST), {"time": "2026-03-24 10:00"}, "not an RFC 3339 time"),
        (
            pr.SLSA_PROVENANCE,
            {
                "buildDefinition": {
                    "buildType": pr.hop_type(Hop.TRAIN),
                    "resolvedDependencies": [{"name": "torch", "annotations": {"role": "package"}}],
                }
            },
            "a package needs a non-empty name, annotations.version",
        ),
        (
            pr.SLSA_PROVENANCE,
            {
                "buildDefinition": {
                    "buildType": pr.hop_type(Hop.TRAIN),
                    "resolvedDependencies": [
                        {
                            "name": "torch",
                            "digest": {"sha256": "zz"},
                            "annotations": {"role": "package", "version": "1"},
                        }
                    ],
                }
            },
            "resolvedDependencies\\[0\\]: a package",
        ),
        (pr.hop_type(Hop.INGEST), {"time": "2026-03-24T10:00:00"}, "not an RFC 3339 time"),
        (pr.ACTOR, {"name": "a", "role": "r", "organisation": "o"}, "keyid must be"),
        (
            pr.SLSA_PROVENANCE,
            {
                "buildDefinition": {
                    "buildType": pr.hop_type(Hop.TRAIN),
                    "resolvedDependencies": [{"name": "x"}],
                }
            },
            "role must be",
        ),
        (
            pr.SLSA_PROVENANCE,
            {
                "buildDefinition": {
                    "buildType": pr.hop_type(Hop.TRAIN),
                    "internalParameters": {"environment": {"python": "p"}},
                }
            },
            "needs its SBOM",
        ),
    ],
)
def test_schemas_refuse_what_they_do_not_define(
    predicate_type: str, predicate: dict[str, Any], words: str
) -> None:
    with pytest.raises(FormatError, match=words.replace("(", r"\(").replace(")", r"\)")):
        pr.from_statement(_statement(predicate_type, predicate))


def test_user_details_are_checked_against_the_hop() -> None:
    assert pr.check_details(Hop.INGEST, {"classification": "confidential"}) == {
        "classification": "confidential"
    }
    with pytest.raises(FormatError, match="unknown field"):
        pr.check_details(Hop.RELEASE, {"classification": "x"})


def test_digests() -> None:
    assert digest("sha256:" + "AB" * 32) == "sha256:" + "ab" * 32
    for bad in ("ab" * 32, "sha256:" + "ab" * 31, "sha512:" + "ab" * 32, "sha256:" + "zz" * 32):
        with pytest.raises(FormatError):
            digest(bad)


@given(records)
def test_the_index_view_reads_what_the_record_says(record: Any) -> None:
    seen = views.view(json.loads(pr.to_statement(record).canonical()))
    assert seen is not None
    assert views.of_record(record) == seen  # what a recorder files without reading it back
    if isinstance(record, HopRecord):
        assert seen.kind == views.HOP
        assert seen.inputs == tuple(d.removeprefix("sha256:") for d in record.inputs)
        assert seen.outputs == tuple(d.removeprefix("sha256:") for d in record.outputs)
        packages = record.environment.packages if record.environment else ()
        assert seen.packages == tuple(p.name for p in packages)
        assert seen.location == record.details.get("location")
    elif isinstance(record, ActorRecord):
        assert (seen.kind, seen.name, seen.keyid) == (views.ACTOR, record.name, record.keyid)
    elif isinstance(record, GrantRecord):
        assert (seen.kind, seen.name, seen.target) == (views.GRANT, record.grantee, record.artifact[7:])
    else:
        assert (seen.kind, seen.target) == (views.REVOCATION, record.grant_id[7:])
