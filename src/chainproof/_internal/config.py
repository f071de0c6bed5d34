"""The settings chainproof takes from its environment, read here and nowhere else in the log.

`CHAINPROOF_MAX_ENTRY_BYTES`: the largest entry (an envelope's canonical bytes, its leaf) a log
accepts, 8 MiB unless set. It bounds what one `log append` holds in memory for one envelope (a
70 MB envelope took 409 MB) and keeps entry bundles, which group entries below 64 KiB, far from
SQLite's limits. It is the writer's limit, not a rule of the log: an audit accepts an entry of
any size, so a log written under a larger limit stays valid.

`CHAINPROOF_JOBS`: how many cores chainproof's parallel work uses (threads signing and verifying a
batch, processes re-hashing an audit or rebuilding the lineage index); every core unless set, and
0 or 1 keeps the work in one thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from chainproof.errors import UsageError

MAX_ENTRY_BYTES_ENV = "CHAINPROOF_MAX_ENTRY_BYTES"
DEFAULT_MAX_ENTRY_BYTES = 8 << 20
_LARGEST = 1_000_000_000  # SQLite's default limit on the size of one value


def max_entry_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The largest entry a log takes: CHAINPROOF_MAX_ENTRY_BYTES, else DEFAULT_MAX_ENTRY_BYTES."""
    raw = environ.get(MAX_ENTRY_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_ENTRY_BYTES
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < _LARGEST):
        raise UsageError(
            f"{MAX_ENTRY_BYTES_ENV} must be a number of bytes from 1 to {_LARGEST - 1:,}, not {raw[:40]!r}"
        )
    return int(raw)


JOBS_ENV = "CHAINPROOF_JOBS"


def jobs(environ: Mapping[str, str] = os.environ) -> int:
    """The cores to use: CHAINPROOF_JOBS when it is a number (0 counts as 1), else every core."""
    raw = environ.get(JOBS_ENV, "").strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 4:
        return max(1, int(raw))
    return os.cpu_count() or 1


HOME_ENV = "CHAINPROOF_HOME"


def home(environ: Mapping[str, str] = os.environ) -> Path:
    """Where chainproof keeps what it remembers between runs (the advisory database, the last
    checkpoint seen of each server): CHAINPROOF_HOME, else ~/.cache/chainproof."""
    raw = environ.get(HOME_ENV)
    return Path(raw) if raw else Path.home() / ".cache" / "chainproof"


KEY_ENV = "CHAINPROOF_KEY"
"""The actor key that signs requests to a remote store, when `--key` is not given."""
