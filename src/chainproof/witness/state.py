"""What a witness keeps in its state directory: the logs it witnesses (origin -> the log's pinned
verifier key) and, for each, the latest checkpoint it cosigned.

Each file is written whole or not at all (a temporary file, synced, renamed over the old one),
and every check-then-write of a log's checkpoint runs under an exclusive lock on that log's lock
file, held across processes (`fcntl.flock`) and threads: two submissions racing can never both
pass the check against the same old size, so a witness never rolls its own record back
(tlog-witness requires the check and the write to be one atomic step).

Layout: `logs.json` (`{"logs": {origin: vkey}}`), `checkpoints/<id>.json` (`{"origin", "size",
"root" (base64), "note"}`, the note as cosigned), `checkpoints/<id>.lock`, where `<id>` is the
first 16 hex digits of SHA-256(origin).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chainproof._internal.files import write_atomic
from chainproof.errors import StoreError, UsageError


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint a witness cosigned for one log."""

    origin: str
    size: int
    root: bytes
    note: str

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "note": self.note,
        }


def _id(origin: str) -> str:
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()[:16]


class WitnessState:
    """A witness's durable state in `directory` (created on first use, mode 0700)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._threads = threading.Lock()
        try:
            (directory / "checkpoints").mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise UsageError(f"cannot keep the witness's state in {directory}: {e.strerror}") from None

    # -- the logs witnessed -----------------------------------------------------------------

    def logs(self) -> dict[str, str]:
        """origin -> the log's checkpoint verifier key, as pinned."""
        path = self.directory / "logs.json"
        try:
            raw = json.loads(path.read_text())
            logs = raw["logs"]
            if not isinstance(logs, dict):
                raise TypeError("logs is not an object")
            return {str(k): str(v) for k, v in logs.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(f"{path}: cannot read the logs this witness witnesses ({e})") from None

    def pin(self, origin: str, vkey: str) -> None:
        """Remember `vkey` as the key of the log `origin`; UsageError if another is pinned."""
        with self._locked("logs"):
            logs = self.logs()
            known = logs.get(origin)
            if known is not None and known != vkey:
                raise UsageError(
                    f"the witness state {self.directory} pins the key {known} for {origin}, not {vkey}"
                )
            logs[origin] = vkey
            write_atomic(self.directory / "logs.json", (json.dumps({"logs": logs}, indent=1) + "\n").encode())

    # -- the checkpoints cosigned -----------------------------------------------------------

    def latest(self, origin: str) -> Cosigned | None:
        path = self.directory / "checkpoints" / f"{_id(origin)}.json"
        try:
            raw = json.loads(path.read_text())
            found = Cosigned(
                str(raw["origin"]), int(raw["size"]), base64.b64decode(raw["root"]), str(raw["note"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(f"{path}: cannot read the checkpoint this witness cosigned ({e})") from None
        if found.origin != origin or len(found.root) != 32:
            raise StoreError(f"{path}: holds another log's checkpoint or a bad root")
        return found

    @contextmanager
    def updating(self, origin: str) -> Iterator[None]:
        """Hold `origin`'s lock: read `latest`, check, then `save`, with no other writer between."""
        with self._locked(_id(origin)):
            yield

    def save(self, cosigned: Cosigned) -> None:
        """Record `cosigned` (call within `updating`): on disk before the cosignature is given."""
        path = self.directory / "checkpoints" / f"{_id(cosigned.origin)}.json"
        write_atomic(path, (json.dumps(cosigned.to_json(), indent=1) + "\n").encode())

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        path = self.directory / "checkpoints" / f"{name}.lock"
        with self._threads:
            try:
                fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise StoreError(f"cannot lock {path}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)
