"""Group commit: the appends of concurrent requests written in one transaction, one checkpoint.

Every append request hands its envelopes to the one committer thread of its server process and
waits. The thread takes whatever has queued since its last commit (up to `batch_entries`
entries), appends it all at once, and answers each request with its own entries and the common
checkpoint: thirty-two clients pay for one transaction and one checkpoint signature, not
thirty-two. When a batch is refused (one bad envelope refuses them all), each request is appended
again on its own, so that only the request at fault is refused, with its own error.

The thread also appends the denied requests waiting (`denials`), signed by the server's key.
Stopping it finishes every append already queued: a server shut down gracefully loses none it
accepted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chainproof.attest import signing
from chainproof.errors import ChainproofError
from chainproof.log.service import AppendResult

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chainproof.attest import dsse
    from chainproof.log.service import TransparencyLog
    from chainproof.server.denials import Denials

_log = logging.getLogger("chainproof.server")
_IDLE = 0.25  # seconds between looks at the denials waiting, when no append arrives


@dataclass
class _Request:
    envelopes: Sequence[dsse.Envelope]
    labels: Sequence[str]
    answer: Future[AppendResult] = field(default_factory=Future)


_STOP = object()


class Committer:
    def __init__(
        self,
        log: TransparencyLog,
        denials: Denials,
        server_key: Ed25519PrivateKey,
        *,
        batch_entries: int = 1024,
        on_commit: Callable[[int, int], None] | None = None,
    ) -> None:
        """`log` is the committer's own, used by no other thread; `on_commit(entries, requests)` is
        told of each commit (for metrics)."""
        self._log = log
        self._denials = denials
        self._key = server_key
        self._batch_entries = batch_entries
        self._on_commit = on_commit
        self._queue: queue.Queue[_Request | object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="chainproof-committer", daemon=True)
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, envelopes: Sequence[dsse.Envelope], labels: Sequence[str] = ()) -> Future[AppendResult]:
        """Queue an append; the future gives its result, or the error that refused it."""
        request = _Request(envelopes, labels)
        if self._stopping.is_set():
            request.answer.set_exception(ChainproofError("the server is shutting down"))
        else:
            self._queue.put(request)
        return request.answer

    def stop(self, timeout: float | None = None) -> None:
        """Append everything queued, then end the thread."""
        self._stopping.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=_IDLE)
            except queue.Empty:
                self._append_denials()
                continue
            batch, stop = self._gather(first)
            if batch:
                self._commit(batch)
            self._append_denials()

    def _gather(self, first: object) -> tuple[list[_Request], bool]:
        """`first` and whatever else is queued, up to the batch size; whether a stop was seen."""
        batch: list[_Request] = []
        entries = 0
        item: object = first
        while True:
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Request)
            batch.append(item)
            entries += len(item.envelopes)
            if entries >= self._batch_entries:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _commit(self, batch: list[_Request]) -> None:
        if len(batch) == 1:
            self._commit_one(batch[0])
            return
        envelopes = [env for r in batch for env in r.envelopes]
        try:
            result = self._log.append(envelopes)
        except ChainproofError:
            for request in batch:  # one of them is at fault: each answers for itself
                self._commit_one(request)
            return
        except Exception as e:  # noqa: BLE001 -- a fault of the server, not of a request: each is told, and it serves on
            _log.exception("a batch of %d appends failed", len(envelopes))
            for request in batch:
                request.answer.set_exception(e)
            return
        start = 0
        for request in batch:
            n = len(request.envelopes)
            mine = AppendResult(result.entries[start : start + n], result.tree_size, result.checkpoint)
            request.answer.set_result(mine)
            start += n
        self._committed(len(envelopes), len(batch))

    def _commit_one(self, request: _Request) -> None:
        try:
            result = self._log.append(request.envelopes, request.labels)
        except Exception as e:  # noqa: BLE001 -- the request's own error, handed to it
            request.answer.set_exception(e)
            return
        request.answer.set_result(result)
        self._committed(len(request.envelopes), 1)

    def _committed(self, entries: int, requests: int) -> None:
        if self._on_commit is not None:
            self._on_commit(entries, requests)

    def _append_denials(self) -> None:
        statements = self._denials.take()
        if not statements:
            return
        envelopes = [signing.sign_statement(st, self._key) for st in statements]
        try:
            self._log.append(envelopes)
        except ChainproofError as e:  # a full disk, say: the refusals were still answered
            _log.warning("%d denied requests could not be appended: %s", len(envelopes), e)
