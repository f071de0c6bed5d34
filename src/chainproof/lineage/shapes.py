"""The JSON shapes of lineage, verify and impact reports: what `--json` / `--format json` print and
what the server will serve. Plain dicts and lists, in a stable order."""

from __future__ import annotations

from typing import Any

from chainproof.lineage.graph import LineageGraph
from chainproof.lineage.impact import ImpactReport, Item
from chainproof.lineage.model import ActorEntry, GrantEntry, GrantUse
from chainproof.lineage.verify import VerifyReport


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "artifact": report.artifact,
        "ok": report.ok,
        "roots": list(report.roots),
        "hops": [
            {
                "index": h.index,
                "hop": h.hop.value,
                "actor": h.actor,
                "role": h.role,
                "organisation": h.organisation,
                "inputs": list(h.inputs),
                "outputs": list(h.outputs),
                "ok": h.ok,
                "problems": list(h.problems),
            }
            for h in report.hops
        ],
        "problems": [{"index": i, "message": m} for i, m in report.failures()],
        "problem_count": len(report.failures()),
    }


def _item(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "digest": item.digest,
        "harm": [h.value for h in item.harm],
        "index": item.index,
        "via": item.via,
    }
    if item.releases:
        out["releases"] = list(item.releases)
    return out


def actor_json(a: ActorEntry) -> dict[str, Any]:
    r = a.record
    return {
        "name": r.name,
        "role": r.role,
        "organisation": r.organisation,
        "keyid": r.keyid,
        "index": a.index,
    }


def grant_json(g: GrantEntry, status: str | None = None) -> dict[str, Any]:
    r = g.record
    out: dict[str, Any] = {
        "grant_id": g.grant_id,
        "grantee": r.grantee,
        "artifact": r.artifact,
        "purpose": r.purpose,
        "expires": r.expires,
        "index": g.index,
        "revoked_at": g.revoked_at,
    }
    if status is not None:
        out["status"] = status
    return out


def grant_use_json(u: GrantUse) -> dict[str, Any]:
    return {"index": u.index, "actor": u.actor, "keyid": u.keyid, "time": u.time, "grant_id": u.grant_id}


def impact_json(report: ImpactReport) -> dict[str, Any]:
    return {
        "environments": [
            {
                "index": hop.index,
                "hop": hop.record.hop.value,
                "python": hop.record.environment.python if hop.record.environment else None,
                "sbom": hop.record.environment.sbom if hop.record.environment else None,
                "why": why,
            }
            for hop, why in report.environments
        ],
        "runs": [
            {"index": r.index, "hop": r.hop.value, "actor": r.actor, "harm": r.harm.value, "via": r.via}
            for r in report.runs
        ],
        "datasets": [_item(i) for i in report.datasets],
        "models": [_item(i) for i in report.models],
        "grants": [grant_json(g) for g in report.grants],
        "actors": [actor_json(a) for a in report.actors],
        "credentials": [{"name": name, "environments": list(idx)} for name, idx in report.credentials],
    }


def graph_json(graph: LineageGraph) -> dict[str, Any]:
    return {
        "artifact": graph.artifact,
        "nodes": [
            {"digest": n.digest, "side": n.side.value, "kind": n.kind, "index": n.index} for n in graph.nodes
        ],
        "hops": [
            {
                "index": e.index,
                "hop": e.hop.value,
                "side": e.side.value,
                "actor": e.actor,
                "inputs": list(e.inputs),
                "outputs": list(e.outputs),
                "time": e.time,
                "succeeded": e.succeeded,
            }
            for e in graph.edges
        ],
    }
