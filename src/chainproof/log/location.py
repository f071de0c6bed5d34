"""Where a log lives: a store directory (SQLite), or a PostgreSQL database.

A PostgreSQL location is a libpq URL, with the log's name in its fragment (one database holds
several logs): `postgresql://user@host:5432/custody#lab` (default name `default`). Its keys (the
checkpoint signer's and, unless kept elsewhere, the admin's) and its derived indexes (the leaf
index lives in the database; the lineage index and a server's replay store are local files) are
kept in a local directory of its own, `$CHAINPROOF_HOME/stores/<host>-<database>-<name>/`: one
per host that uses the log, each rebuilt from the log when missing.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from pathlib import Path

from chainproof._internal import config
from chainproof.errors import UsageError

_SCHEMES = ("postgresql://", "postgres://")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(_SCHEMES)


def postgres_parts(location: str) -> tuple[str, str]:
    """The connection URL (without the fragment) and the log's name."""
    url, _, name = location.partition("#")
    name = name or "default"
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"a log's name (after '#') is 1 to 64 letters, digits, '.', '_' or '-', not {name!r}"
        )
    return url, name


def local_directory(location: str) -> Path:
    """The local directory of a PostgreSQL log: its keys and derived indexes on this host."""
    url, name = postgres_parts(location)
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "local"
    database = parts.path.lstrip("/") or "postgres"
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{host}-{parts.port or 5432}-{database}-{name}")[:80]
    # The same host and database reached as another user is the same log: the user is left out.
    digest = hashlib.sha256(f"{host}:{parts.port}/{database}#{name}".encode()).hexdigest()[:8]
    return config.home() / "stores" / f"{readable}-{digest}"


def describe(location: str | Path) -> str:
    """The location as messages show it: a PostgreSQL URL without its password."""
    if not is_postgres(location):
        return str(location)
    url, name = postgres_parts(str(location))
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")) + f"#{name}"
