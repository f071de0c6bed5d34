"""How rules plug into a scan: a rule looks at a `ScanContext` and yields findings."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from chainproof.deps.files import FileTree
from chainproof.deps.model import Distribution, Finding
from chainproof.deps.watch import Watch, unwatched


class FileRole(enum.Enum):
    """Where a file sits decides how much its code matters (and the severity of what it does)."""

    STARTUP_HOOK = "startup-hook"
    """Runs at every interpreter start: `*.pth`, `sitecustomize.py`, `usercustomize.py`, `*.start`."""
    INSTALL_SCRIPT = "install-script"
    """Runs when the package is built or installed: `setup.py` (and build hooks) in an sdist."""
    MODULE = "module"
    """Importable package code."""
    TEST = "test"
    """Code that runs only when someone runs it: tests (`tests/`, `test_*.py`, `*_test.py`,
    `conftest.py`), demos, examples, and an sdist's benchmarks and scripts no import can name."""
    OTHER = "other"


@dataclass(frozen=True)
class ScanContext:
    tree: FileTree
    distributions: tuple[Distribution, ...]
    owners: Mapping[str, Distribution]
    """The distribution that owns each path (from RECORD, installed-files.txt, or the archive)."""
    watch: Watch = unwatched
    """Shown the files a rule works through one by one, when it is the long part of a scan."""


class Rule(Protocol):
    def __call__(self, ctx: ScanContext) -> Iterable[Finding]: ...
