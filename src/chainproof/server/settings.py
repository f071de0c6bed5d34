"""A server's settings: what `chainproof serve` is given, in one value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BODY = 16 << 20
"""The largest request body taken (413 beyond): two default-sized entries' worth of envelopes."""


@dataclass(frozen=True)
class ServerSettings:
    """`store` is the store directory or a PostgreSQL log's URL (`postgresql://…#name`); `key` the
    file of the server's own registered key, which signs the entries that record denied requests
    (default: `server.pem` in the store's directory, created and registered with the store's admin
    key on first start when absent)."""

    store: Path | str
    key: Path | None = None
    checkpoint_key: Path | None = None
    """The file of the log's checkpoint key, for a host that keeps it elsewhere than in the store's
    directory (a second host serving a PostgreSQL log, a key on a mounted secret)."""
    public_log: bool = True
    """Whether unsigned requests may read the log itself (checkpoints, entries, proofs, keys), as
    anyone may read a public transparency log; custody answers always need a signed request."""
    max_body: int = DEFAULT_MAX_BODY
    rate: float = 200.0
    """Requests a second each actor (or, unsigned, each address) may make on average..."""
    burst: int = 400
    """...and at once."""
    window: int = 300
    """Seconds a request's signature stays acceptable either side of the server's clock."""
    page_limit: int = 1000
    """The most items one page of a listing holds."""
    batch_entries: int = 1024
    """The most entries the committer appends in one transaction (one checkpoint)."""
    body_timeout: float = 30.0
    """Seconds a client may take to send its request body (408 beyond): a slow client holds a
    connection, never a worker."""
    request_timeout: float = 30.0
    """Seconds an append may wait for its commit before the client is told to retry (503)."""
    vault_key: Path | None = None
    """The file of the data vault's master key (`vault keygen`), kept outside the store and its
    blobs; without it the server keeps no datasets (`data push` and `data pull` are refused)."""
    witnesses: tuple[str, ...] = ()
    """The verifier keys (C2SP vkeys) of the witnesses whose cosignatures of this log's
    checkpoints the server accepts, keeps and serves with them."""
