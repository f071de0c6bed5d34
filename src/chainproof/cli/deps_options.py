"""Choices shared by the dependency-guard commands (`deps scan|gate|diff`, `pip install`)."""

from __future__ import annotations

import enum
from typing import TypeVar

from chainproof.errors import UsageError


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


F = TypeVar("F", bound=enum.StrEnum)


def chosen_format(fmt: F | None, as_json: bool, default: F) -> F:
    """The format `--format` and `--json` ask for together: `--json` is `--format json`, so the
    two may only agree. `default` is the format when neither is given."""
    if not as_json:
        return default if fmt is None else fmt
    json_format = type(default)("json")
    if fmt is not None and fmt != json_format:
        raise UsageError(f"--json and --format {fmt} ask for different reports; give one of them")
    return json_format
