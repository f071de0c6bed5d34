"""One self-contained HTML page: the lineage graph (inline SVG) with the verify or impact tables.

Nothing is fetched when it opens: no script, no font, no stylesheet from elsewhere. Every value
from the log is escaped. The graph is laid out here, in columns: an artifact stands one column
right of the furthest input of the hop that made it, and a hop is an arrow from its inputs to its
outputs; hops that made nothing (evaluations, releases) are listed under their artifact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

import chainproof
from chainproof.custody.records import Digest
from chainproof.lineage.graph import Edge, LineageGraph
from chainproof.lineage.impact import ImpactReport, Item
from chainproof.lineage.text import impact_summary, short, verify_summary
from chainproof.lineage.verify import VerifyReport

_BOX_W, _BOX_H, _COL_W, _ROW_H, _PAD = 210, 58, 300, 92, 24

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d2330}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccd;padding:.3em .6em;text-align:left;
vertical-align:top} th{background:#eef} code{font-size:12px}
.ok{color:#176b2c} .bad{color:#b3261e;font-weight:600} .summary{font-size:1.1em}
svg text{font:12px system-ui,sans-serif} .tainted rect{fill:#fde2e0;stroke:#b3261e}
.exposed rect{fill:#fff3d6;stroke:#b7791f} .self rect{stroke-width:3}
"""


def page(
    graph: LineageGraph | None,
    *,
    verified: VerifyReport | None = None,
    impact: ImpactReport | None = None,
    title: str = "chainproof report",
) -> str:
    """The whole page; give the parts there are."""
    body = [f"<h1>{escape(title)}</h1>"]
    harm = _harms(impact) if impact is not None else {}
    if verified is not None:
        body.append(_verify_section(verified))
    if impact is not None:
        body.append(_impact_section(impact))
    if graph is not None:
        body.append("<h2>Lineage</h2>" + _svg(graph, harm) + _hops_table(graph.edges))
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body.append(f"<p><small>chainproof {escape(chainproof.__version__)}, {made}</small></p>")
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of already-escaped cells."""
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def _verify_section(report: VerifyReport) -> str:
    cls = "ok" if report.ok else "bad"
    rows = [
        (
            str(h.index),
            escape(h.hop.value),
            escape(h.actor or "(no actor)"),
            escape(h.role or "-"),
            escape(h.organisation or "-"),
            "<span class=ok>ok</span>"
            if h.ok
            else "<br>".join(f"<span class=bad>{escape(p)}</span>" for p in h.problems),
        )
        for h in report.hops
    ]
    gaps = "".join(f"<p class=bad>{escape(m)}</p>" for i, m in report.problems if i is None)
    return (
        f"<h2>Verify</h2><p class='summary {cls}'>{escape(verify_summary(report))}</p>"
        + _table(("entry", "hop", "actor", "role", "organisation", "result"), rows)
        + gaps
    )


def _items(items: Sequence[Item]) -> str:
    return _table(
        ("artifact", "harm", "entry", "why"),
        (
            (
                f"<code>{escape(i.digest)}</code>",
                escape("+".join(h.value for h in i.harm)),
                str(i.index),
                escape(i.via),
            )
            for i in items
        ),
    )


def _impact_section(report: ImpactReport) -> str:
    parts = [f"<h2>Impact</h2><p class=summary>{escape(impact_summary(report))}</p>"]
    if report.environments:
        rows = [
            (
                str(h.index),
                escape(h.record.hop.value),
                escape(h.record.environment.python if h.record.environment else "-"),
                escape(why),
            )
            for h, why in report.environments
        ]
        parts.append("<h3>Environments</h3>" + _table(("entry", "hop", "python", "why"), rows))
    if report.runs:
        runs = [
            (str(r.index), escape(r.hop.value), escape(r.actor or "-"), escape(r.harm.value), escape(r.via))
            for r in report.runs
        ]
        parts.append("<h3>Runs</h3>" + _table(("entry", "hop", "actor", "harm", "why"), runs))
    if report.models:
        parts.append("<h3>Models</h3>" + _items(report.models))
    if report.datasets:
        parts.append("<h3>Datasets</h3>" + _items(report.datasets))
    if report.grants:
        grants = [
            (
                f"<code>{escape(short(g.grant_id))}</code>",
                escape(g.record.grantee),
                f"<code>{escape(g.record.artifact)}</code>",
                escape(g.record.expires),
                str(g.index),
                "-" if g.revoked_at is None else str(g.revoked_at),
            )
            for g in report.grants
        ]
        parts.append(
            "<h3>Grants</h3>" + _table(("grant", "actor", "artifact", "until", "entry", "revoked at"), grants)
        )
    if report.credentials:
        creds = [(escape(n), ", ".join(map(str, idx))) for n, idx in report.credentials]
        parts.append(
            "<h3>Credentials to rotate</h3>" + _table(("credential", "environments (entries)"), creds)
        )
    return "".join(parts)


def _harms(report: ImpactReport) -> dict[Digest, str]:
    return {i.digest: i.harm[-1].value for i in (*report.datasets, *report.models)}


def _columns(graph: LineageGraph) -> dict[Digest, int]:
    """Each artifact's column: one right of the furthest input of the hop that made it."""
    makers: dict[Digest, list[Edge]] = defaultdict(list)
    for e in graph.edges:
        for d in e.outputs:
            makers[d].append(e)
    column: dict[Digest, int] = {}

    def col(d: Digest, depth: int = 0) -> int:
        if d in column:
            return column[d]
        column[d] = 0  # a cycle, which the log should never hold, ends here
        if depth < 200:
            column[d] = max((1 + col(i, depth + 1) for e in makers.get(d, ()) for i in e.inputs), default=0)
        return column[d]

    for n in graph.nodes:
        col(n.digest)
    return column


