"""An artifact's lineage as OpenLineage run events (JSON Lines), built with openlineage-python's
own models, so that Marquez and other lineage tools can show it.

Each hop is one run of the job `<hop>` in the namespace of the log's origin, with one terminal event
(`COMPLETE`, or `FAIL` for a run that raised) at the hop's stated time. Its run id is a UUID derived
from the origin and the log index, so the same entry always exports as the same run. Datasets are
named by digest in the same namespace. A `chainproof` run facet carries the log index and the actor,
so that every event can be traced back to the signed record it came from.

openlineage-python is the optional extra `openlineage` (`pip install 'chainproof[openlineage]'`).
"""

from __future__ import annotations

import uuid
from typing import Any

from chainproof import __version__
from chainproof.errors import UsageError
from chainproof.lineage.graph import Edge, LineageGraph

PRODUCER = f"https://chainproof.dev/chainproof/{__version__}"
FACET_SCHEMA = "https://chainproof.dev/spec/openlineage/ChainproofRunFacet/1-0-0.json"
_EPOCH = "1970-01-01T00:00:00Z"


def run_id(origin: str, index: int) -> str:
    """The run id of the hop at `index` of the log `origin`: stable across exports."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://chainproof.dev/run/{origin}/{index}"))


def events(graph: LineageGraph, origin: str) -> list[Any]:
    """One `RunEvent` per hop of the graph, in log order."""
    # Imported here: the extra is optional, and only this export needs it.
    try:
        import attr  # noqa: PLC0415
        from openlineage.client.event_v2 import (  # noqa: PLC0415
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import RunFacet  # noqa: PLC0415
    except ImportError:
        raise UsageError(
            "the OpenLineage export needs openlineage-python: pip install 'chainproof[openlineage]'"
        ) from None

    @attr.define
    class ChainproofRunFacet(RunFacet):
        """Where the run is recorded: the log, the entry, the actor who signed it."""

        log: str
        index: int
        hop: str
        actor: str | None = None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    def one(edge: Edge) -> Any:
        facet = ChainproofRunFacet(
            log=origin, index=edge.index, hop=edge.hop.value, actor=edge.actor, producer=PRODUCER
        )
        return RunEvent(
            eventTime=edge.time or _EPOCH,
            producer=PRODUCER,
            eventType=RunState.COMPLETE if edge.succeeded else RunState.FAIL,
            run=Run(runId=run_id(origin, edge.index), facets={"chainproof": facet}),
            job=Job(namespace=origin, name=edge.hop.value),
            inputs=[InputDataset(namespace=origin, name=d) for d in edge.inputs],
            outputs=[OutputDataset(namespace=origin, name=d) for d in edge.outputs],
        )

    return [one(e) for e in graph.edges]


def events_jsonl(graph: LineageGraph, origin: str) -> str:
    """The events as JSON Lines, one event a line, as openlineage-python serialises them."""
    from openlineage.client.serde import Serde  # noqa: PLC0415 - the optional extra, as above

    return "".join(Serde.to_json(e) + "\n" for e in events(graph, origin))
