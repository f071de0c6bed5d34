"""The error families every part of chainproof raises.

`VerificationError` means untrusted input was checked and rejected; `StoreError` and `UsageError`
mean the tool could not do its job. Every error carries a one-line message meant for a person.
Errors carry no exit codes or status codes: each front end maps the families to its own (the CLI
in `cli/app.py`: 1 for a `VerificationError`, 2 for any other), so a new front end (a server)
needs no change here, and a library caller never sees a process's concerns.
"""

from __future__ import annotations


class ChainproofError(Exception):
    """Base of every error chainproof raises on purpose."""


class UsageError(ChainproofError):
    """The request itself is wrong: an argument out of range, a missing file, a bad option."""


class StoreError(ChainproofError):
    """The store is missing, foreign, corrupt, locked, or could not be written."""


class VerificationError(ChainproofError):
    """Untrusted input failed a check: a signature, a proof, a format, a policy."""


class FormatError(VerificationError):
    """Input is not well-formed for the format it claims (JSON, DSSE, in-toto, note, export)."""
