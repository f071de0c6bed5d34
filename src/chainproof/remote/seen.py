"""The last checkpoint a client saw of each server, kept in `$CHAINPROOF_HOME/servers/`.

A client that remembers what a log showed it can tell when the log is rewritten: every later
checkpoint must extend the one remembered (a consistency proof between the two), or the client
refuses it. The file also pins the log's checkpoint verifier key on first contact, as SSH pins a
host key: a server that later shows another key is refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chainproof._internal import config
from chainproof.errors import StoreError


@dataclass(frozen=True)
class Seen:
    vkey: str
    size: int
    root: bytes
    note: str


def server_name(url: str) -> str:
    """A name per server for what a client keeps of it: readable, and distinct for distinct URLs."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", url.split("://", 1)[-1])[:60]
    return f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


class SeenStore:
    def __init__(self, url: str, home: Path | None = None) -> None:
        self.path = (home or config.home()) / "servers" / f"{server_name(url)}.json"

    def load(self) -> Seen | None:
        try:
            raw = json.loads(self.path.read_text())
            return Seen(raw["vkey"], int(raw["size"]), bytes.fromhex(raw["root"]), raw["note"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(
                f"{self.path}: cannot read the checkpoint remembered for this server ({e})"
            ) from None

    def save(self, seen: Seen) -> None:
        """Remember `seen` unless a larger checkpoint was remembered meanwhile (by another run)."""
        with self._locked():
            current = self.load()
            if current is not None and current.size > seen.size:
                return
            record = {"vkey": seen.vkey, "size": seen.size, "root": seen.root.hex(), "note": seen.note}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record, indent=1) + "\n")
            tmp.replace(self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as e:
            raise StoreError(
                f"cannot keep the server's checkpoint in {self.path.parent}: {e.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
