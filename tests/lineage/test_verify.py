"""verify: every hop of an artifact's custody against the policy, every reason, with its index."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from scenario import BAD_PTH, Story, art, env, incident, policy

from chainproof.custody.hops import Hop
from chainproof.custody.records import Environment
from chainproof.deps.model import Severity
from chainproof.errors import UsageError
from chainproof.lineage import verify
from chainproof.lineage.verify import VerifyReport

ADVISORIES = {("litellm", "1.82.8"): "MAL-2026-2144"}


def judge(e: Environment) -> Sequence[tuple[str, Severity, str | None]]:
    """Findings as they stand today: those recorded, and the advisories known now."""
    now = [(f.rule, f.severity, f.package) for f in e.findings]
    now += [
        ("advisory-malicious", Severity.CRITICAL, p.name)
        for p in e.packages
        if (p.name, p.version) in ADVISORIES
    ]
    return now


def problems(report: VerifyReport) -> list[str]:
    return [f"{i}: {m}" for i, m in report.failures()]


def test_the_incident_fails_the_tainted_and_the_ungranted_model_and_passes_the_clean_one() -> None:
    s, a = incident()
    clean = verify(a["m-clean"], s.lineage, policy(), judge)
    assert clean.ok, problems(clean)
    assert clean.roots == (a["raw"],)
    assert [h.hop for h in clean.hops] == [Hop.INGEST, Hop.ANNOTATE, Hop.TRAIN, Hop.EVALUATE, Hop.RELEASE]

    tainted = verify(a["m-tainted"], s.lineage, policy(), judge)
    assert not tainted.ok
    [train] = [h for h in tainted.hops if not h.ok]
    assert train.hop is Hop.TRAIN
    assert set(train.problems) == {
        "the environment is denied: hook-pth-exec (critical) in litellm",
        "the environment is denied: advisory-malicious (critical) in litellm",
    }

    ungranted = verify(a["m-ungranted"], s.lineage, policy(), judge)
    [annotate] = [h for h in ungranted.hops if not h.ok]
    assert annotate.actor == "ann2"
    assert annotate.problems == (f"ann2 holds no grant on {a['raw']}",)


def test_an_advisory_published_after_training_still_taints_the_model() -> None:
    s, a = incident()
    quiet = env("litellm==1.82.8")  # no finding recorded at training time
    m = art("m-later")
    s.hop(Hop.TRAIN, "lab", [a["raw"]], [m], environment=quiet)
    assert not verify(m, s.lineage, policy(), judge).ok
    ADVISORIES.pop(("litellm", "1.82.8"))
    try:
        assert verify(m, s.lineage, policy(), judge).ok
    finally:
        ADVISORIES[("litellm", "1.82.8")] = "MAL-2026-2144"


def test_every_failing_hop_is_reported_never_only_the_first() -> None:
    s = Story()
    s.actor("intern", "intern", "lab")
    s.actor("ann", "contractor", "vendor")
    raw, labels, model = art("raw"), art("labels"), art("model")
    s.hop(Hop.INGEST, "intern", outputs=[raw])
    s.hop(Hop.ANNOTATE, "ann", [raw], [labels])
    s.hop(Hop.TRAIN, "ann", [labels], [model], environment=env("x==1", findings=[BAD_PTH]), succeeded=False)
    s.hop(Hop.RELEASE, "intern", [model])
    got = problems(verify(model, s.lineage, policy(), judge))
    assert got == [
        "5: ingest: role 'intern' is not in the policy",
        f"6: annotate: ann holds no grant on {raw}",
        "7: train: role 'contractor' may not record train",
        "7: train: the environment is denied: hook-pth-exec (critical) in litellm",
        "7: train: the run failed (it raised an exception)",
        "8: release: role 'intern' is not in the policy",
        f"8: release: {model} has no evaluate before this release",
    ]


@pytest.mark.parametrize(
    ("story", "words"),
    [
        ("revoked-before", "was revoked at entry"),
        ("expired", "expired at 2026-02-01T00:00:00Z"),
        ("granted-later", "came later"),
        ("granted-by-contractor", "issued by role 'contractor', which may not grant"),
        ("other-artifact", "holds no grant on"),
    ],
)
def test_a_contractor_hop_needs_a_grant_in_force_at_its_point_of_the_log(story: str, words: str) -> None:
    s = Story()
    s.actor("vendor", "recorder", "vendor")
    s.actor("ann", "contractor", "vendor")
    s.actor("boss", "contractor", "vendor")
    raw, labels = art("raw"), art("labels")
    s.hop(Hop.INGEST, "vendor", outputs=[raw, art("other")])
    if story == "revoked-before":
        s.revoke(s.grant("ann", raw, by="vendor"), by="vendor")
    elif story == "expired":
        s.grant("ann", raw, by="vendor", expires="2026-02-01T00:00:00Z")
    elif story == "granted-by-contractor":
        s.grant("ann", raw, by="boss")
    elif story == "other-artifact":
        s.grant("ann", art("other"), by="vendor")
    hop = s.hop(Hop.ANNOTATE, "ann", [raw], [labels])
    if story == "granted-later":
        s.grant("ann", raw, by="vendor")
    report = verify(labels, s.lineage, policy(), judge)
    [failed] = [h for h in report.hops if not h.ok]
    assert failed.index == hop
    assert words in " ".join(failed.problems)


def test_a_later_revocation_does_not_undo_earlier_work_but_no_hop_after_it_is_covered() -> None:
    s = Story()
    s.actor("vendor", "recorder", "vendor")
    s.actor("ann", "contractor", "vendor")
    raw, before, after = art("raw"), art("before"), art("after")
    s.hop(Hop.INGEST, "vendor", outputs=[raw])
    grant = s.grant("ann", raw, by="vendor")
    s.hop(Hop.ANNOTATE, "ann", [raw], [before])
    s.revoke(grant, by="vendor")
    s.hop(Hop.ANNOTATE, "ann", [raw], [after])
    assert verify(before, s.lineage, policy(), judge).ok
    assert not verify(after, s.lineage, policy(), judge).ok


def test_keys_revoked_back_to_before_a_hop_fail_it() -> None:
    s, a = incident()
    s.revoke_key("ann1", effective_from=5)
    report = verify(a["m-clean"], s.lineage, policy(), judge)
    assert any("revoked from entry 5" in p for _, p in report.failures())


def test_lineage_gaps_are_reported() -> None:
    s = Story()
    s.actor("lab", "recorder", "lab")
    orphan, model, late = art("orphan"), art("model"), art("late")
    s.hop(Hop.TRAIN, "lab", [orphan, late], [model], environment=env("torch==2.9.0"))
    s.hop(Hop.INGEST, "lab", outputs=[late])
    got = problems(verify(model, s.lineage, policy(), judge))
    assert f"None: {orphan} was never ingested nor produced by a recorded hop" in got
    assert f"3: train: input {late} was only produced later (entry 4)" in got


def test_organisations_are_held_to_their_classifications() -> None:
    s, a = incident()
    p = dataclasses.replace(
        policy(), organisations={"vendor": frozenset({"confidential"}), "lab": frozenset({"internal"})}
    )
    report = verify(a["m-clean"], s.lineage, p, judge)
    assert {(h.hop, h.organisation) for h in report.hops if not h.ok} == {
        (Hop.TRAIN, "lab"),
        (Hop.EVALUATE, "lab"),
        (Hop.RELEASE, "lab"),
    }


def test_an_artifact_no_record_names_is_a_usage_error() -> None:
    s, _ = incident()
    with pytest.raises(UsageError, match="no custody record names"):
        verify(art("nothing"), s.lineage, policy(), judge)
