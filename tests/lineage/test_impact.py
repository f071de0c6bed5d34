"""impact: the blast radius of a package, an actor, a key, a dataset or a storage location."""

from __future__ import annotations

from datetime import UTC, datetime

from scenario import Story, art, env, incident

from chainproof.custody.hops import Hop
from chainproof.lineage import Harm, impact
from chainproof.lineage.graph import Side, lineage
from chainproof.lineage.impact import Window, actor_seeds, artifact_seeds, environment_seeds


def litellm_1_82_8(name: str, version: str) -> str | None:
    return "MAL-2026-2144" if (name, version) == ("litellm", "1.82.8") else None


def test_a_package_names_exactly_the_tainted_run_model_datasets_and_credentials() -> None:
    s, a = incident()
    seeds = environment_seeds(s.lineage, ["LiteLLM"], litellm_1_82_8)
    report = impact(s.lineage, seeds)
    [(env_hop, why)] = report.environments
    assert why == "MAL-2026-2144"
    assert [m.digest for m in report.models] == [a["m-tainted"]]
    [model] = report.models
    assert model.harm == (Harm.TAINTED,)
    assert model.index == env_hop.index
    assert len(model.releases) == 1
    assert {d.digest: d.harm for d in report.datasets} == {
        a["raw"]: (Harm.EXPOSED,),
        a["labels1"]: (Harm.EXPOSED,),
    }
    assert [r.hop for r in report.runs] == [Hop.TRAIN, Hop.EVALUATE, Hop.RELEASE]
    assert [c for c, _ in report.credentials] == ["AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY"]
    assert [x.record.name for x in report.actors] == ["lab"]
    assert report.grants == ()


def test_only_taint_flows_downstream() -> None:
    s, a = incident()
    derived, model2 = art("derived"), art("model-2")
    s.hop(Hop.TRANSFORM, "lab", [a["m-tainted"]], [derived], environment=env("torch==2.9.0"))
    s.hop(Hop.TRAIN, "lab", [derived], [model2], environment=env("torch==2.9.0"))
    report = impact(s.lineage, environment_seeds(s.lineage, ["litellm"], litellm_1_82_8))
    assert [m.digest for m in report.models] == [a["m-tainted"], model2]
    assert (derived, (Harm.TAINTED,)) in [(d.digest, d.harm) for d in report.datasets]


def test_a_compromised_actor_exposes_its_grants_and_taints_what_it_made() -> None:
    s, a = incident()
    ann1 = s.lineage.actors_named("ann1")
    report = impact(s.lineage, actor_seeds(s.lineage, ann1, [s.keyids["ann1"]]))
    assert [g.record.grantee for g in report.grants] == ["ann1"]
    harm = {d.digest: d.harm for d in report.datasets}
    assert harm[a["raw"]] == (Harm.EXPOSED,)
    assert harm[a["labels1"]] == (Harm.TAINTED,)
    # labels1 went into the tainted and the clean model: both are in doubt now, not the ungranted one
    assert {m.digest for m in report.models} == {a["m-tainted"], a["m-clean"]}


def test_a_compromised_dataset_taints_everything_derived_and_lists_who_could_reach_it() -> None:
    s, a = incident()
    report = impact(s.lineage, artifact_seeds(s.lineage, [a["raw"]], exposed=False))
    assert {m.digest for m in report.models} == {a["m-tainted"], a["m-clean"], a["m-ungranted"]}
    assert [g.record.grantee for g in report.grants] == ["ann1"]


def test_a_storage_location_exposes_and_taints_what_was_stored_there() -> None:
    s, a = incident()
    stored = [d for h in s.lineage.hops_at_location("s3://vendor") for d in h.record.outputs]
    assert stored == [a["raw"]]
    assert s.lineage.hops_at_location("s3://vend") == []
    report = impact(s.lineage, artifact_seeds(s.lineage, stored, exposed=True))
    assert report.datasets[0].harm == (Harm.EXPOSED, Harm.TAINTED)


def test_a_time_window_limits_the_runs() -> None:
    s = Story()
    s.actor("lab", "recorder", "lab")
    raw = art("raw")
    s.hop(Hop.INGEST, "lab", outputs=[raw])
    bad = env("litellm==1.82.8")
    s.hop(Hop.TRAIN, "lab", [raw], [art("before")], environment=bad, time="2026-03-24T09:00:00Z")
    s.hop(Hop.TRAIN, "lab", [raw], [art("during")], environment=bad, time="2026-03-24T11:00:00Z")
    window = Window(since=datetime(2026, 3, 24, 10, tzinfo=UTC), until=datetime(2026, 3, 24, 13, tzinfo=UTC))
    report = impact(s.lineage, environment_seeds(s.lineage, ["litellm"], litellm_1_82_8, window))
    assert [m.digest for m in report.models] == [art("during")]


def test_nothing_matches_nothing() -> None:
    s, _ = incident()
    assert impact(s.lineage, environment_seeds(s.lineage, ["requests"], litellm_1_82_8)).empty


def test_the_lineage_graph_reaches_up_to_raw_data_and_down_to_what_was_made() -> None:
    s, a = incident()
    derived = art("derived")
    s.hop(Hop.TRANSFORM, "lab", [a["labels1"]], [derived], environment=env("torch==2.9.0"))
    graph = lineage(a["labels1"], s.lineage)
    sides = {n.digest: (n.side, n.kind) for n in graph.nodes}
    assert sides[a["labels1"]] == (Side.SELF, "dataset")
    assert sides[a["raw"]] == (Side.UPSTREAM, "dataset")
    assert sides[a["m-tainted"]] == (Side.DOWNSTREAM, "model")
    assert sides[derived] == (Side.DOWNSTREAM, "dataset")
    assert a["m-ungranted"] not in sides
    upstream = [e.hop for e in graph.edges if e.side is Side.UPSTREAM]
    assert upstream == [Hop.INGEST, Hop.ANNOTATE]
    downstream = [e.hop for e in graph.edges if e.side is Side.DOWNSTREAM]
    assert downstream.count(Hop.TRAIN) == 2
    assert Hop.RELEASE in downstream
    model = lineage(a["m-clean"], s.lineage)
    assert [e.hop for e in model.edges if e.side is Side.SELF] == [Hop.EVALUATE, Hop.RELEASE]
    assert all(n.index is not None for n in model.nodes)


def test_a_compromised_model_named_directly_is_listed_as_a_model() -> None:
    s, a = incident()
    report = impact(s.lineage, artifact_seeds(s.lineage, [a["m-clean"]], exposed=False))
    assert [m.digest for m in report.models] == [a["m-clean"]]
    assert report.datasets == ()
