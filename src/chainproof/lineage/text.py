"""Lineage, verify and impact reports for a terminal: a summary line, then tables."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from chainproof.lineage.graph import LineageGraph
from chainproof.lineage.impact import ImpactReport, Item
from chainproof.lineage.verify import VerifyReport

_WIDTH = 120


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def short(digest: str) -> str:
    """`sha256:` and the first 16 hex digits: enough to tell artifacts apart on a screen."""
    return digest[:23]


def _render(*parts: object, color: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=_WIDTH, force_terminal=color, no_color=not color, highlight=False)
    for part in parts:
        console.print(part, markup=False) if isinstance(part, str) else console.print(part)
    return out.getvalue()


def verify_summary(report: VerifyReport) -> str:
    failing = [h for h in report.hops if not h.ok]
    if report.ok:
        return f"verified {report.artifact}: {plural(len(report.hops), 'hop')}, every one passes the policy"
    problems = plural(len(report.failures()), "problem")
    return (
        f"VERIFY FAILED {report.artifact}: {problems} in {len(failing)} of {plural(len(report.hops), 'hop')}"
    )


def verify_text(report: VerifyReport, color: bool = False) -> str:
    table = Table("entry", "hop", "actor", "role", "organisation", "result", expand=False)
    for h in report.hops:
        result = "ok" if h.ok else "\n".join(f"FAIL: {p}" for p in h.problems)
        table.add_row(
            str(h.index), h.hop.value, h.actor or "(no actor)", h.role or "-", h.organisation or "-", result
        )
    lines = [verify_summary(report), table]
    lines += [f"problem: {m}" for i, m in report.problems if i is None]
    lines += [f"root: {r} (ingested)" for r in report.roots] or ["roots: none (no ingest reached)"]
    return _render(*lines, color=color)


def _items(title: str, items: tuple[Item, ...]) -> Table:
    table = Table("artifact", "harm", "entry", "why", title=title, title_justify="left", expand=False)
    for i in items:
        why = i.via + (f"; released at {', '.join(map(str, i.releases))}" if i.releases else "")
        table.add_row(i.digest, "+".join(h.value for h in i.harm), str(i.index), why)
    return table


def impact_summary(report: ImpactReport) -> str:
    if report.empty:
        return "impact: nothing recorded is affected"
    return "impact: " + ", ".join(
        [
            plural(len(report.environments), "environment"),
            plural(len(report.runs), "run"),
            plural(len(report.datasets), "dataset"),
            plural(len(report.models), "model"),
            plural(len(report.grants), "grant"),
            plural(len(report.credentials), "credential") + " to rotate",
        ]
    )


def impact_text(report: ImpactReport, color: bool = False) -> str:
    parts: list[object] = [impact_summary(report)]
    if report.environments:
        envs = Table("entry", "hop", "python", "why", title="environments", title_justify="left")
        for hop, why in report.environments:
            python = hop.record.environment.python if hop.record.environment else "-"
            envs.add_row(str(hop.index), hop.record.hop.value, python, why)
        parts.append(envs)
    if report.runs:
        runs = Table("entry", "hop", "actor", "harm", "why", title="runs", title_justify="left")
        for r in report.runs:
            runs.add_row(str(r.index), r.hop.value, r.actor or "(no actor)", r.harm.value, r.via)
        parts.append(runs)
    if report.models:
        parts.append(_items("models", report.models))
    if report.datasets:
        parts.append(_items("datasets", report.datasets))
    if report.grants:
        grants = Table(
            "grant", "actor", "artifact", "until", "entry", "revoked at", title="grants", title_justify="left"
        )
        for g in report.grants:
            revoked = str(g.revoked_at) if g.revoked_at is not None else "-"
            grants.add_row(
                short(g.grant_id),
                g.record.grantee,
                g.record.artifact,
                g.record.expires,
                str(g.index),
                revoked,
            )
        parts.append(grants)
    if report.actors:
        parts.append(
            "actors: "
            + ", ".join(f"{a.record.name} ({a.record.role}, {a.record.organisation})" for a in report.actors)
        )
    if report.credentials:
        creds = Table(
            "credential",
            "present in environments (entries)",
            title="credentials to rotate",
            title_justify="left",
        )
        for name, idx in report.credentials:
            creds.add_row(name, ", ".join(map(str, idx)))
        parts.append(creds)
    return _render(*parts, color=color)


def lineage_text(graph: LineageGraph, color: bool = False) -> str:
    table = Table("entry", "side", "hop", "actor", "inputs", "outputs", expand=False)
    for e in graph.edges:
        table.add_row(
            str(e.index),
            e.side.value,
            e.hop.value + ("" if e.succeeded else " (failed)"),
            e.actor or "(no actor)",
            "\n".join(map(short, e.inputs)) or "-",
            "\n".join(map(short, e.outputs)) or "-",
        )
    nodes = Table("artifact", "kind", "side", "entry", expand=False)
    for n in graph.nodes:
        nodes.add_row(n.digest, n.kind, n.side.value, "-" if n.index is None else str(n.index))
    counts = f"{plural(len(graph.edges), 'hop')}, {plural(len(graph.nodes), 'artifact')}"
    head = f"lineage of {graph.artifact}: {counts}"
    return _render(head, table, nodes, color=color)
