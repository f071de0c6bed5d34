"""Choices shared by the dependency-guard commands (`deps scan|gate|diff`, `pip install`)."""

from __future__ import annotations

import enum


class Level(enum.StrEnum):
    """A severity as `--fail-on` takes it."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ReportFormat(enum.StrEnum):
    """`--format` of the commands that report in a table or JSON only."""

    TABLE = "table"
    JSON = "json"
