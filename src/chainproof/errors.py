"""The error families every part of chainproof raises.

`VerificationError` means untrusted input was checked and rejected (exit code 1);
`StoreError` and `UsageError` mean the tool could not do its job (exit code 2). Every error
carries a one-line message meant for a person; the CLI prints it without a traceback.
"""

from __future__ import annotations


class ChainproofError(Exception):
    """Base of every error chainproof raises on purpose."""

    exit_code = 2


class UsageError(ChainproofError):
    """The request itself is wrong: an argument out of range, a missing file, a bad option."""


class StoreError(ChainproofError):
    """The store is missing, foreign, corrupt, locked, or could not be written."""


class VerificationError(ChainproofError):
    """Untrusted input failed a check: a signature, a proof, a format, a policy."""

    exit_code = 1


class FormatError(VerificationError):
    """Input is not well-formed for the format it claims (JSON, DSSE, in-toto, note, export)."""
