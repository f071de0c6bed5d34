"""The settings chainproof takes from its environment: `Settings`, read here and nowhere else.

Each setting is read when it is asked for, from the environment as it is then (a test, or a
parent handing its children a setting, changes it between calls), and a malformed value is an
error only for the command that uses it. The module's functions are the settings most code asks
for, from `os.environ`.

`CHAINPROOF_MAX_ENTRY_BYTES`: the largest entry (an envelope's canonical bytes, its leaf) a log
accepts, 8 MiB unless set. It bounds what one `log append` holds in memory for one envelope (a
70 MB envelope took 409 MB) and keeps entry bundles, which group entries below 64 KiB, far from
SQLite's limits. It is the writer's limit, not a rule of the log: an audit accepts an entry of
any size, so a log written under a larger limit stays valid.

`CHAINPROOF_JOBS`: how many cores chainproof's parallel work uses (threads signing and verifying a
batch, processes re-hashing an audit or rebuilding the lineage index); every core unless set, and
0 or 1 keeps the work in one thread.

`CHAINPROOF_HOME`: what chainproof remembers between runs (the advisory database, the last
checkpoint seen of each server, the local directories of PostgreSQL logs); ~/.cache/chainproof.

`CHAINPROOF_STORE`, `CHAINPROOF_KEY`, `CHAINPROOF_KEY_PASSPHRASE`, `CHAINPROOF_QUIET`: the global
`--store` and `--key`, the passphrase of that key's file, and `--quiet`.

`CHAINPROOF_OFFLINE`, `CHAINPROOF_PYPI_JSON_URL`, `PIP_INDEX_URL`: whether a scan may ask PyPI, the
JSON API it asks, and the package index the gate reads (pip's own setting).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chainproof.errors import UsageError

MAX_ENTRY_BYTES_ENV = "CHAINPROOF_MAX_ENTRY_BYTES"
DEFAULT_MAX_ENTRY_BYTES = 8 << 20
_LARGEST = 1_000_000_000  # SQLite's default limit on the size of one value
JOBS_ENV = "CHAINPROOF_JOBS"
HOME_ENV = "CHAINPROOF_HOME"
STORE_ENV = "CHAINPROOF_STORE"
KEY_ENV = "CHAINPROOF_KEY"
"""The actor key that signs requests to a remote store, when `--key` is not given."""
KEY_PASSPHRASE_ENV = "CHAINPROOF_KEY_PASSPHRASE"  # noqa: S105 -- the variable's name, not a secret
QUIET_ENV = "CHAINPROOF_QUIET"
OFFLINE_ENV = "CHAINPROOF_OFFLINE"
PYPI_JSON_ENV = "CHAINPROOF_PYPI_JSON_URL"
PYPI_JSON = "https://pypi.org/pypi"
PIP_INDEX_ENV = "PIP_INDEX_URL"
PYPI_SIMPLE = "https://pypi.org/simple/"

_NO = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """chainproof's settings from `environ` (default: this process's environment)."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def _get(self, name: str) -> str:
        return self.environ.get(name, "").strip()

    @property
    def max_entry_bytes(self) -> int:
        """The largest entry a log takes: CHAINPROOF_MAX_ENTRY_BYTES, else DEFAULT_MAX_ENTRY_BYTES."""
        raw = self._get(MAX_ENTRY_BYTES_ENV)
        if not raw:
            return DEFAULT_MAX_ENTRY_BYTES
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < _LARGEST):
            raise UsageError(
                f"{MAX_ENTRY_BYTES_ENV} must be a number of bytes from 1 to {_LARGEST - 1:,}, "
                f"not {raw[:40]!r}"
            )
        return int(raw)

    @property
    def jobs(self) -> int:
        """The cores to use: CHAINPROOF_JOBS when it is a number (0 counts as 1), else every core."""
        raw = self._get(JOBS_ENV)
        if raw.isascii() and raw.isdigit() and len(raw) <= 4:
            return max(1, int(raw))
        return os.cpu_count() or 1

    @property
    def home(self) -> Path:
        raw = self.environ.get(HOME_ENV)
        return Path(raw) if raw else Path.home() / ".cache" / "chainproof"

    @property
    def store(self) -> str:
        return self.environ.get(STORE_ENV) or ".chainproof"

    @property
    def key_passphrase(self) -> bytes | None:
        raw = self.environ.get(KEY_PASSPHRASE_ENV)
        return raw.encode() if raw else None

    @property
    def quiet(self) -> bool:
        return self._get(QUIET_ENV).lower() not in _NO

    @property
    def offline(self) -> bool:
        return self._get(OFFLINE_ENV).lower() not in _NO

    @property
    def pypi_json(self) -> str:
        return (self.environ.get(PYPI_JSON_ENV) or PYPI_JSON).rstrip("/")

    @property
    def pip_index(self) -> str:
        return self.environ.get(PIP_INDEX_ENV) or PYPI_SIMPLE


def max_entry_bytes(environ: Mapping[str, str] = os.environ) -> int:
    return Settings(environ).max_entry_bytes


def jobs(environ: Mapping[str, str] = os.environ) -> int:
    return Settings(environ).jobs


def home(environ: Mapping[str, str] = os.environ) -> Path:
    return Settings(environ).home
