"""Denied requests as log entries: who asked for what, when, and why they were refused.

Probing a server (unsigned writes, a revoked key, a contractor reaching past its grants) is
itself custody evidence, so every refusal of the access rules is appended to the log the prober
wanted, signed by the server's own key. The entries are bounded: a server takes at most
`Denials.limit` refusals into one batch and counts the rest in the next entry it writes, so a
flood of bad requests costs the log one entry per batch, not one per request.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from chainproof.attest import jcs
from chainproof.attest.statement import Statement, Subject

DENIED = "https://chainproof.dev/server/denied-request/v1"


@dataclass(frozen=True)
class Denial:
    keyid: str
    """The key that signed the request, empty for an unsigned one (or one whose signature failed)."""
    actor: str
    method: str
    path: str
    status: int
    code: str
    reason: str
    time: str
    client: str


def statement(denial: Denial, more: int = 0) -> Statement:
    """The in-toto statement of one denial; `more` counts the refusals dropped before it. Its
    subject is the request, named by method and path and identified by the digest of the record."""
    predicate: dict[str, object] = {
        "keyid": denial.keyid,
        "actor": denial.actor,
        "method": denial.method,
        "path": denial.path,
        "status": denial.status,
        "code": denial.code,
        "reason": denial.reason,
        "time": denial.time,
        "client": denial.client,
    }
    if more:
        predicate["dropped_before"] = more
    digest = hashlib.sha256(jcs.dumps(predicate)).hexdigest()
    return Statement((Subject(f"{denial.method} {denial.path}", {"sha256": digest}),), DENIED, predicate)


class Denials:
    """Refusals waiting to be appended, at most `limit` of them; the rest are only counted."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._pending: list[Denial] = []
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, denial: Denial) -> None:
        with self._lock:
            if len(self._pending) < self.limit:
                self._pending.append(denial)
            else:
                self._dropped += 1

    def take(self) -> list[Statement]:
        """The statements of the refusals waiting, emptied; the first counts those dropped."""
        with self._lock:
            pending, dropped = self._pending, self._dropped
            self._pending, self._dropped = [], 0
        return [statement(d, dropped if i == 0 else 0) for i, d in enumerate(pending)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)
