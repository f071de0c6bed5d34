"""The chain-of-custody commands end to end: actors, records, grants, lineage, verify and impact."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_support import Cli, Store

from dist_support import install, venv

SECRET = "never-in-the-store-4d1f"
SARIF_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "deps" / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text()
)


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def venv_with(root: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A venv-shaped directory holding one distribution, written as an installer would."""
    install(venv(root), name, version, files)
    return root


@dataclass
class Incident:
    store: Store
    keys: dict[str, Path]
    raw: Path
    models: dict[str, str]
    policy: Path
    grant_id: str

    def run(self, cli: Cli, *args: object) -> Any:
        return cli.ok("--store", self.store.path, *args, "--json").json()


@pytest.fixture
def incident(cli: Cli, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Incident:
    s = ("--store", store.path)
    keys = {}
    for name, role, org in (("vendor", "recorder", "vendor"), ("ann1", "contractor", "vendor"),
                            ("ann2", "contractor", "vendor"), ("lab", "recorder", "lab")):  # fmt: skip
        keys[name] = tmp_path / f"{name}.pem"
        cli.ok(*s, "key", "new", name, "--out", keys[name], "--json")
        cli.ok(*s, "actor", "add", name, "--role", role, "--org", org, "--key", keys[name], "--json")
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    (raw / "a.jsonl").write_text('{"q": 1}\n')
    (raw / "nested" / "b.txt").write_text("hello")
    ingest = tmp_path / "ingest.json"
    ingest.write_text(json.dumps({"location": "s3://vendor/raw/", "classification": "confidential"}))
    cli.ok(*s, "record", "ingest", "--key", keys["vendor"], "--output", raw, "--predicate", ingest, "--json")
    until = "2099-01-01T00:00:00Z"
    grant = cli.ok(*s, "grant", "add", "ann1", raw, "--purpose", "labels", "--expires", until,
                   "--key", keys["vendor"], "--json").json()  # fmt: skip
    labels = {}
    for who in ("ann1", "ann2"):
        labels[who] = tmp_path / f"labels-{who}.jsonl"
        labels[who].write_text(f'{{"by": "{who}"}}\n')
    cli.ok(
        *s, "record", "annotate", "--key", keys["ann1"], "--input", raw, "--output", labels["ann1"], "--json"
    )
    ungranted = cli(
        *s, "record", "annotate", "--key", keys["ann2"], "--input", raw, "--output", labels["ann2"], "--json"
    )
    assert ungranted.code == 0
    assert ungranted.json()["warnings"] == [
        f"ann2 holds no grant on {cli.ok('data', 'manifest', raw, '--json').json()['root']}"
    ]
    assert "chainproof: warning: ann2 holds no grant" in ungranted.err
    canary = tmp_path / "canary"
    payload = base64.b64encode(f"open({str(canary)!r}, 'w').write('fired')".encode()).decode()
    hook = f"import base64; exec(base64.b64decode('{payload}'))\n"
    bad = venv_with(
        tmp_path / "bad", "litellm", "1.82.8", {"litellm/__init__.py": "", "litellm_init.pth": hook}
    )
    clean = venv_with(tmp_path / "clean", "tinylib", "1.0", {"tinylib/__init__.py": "X = 1\n"})
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    models = {}
    for tag, env, label in (("tainted", bad, "ann1"), ("clean", clean, "ann1"), ("ungranted", clean, "ann2")):
        model = tmp_path / f"model-{tag}.bin"
        model.write_bytes(tag.encode() * 100)
        models[tag] = sha(model)
        trained = cli(*s, "record", "train", "--key", keys["lab"], "--input", raw, "--input", labels[label],
                      "--output", model, "--env", env, "--json")  # fmt: skip
        assert trained.code == 0
        denied = [w for w in trained.json()["warnings"] if "the environment is denied" in w]
        assert bool(denied) == (tag == "tainted")
        cli.ok(*s, "record", "evaluate", "--key", keys["lab"], "--input", models[tag], "--json")
        cli.ok(*s, "record", "release", "--key", keys["lab"], "--input", models[tag], "--json")
    assert not canary.exists()
    policy = tmp_path / "policy.toml"
    policy.write_text(cli.ok("policy", "template").out)
    return Incident(store, keys, raw, models, policy, grant["grant_id"])


def test_verify_fails_the_tainted_and_ungranted_models_and_passes_the_clean_one(
    cli: Cli, incident: Incident
) -> None:
    s = ("--store", incident.store.path)
    clean = cli.ok(*s, "verify", incident.models["clean"], "--policy", incident.policy, "--json").json()
    assert clean["ok"] is True
    assert [h["hop"] for h in clean["hops"]] == ["ingest", "annotate", "train", "evaluate", "release"]
    tainted = cli(*s, "verify", incident.models["tainted"], "--policy", incident.policy, "--format", "json")
    assert tainted.code == 1
    report = tainted.json()
    assert report["ok"] is False
    messages = [p["message"] for p in report["problems"]]
    assert any("advisory-malicious (critical) in litellm" in m for m in messages)
    assert any("hook-pth-exec" in m for m in messages)
    assert all(p["index"] is not None for p in report["problems"])
    ungranted = cli(*s, "verify", incident.models["ungranted"], "--policy", incident.policy, "--json")
    assert ungranted.code == 1
    root = cli.ok("data", "manifest", incident.raw, "--json").json()["root"]
    assert [p["message"] for p in ungranted.json()["problems"]] == [
        f"annotate: ann2 holds no grant on {root}"
    ]
    table = cli(*s, "verify", incident.models["tainted"], "--policy", incident.policy)
    assert table.code == 1
    assert "VERIFY FAILED" in table.out


def test_verify_speaks_sarif_and_html(cli: Cli, incident: Incident, tmp_path: Path) -> None:
    s = ("--store", incident.store.path)
    sarif = cli(*s, "verify", incident.models["tainted"], "--policy", incident.policy, "--format", "sarif")
    assert sarif.code == 1
    log = json.loads(sarif.out)
    assert not list(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(log))
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"custody-hop"}
    page = tmp_path / "report.html"
    assert cli(*s, "verify", incident.models["tainted"], "--policy", incident.policy, "--format", "html",
               "--output", page).code == 1  # fmt: skip
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html
    assert incident.models["tainted"] in html
    for fetch in ("<script", "<link", "src=", "@import", "url(http"):
        assert fetch not in html


