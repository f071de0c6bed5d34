"""The hops of the AI supply chain that a custody record can state, as typed values."""

from __future__ import annotations

import enum


class Hop(enum.StrEnum):
    """One step from raw data to a released model; `access` records a read under a grant."""

    INGEST = "ingest"
    ANNOTATE = "annotate"
    TRANSFORM = "transform"
    TRAIN = "train"
    EVALUATE = "evaluate"
    RELEASE = "release"
    ACCESS = "access"

    @classmethod
    def names(cls) -> str:
        return ", ".join(h.value for h in cls)