def _svg(graph: LineageGraph, harm: dict[Digest, str]) -> str:
    column = _columns(graph)
    rows: dict[int, int] = defaultdict(int)
    place: dict[Digest, tuple[int, int]] = {}
    for n in graph.nodes:
        c = column.get(n.digest, 0)
        place[n.digest] = (_PAD + c * _COL_W, _PAD + rows[c] * _ROW_H)
        rows[c] += 1
    width = _PAD * 2 + (max(column.values(), default=0)) * _COL_W + _BOX_W
    height = _PAD * 2 + max(rows.values(), default=1) * _ROW_H
    about: dict[Digest, list[str]] = defaultdict(list)
    arrows = []
    for e in graph.edges:
        if not e.outputs:
            for d in e.inputs:
                about[d].append(f"{e.hop.value} @{e.index}")
        for i in e.inputs:
            for o in e.outputs:
                if i in place and o in place:
                    (x1, y1), (x2, y2) = place[i], place[o]
                    arrows.append(
                        f"<line x1={x1 + _BOX_W} y1={y1 + _BOX_H // 2} x2={x2} y2={y2 + _BOX_H // 2} "
                        "stroke='#667' marker-end='url(#arrow)'/>"
                        f"<text x={(x1 + _BOX_W + x2) // 2 - 30} y={(y1 + y2) // 2 + _BOX_H // 2 - 4}>"
                        f"{escape(e.hop.value)} @{e.index}</text>"
                    )
    boxes = []
    for n in graph.nodes:
        x, y = place[n.digest]
        cls = " ".join(c for c in (harm.get(n.digest, ""), "self" if n.side.value == "self" else "") if c)
        note = ", ".join(about.get(n.digest, []))
        at = "" if n.index is None else f" @{n.index}"
        boxes.append(
            f"<g class='{cls}'><title>{escape(n.digest)}</title>"
            f"<rect x={x} y={y} width={_BOX_W} height={_BOX_H} rx=6 fill='#f4f6fb' stroke='#556'/>"
            f"<text x={x + 8} y={y + 18}>{escape(n.kind)}{at}</text>"
            f"<text x={x + 8} y={y + 34}>{escape(short(n.digest))}</text>"
            f"<text x={x + 8} y={y + 50}>{escape(note)}</text></g>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width={width} height={height} role=img "
        f"aria-label='lineage of {escape(graph.artifact)}'><defs>"
        "<marker id=arrow viewBox='0 0 10 10' refX=10 refY=5 markerWidth=8 markerHeight=8 orient=auto>"
        "<path d='M0,0 L10,5 L0,10 z' fill='#667'/></marker></defs>"
        + "".join(arrows)
        + "".join(boxes)
        + "</svg>"
    )


def _hops_table(edges: Sequence[Edge]) -> str:
    rows = [
        (
            str(e.index),
            escape(e.side.value),
            escape(e.hop.value + ("" if e.succeeded else " (failed)")),
            escape(e.actor or "-"),
            "<br>".join(f"<code>{escape(d)}</code>" for d in e.inputs) or "-",
            "<br>".join(f"<code>{escape(d)}</code>" for d in e.outputs) or "-",
        )
        for e in edges
    ]
    return _table(("entry", "side", "hop", "actor", "inputs", "outputs"), rows)