def test_impact_of_the_package_names_exactly_the_tainted_model_and_the_credentials(
    cli: Cli, incident: Incident
) -> None:
    obj = incident.run(cli, "impact", "--package", "litellm==1.82.8")
    assert set(obj) == {"environments", "runs", "datasets", "models", "grants", "actors", "credentials"}
    assert [m["digest"] for m in obj["models"]] == [incident.models["tainted"]]
    assert obj["models"][0]["harm"] == ["tainted"]
    assert {d["harm"][0] for d in obj["datasets"]} == {"exposed"}
    assert {c["name"] for c in obj["credentials"]} >= {"AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY"}
    text = json.dumps(obj)
    for other in ("clean", "ungranted"):
        assert incident.models[other] not in text
    assert incident.run(cli, "impact", "--advisory", "MAL-2026-2144") == obj
    assert incident.run(cli, "impact", "--package", "litellm==1.82.6")["models"] == []


def test_impact_of_an_actor_a_key_a_dataset_and_a_location(cli: Cli, incident: Incident) -> None:
    by_actor = incident.run(cli, "impact", "--actor", "ann1")
    assert [g["grantee"] for g in by_actor["grants"]] == ["ann1"]
    assert {m["digest"] for m in by_actor["models"]} == {incident.models["tainted"], incident.models["clean"]}
    keyid = incident.run(cli, "key", "list")["keys"][2]["keyid"]  # ann1's
    assert incident.run(cli, "impact", "--key", keyid)["models"] == by_actor["models"]
    everything = {m["digest"] for m in incident.run(cli, "impact", "--dataset", incident.raw)["models"]}
    assert everything == set(incident.models.values())
    stored = incident.run(cli, "impact", "--location", "s3://vendor/")
    assert stored["datasets"][0]["harm"] == ["exposed", "tainted"]
    assert incident.run(cli, "impact", "--location", "s3://vendor-other/")["datasets"] == []
    early = incident.run(cli, "impact", "--package", "litellm==1.82.8", "--until", "2000-01-01T00:00:00Z")
    assert early["models"] == []


def test_no_secret_value_is_ever_written_to_the_store(cli: Cli, incident: Incident) -> None:
    for path in incident.store.path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_lineage_reaches_the_raw_data_and_what_was_made(cli: Cli, incident: Incident) -> None:
    obj = incident.run(cli, "lineage", incident.models["clean"])
    kinds = {(n["side"], n["kind"]) for n in obj["nodes"]}
    assert ("self", "model") in kinds
    assert ("upstream", "dataset") in kinds
    assert all(h["index"] is not None for h in obj["hops"])
    raw = incident.run(cli, "lineage", incident.raw)
    assert {n["digest"] for n in raw["nodes"] if n["kind"] == "model"} == set(incident.models.values())
    assert "lineage of sha256:" in cli.ok("--store", incident.store.path, "lineage", incident.raw).out


def test_a_lost_index_is_rebuilt_and_says_so_when_verbose(cli: Cli, incident: Incident) -> None:
    store = incident.store.path
    before = incident.run(cli, "lineage", incident.models["clean"])
    (store / "lineage.db").unlink()
    rebuilt = cli("--store", store, "--verbose", "lineage", incident.models["clean"], "--json")
    assert rebuilt.code == 0
    assert rebuilt.json() == before
    size = cli.ok("--store", store, "log", "info", "--json").json()["tree_size"]
    lines = [line for line in rebuilt.err.splitlines() if "custody records" in line]
    assert lines == [
        f"chainproof: indexing the log's custody records: 0/{size}",
        f"chainproof: indexing the log's custody records: {size}/{size}",
    ]
    assert cli.ok("--store", store, "lineage", incident.models["clean"], "--json").json() == before


