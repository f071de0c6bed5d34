"""Exit codes are the CLI's: library errors carry none, and `cli/app.py` maps their families."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import chainproof
from chainproof.cli.app import exit_code
from chainproof.deps.advisories.db import FetchError
from chainproof.deps.index import IndexUnavailable, IntegrityError
from chainproof.errors import ChainproofError, FormatError, StoreError, UsageError, VerificationError
from chainproof.log.binding import CheckpointMismatch, MissingVerifier
from chainproof.log.note import NoteError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (VerificationError("x"), 1),
        (FormatError("x"), 1),
        (NoteError("x"), 1),
        (CheckpointMismatch("x"), 1),
        (IntegrityError("x"), 1),  # a download that is not what the index announced: rejected input
        (UsageError("x"), 2),
        (MissingVerifier("x"), 2),
        (StoreError("x"), 2),
        (FetchError("x"), 2),
        (IndexUnavailable("x"), 2),
        (ChainproofError("x"), 2),
    ],
)
def test_each_family_maps_to_its_exit_code(error: ChainproofError, code: int) -> None:
    assert exit_code(error) == code


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_no_library_error_carries_an_exit_code() -> None:
    """An `exit_code` on an error class would be silently ignored by the CLI's mapping (and would
    tie the library to one front end): every module is imported, and no error may define one."""
    for module in pkgutil.walk_packages(chainproof.__path__, "chainproof."):
        if module.name.endswith("__main__"):  # runs the CLI when imported
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as e:  # an optional extra this build lacks
            if not (e.name or "").startswith(("openlineage", "attr")):
                raise
    errors = _subclasses(ChainproofError) | {ChainproofError}
    assert len(errors) > 10
    carrying = sorted(f"{c.__module__}.{c.__qualname__}" for c in errors if "exit_code" in vars(c))
    assert carrying == []
