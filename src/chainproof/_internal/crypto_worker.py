"""Batches of Ed25519 signing and verification in a process of their own, beside a busy caller.

libsodium releases the GIL, so a thread can sign or verify while the calling thread works; but
between two calls the thread needs the GIL back, and it waits for the busy thread to give it up
(every 5 ms by default). Measured here: a helper thread verified 7 signatures of 1,000 while the
caller ran 45 ms of Python, against 750 it could have. A forked process has a GIL of its own and
does the whole batch while the caller goes on: a recorder writes the next statements while the
last are signed, and a log's writer admits a batch while its signatures are verified.

One process serves the whole program. It is forked on the first large batch and kept; it runs
nothing but this module's loop, so the locks other threads held at the fork do not matter to it.
Batches go to it through one pipe and their answers come back through another, in the order
they were sent, written by a thread of the process's own so that it keeps reading batches while
an answer waits to be read. A batch to sign carries libsodium's secret key: the process is a fork
of this one, holding the same memory, and the pipe is private to the two. Whatever goes wrong
with the process (no fork on this platform, a process killed, a broken pipe, a read cut short),
the batches it owes are done in the calling process, and it is not used again.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

import nacl.bindings
import nacl.exceptions

from chainproof._internal.config import jobs
from chainproof._internal.threads import map_released

R = TypeVar("R")

Check = tuple[bytes, bytes, bytes]
"""(raw public key, signature, message)."""

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
MIN_BATCH = 128
"""Smaller batches stay on threads: a batch costs a fraction of a millisecond to send, and a
small one leaves its caller little work of its own to do meanwhile."""
_PIPE_BYTES = 1 << 20
"""A batch of a thousand training records is about 2 MB: in a pipe of 64 KiB (Linux's default)
it goes over in thirty-odd turns of both processes, in one of 1 MiB (the most an unprivileged
process may ask for) in two."""
_SIGN, _VERIFY = "sign", "verify"


def verify_one(check: Check) -> bool:
    """Whether the signature is the key's over the message, by libsodium, which rejects
    non-canonical signatures and small-order keys that some other verifiers accept."""
    raw, signature, message = check
    if len(raw) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, raw)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True


def sign_one(secret: bytes, message: bytes) -> bytes:
    """The Ed25519 signature of `message` under libsodium's 64-byte `secret` key."""
    signed: bytes = nacl.bindings.crypto_sign(message, secret)
    return signed[:SIGNATURE_SIZE]


def available(size: int) -> bool:
    """Whether a batch of `size` goes to the process: large enough, more than one core to use,
    and fork to start the process with."""
    return (
        size >= MIN_BATCH
        and not _state.broken
        and jobs() > 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def start_verify(checks: Sequence[Check]) -> Pending[list[bool]]:
    """Verify `checks` in the process; `result()` gives one bool per check, in order."""

    def read(answer: bytes) -> list[bool] | None:
        return [b == 1 for b in answer] if len(answer) == len(checks) else None

    return Pending((_VERIFY, list(checks)), read, lambda: map_released(verify_one, checks))


def start_sign(secret: bytes, messages: Sequence[bytes]) -> Pending[list[bytes]]:
    """Sign `messages` in the process; `result()` gives their signatures, in order."""

    def read(answer: bytes) -> list[bytes] | None:
        if len(answer) != SIGNATURE_SIZE * len(messages):
            return None
        return [answer[at : at + SIGNATURE_SIZE] for at in range(0, len(answer), SIGNATURE_SIZE)]

    return Pending(
        (_SIGN, (secret, list(messages))), read, lambda: map_released(lambda m: sign_one(secret, m), messages)
    )


class Pending(Generic[R]):
    """A batch sent to the process. `result` gives what it answered, as `read` makes it, or what
    `here` works out in this process when the process failed it."""

    def __init__(
        self, request: tuple[str, object], read: Callable[[bytes], R | None], here: Callable[[], R]
    ) -> None:
        self._read, self._here = read, here
        self._answer: bytes | None = None
        self._result: R | None = None
        self._worker: _Worker | None = None
        with _state.lock:
            if _state.broken:
                return
            try:
                worker = _started()
                worker.send.send(request)
            except (OSError, ValueError):
                _give_up()
                return
            except BaseException:  # interrupted half way through: the pipe is not to be trusted
                _give_up()
                raise
            worker.waiting.append(self)
            self._worker = worker

    def result(self) -> R:
        if self._result is None:
            if self._answer is None and self._worker is not None:
                with _state.lock:
                    _receive_until(self._worker, self)
            read = self._read(self._answer) if self._answer is not None else None
            self._result = read if read is not None else self._here()
        return self._result


class _Worker:
    """The process, this end of its two pipes, and the batches it has yet to answer."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        requests, self.send = context.Pipe(duplex=False)
        self.receive, answers = context.Pipe(duplex=False)
        _widen(self.send)
        self.process: BaseProcess = context.Process(
            target=_serve, args=(requests, answers), daemon=True, name="chainproof-ed25519"
        )
        self.process.start()
        requests.close()
        answers.close()
        self.pid = os.getpid()
        self.waiting: deque[Pending[Any]] = deque()


def _widen(pipe: Connection) -> None:
    """Ask for a pipe of `_PIPE_BYTES`. A smaller limit, or a system without F_SETPIPE_SZ (or
    without fcntl: the process needs fork, and so a POSIX system, but this module is imported
    everywhere): slower, no worse."""
    with suppress(ImportError, OSError, AttributeError):
        import fcntl  # noqa: PLC0415 (POSIX only)

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


class _State:
    """The process this program works with, if started, and whether it may be used."""

    def __init__(self) -> None:
        self.worker: _Worker | None = None
        self.broken = False
        self.lock = threading.Lock()


_state = _State()


def _receive_until(worker: _Worker, pending: Pending[R]) -> None:
    """Take the process's answers, in order, up to `pending`'s: an earlier batch may not have
    asked for its own yet (a writer that found nothing new to append does not)."""
    while pending._answer is None and worker.waiting and worker is _state.worker:
        try:
            answer = worker.receive.recv_bytes()
        except (OSError, EOFError):
            _give_up()
            return
        except BaseException:  # interrupted (Ctrl-C) half way through an answer: the next one
            _give_up()  # read would start inside it, so no answer is read from this pipe again
            raise
        worker.waiting.popleft()._answer = answer


def _started() -> _Worker:
    worker = _state.worker
    if worker is None or worker.pid != os.getpid():  # none yet, or the parent's, before a fork
        worker = _state.worker = _Worker()
    return worker


def _give_up() -> None:
    """Stop using the process: the batches it owes are done by their callers."""
    worker, _state.worker, _state.broken = _state.worker, None, True
    if worker is not None and worker.pid == os.getpid():
        worker.process.kill()


def _serve(requests: Connection, answers: Connection) -> None:
    """The process's loop: a batch in, its answer out, until the parent is gone.

    Answers are written by a thread of their own: a parent that sends many batches before it
    reads any answer would otherwise fill both pipes, each side waiting for the other."""
    gc.freeze()  # the parent's objects stay as they are: no collection walks them, or copies them
    _let_go(requests.fileno(), answers.fileno())
    out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    threading.Thread(target=_answer, args=(out, answers), daemon=True).start()
    while True:
        try:
            kind, body = requests.recv()
        except (EOFError, OSError):
            return
        if kind == _SIGN:
            secret, messages = body
            out.put(b"".join(sign_one(secret, m) for m in messages))
        else:
            out.put(bytes(verify_one(c) for c in body))


def _answer(out: queue.SimpleQueue[bytes], answers: Connection) -> None:
    while True:
        try:
            answers.send_bytes(out.get())
        except OSError:
            return


def _let_go(*keep: int) -> None:
    """Close every descriptor inherited from the parent but `keep`: its database files, and the
    write ends of pipes that a reader would otherwise see open until this process ends (its
    standard output and error go to /dev/null)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    lowest = 3
    for fd in sorted(keep):
        os.closerange(lowest, fd)
        lowest = fd + 1
    os.closerange(lowest, os.sysconf("SC_OPEN_MAX"))