def test_grants_list_and_revoke(cli: Cli, incident: Incident) -> None:
    [grant] = incident.run(cli, "grant", "list", "--actor", "ann1")["grants"]
    assert grant["status"] == "active"
    assert grant["grant_id"] == incident.grant_id
    incident.run(
        cli, "grant", "revoke", incident.grant_id, "--key", incident.keys["vendor"], "--reason", "done"
    )
    assert incident.run(cli, "grant", "list", "--artifact", incident.raw)["grants"][0]["status"] == "revoked"
    # the work done under it stays covered
    assert incident.run(cli, "verify", incident.models["clean"], "--policy", incident.policy)["ok"] is True
    message = cli.fails(2, "--store", incident.store.path, "grant", "revoke", incident.grant_id,
                        "--key", incident.keys["vendor"], "--json")  # fmt: skip
    assert "already revoked" in message


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            ("record", "annotate", "--key", "{ann1}", "--input", "sha256:" + "ab" * 32, "--output", "{raw}"),
            2,
            "no custody record names the input",
        ),
        (
            ("record", "train", "--key", "{lab}", "--input", "{missing}", "--output", "{raw}"),
            2,
            "no such file",
        ),
        (("record", "evaluate", "--key", "{lab}", "--output", "{raw}"), 2, "has no --output"),
        (
            ("record", "ingest", "--key", "{lab}", "--output", "{raw}", "--predicate", "{badpred}"),
            1,
            "unknown field",
        ),
        (
            (
                "grant",
                "add",
                "ann1",
                "{raw}",
                "--purpose",
                "p",
                "--expires",
                "2001-01-01T00:00:00Z",
                "--key",
                "{vendor}",
            ),
            2,
            "expired already",
        ),
        (
            (
                "grant",
                "add",
                "nobody",
                "{raw}",
                "--purpose",
                "p",
                "--expires",
                "2099-01-01T00:00:00Z",
                "--key",
                "{vendor}",
            ),
            2,
            "no actor named 'nobody'",
        ),
        (
            ("grant", "add", "ann1", "{raw}", "--purpose", "p", "--expires", "tomorrow", "--key", "{vendor}"),
            1,
            "not an RFC 3339 time",
        ),
        (
            ("actor", "add", "lab", "--role", "recorder", "--org", "lab", "--key", "{vendor}"),
            2,
            "is registered as 'vendor', not 'lab'",
        ),
        (("verify", "sha256:" + "cd" * 32, "--policy", "{policy}"), 2, "no custody record names"),
        (("verify", "{raw}", "--policy", "{badpolicy}"), 1, "badpolicy.toml:2:"),
        (("impact",), 2, "give exactly one of"),
        (("impact", "--package", "litellm"), 2, "is not NAME==VERSION"),
        (("impact", "--advisory", "GHSA-0000"), 2, "no advisory"),
        (("impact", "--actor", "ghost"), 2, "no actor or key named 'ghost'"),
        (("lineage", "sha256:" + "ef" * 32), 2, "no custody record names"),
    ],
)
def test_bad_input_is_one_line_and_leaves_the_log_unchanged(
    cli: Cli, incident: Incident, tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    (tmp_path / "badpred.json").write_text('{"lisence": "MIT"}')
    (tmp_path / "badpolicy.toml").write_text("version = 1\n[roles\n")
    files = {"missing": "missing", "badpred": "badpred.json", "badpolicy": "badpolicy.toml"}
    names = {
        **{k: str(v) for k, v in incident.keys.items()},
        **{k: str(tmp_path / v) for k, v in files.items()},
        "raw": str(incident.raw),
        "policy": str(incident.policy),
    }
    before = incident.store.state()
    message = cli.fails(code, "--store", incident.store.path, *(a.format(**names) for a in args), "--json")
    assert words in message
    assert incident.store.state() == before


def test_lineage_exports_openlineage_run_events(cli: Cli, incident: Incident) -> None:
    out = cli.ok(
        "--store", incident.store.path, "lineage", incident.models["tainted"], "--format", "openlineage"
    ).out
    events = [json.loads(line) for line in out.splitlines()]
    graph = incident.run(cli, "lineage", incident.models["tainted"])
    assert [e["run"]["facets"]["chainproof"]["index"] for e in events] == [h["index"] for h in graph["hops"]]
    for event, hop in zip(events, graph["hops"], strict=True):
        assert event["eventType"] == "COMPLETE"
        assert event["schemaURL"].startswith("https://openlineage.io/spec/")
        assert event["job"] == {"namespace": "cli.example/custody", "name": hop["hop"], "facets": {}}
        assert [d["name"] for d in event["inputs"]] == hop["inputs"]
        assert [d["name"] for d in event["outputs"]] == hop["outputs"]
        assert event["eventTime"] == hop["time"]
        assert len(event["run"]["runId"]) == 36
    again = cli.ok(
        "--store", incident.store.path, "lineage", incident.models["tainted"], "--format", "openlineage"
    )
    assert again.out == out  # the same entries export as the same runs
