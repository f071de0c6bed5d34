"""The lineage graph of one artifact: every hop upstream of it (how it was made, back to raw data)
and downstream (what was made from it), with the artifacts they link. Pure over a `LineageSource`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.lineage.model import HopEntry, LineageSource
from chainproof.lineage.verify import actor_for


class Side(enum.StrEnum):
    SELF = "self"
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


@dataclass(frozen=True, kw_only=True)
class Node:
    """An artifact of the graph; `index` is the entry of the record that links it in (that made it,
    or for a root, that ingested it)."""

    digest: Digest
    side: Side
    kind: str
    """`model` (made by a train), `dataset` otherwise."""
    index: int | None


@dataclass(frozen=True, kw_only=True)
class Edge:
    """A hop: from its inputs to its outputs."""

    index: int
    hop: Hop
    actor: str | None
    inputs: tuple[Digest, ...]
    outputs: tuple[Digest, ...]
    side: Side
    time: str | None
    succeeded: bool


@dataclass(frozen=True, kw_only=True)
class LineageGraph:
    artifact: Digest
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    """In log order."""


def lineage(artifact: Digest, source: LineageSource) -> LineageGraph:
    """Everything upstream and downstream of `artifact`."""
    edges: dict[int, Edge] = {}
    sides: dict[Digest, Side] = {artifact: Side.SELF}
    for about in source.consumers(artifact):  # its own evaluations, releases, accesses
        if not about.record.outputs:
            _edge(source, about, Side.SELF, edges)
    _walk(source, artifact, Side.UPSTREAM, edges, sides)
    _walk(source, artifact, Side.DOWNSTREAM, edges, sides)
    made_by: dict[Digest, HopEntry] = {}
    for e in edges.values():
        for d in e.outputs:
            made_by.setdefault(d, _hop(source, e.index))
    nodes = []
    for d, side in sides.items():
        maker = made_by.get(d) or next(iter(source.producers(d)), None)
        kind = "model" if maker is not None and maker.record.hop is Hop.TRAIN else "dataset"
        nodes.append(Node(digest=d, side=side, kind=kind, index=maker.index if maker else None))
    nodes.sort(key=lambda n: (n.index if n.index is not None else -1, n.digest))
    return LineageGraph(artifact=artifact, nodes=tuple(nodes), edges=tuple(edges[i] for i in sorted(edges)))


def _hop(source: LineageSource, index: int) -> HopEntry:
    hop = source.hop(index)
    assert hop is not None  # an edge is only ever made from a hop the source gave
    return hop


def _edge(source: LineageSource, hop: HopEntry, side: Side, edges: dict[int, Edge]) -> None:
    if hop.index in edges:
        return
    actor = actor_for(source, hop)
    edges[hop.index] = Edge(
        index=hop.index,
        hop=hop.record.hop,
        actor=actor.record.name if actor else None,
        inputs=hop.record.inputs,
        outputs=hop.record.outputs,
        side=side,
        time=hop.record.time,
        succeeded=hop.record.succeeded,
    )


def _walk(
    source: LineageSource, start: Digest, side: Side, edges: dict[int, Edge], sides: dict[Digest, Side]
) -> None:
    todo = [start]
    seen = {start}
    while todo:
        d = todo.pop()
        hops = source.producers(d) if side is Side.UPSTREAM else source.consumers(d)
        for hop in hops:
            _edge(source, hop, side, edges)
            nxt = hop.record.inputs if side is Side.UPSTREAM else hop.record.outputs
            for n in nxt:
                if n not in seen:
                    seen.add(n)
                    sides.setdefault(n, side)
                    todo.append(n)
