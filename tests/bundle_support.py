"""Tampering with a SQLite store's entries as an attacker with the file would: one entry's bytes
changed in its bundle, the tree and its checkpoints left as they were."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chainproof.log import bundles


def change_entry(db: Path, index: int) -> None:
    """Change one byte's worth of entry `index` (a signature's keyid) in the store at `db`."""
    k, position = divmod(index, bundles.WIDTH)
    with sqlite3.connect(db) as conn:
        width, ends, body, outside = conn.execute(
            "SELECT width, ends, body, outside FROM entry_bundles WHERE idx = ?", (k,)
        ).fetchone()
        leaves = bundles.decode(bundles.Bundle(ends, body, outside), width)
        leaves[position] = (leaves[position] or b"").replace(b'"keyid":"', b'"keyid":"0', 1)
        conn.execute(
            "UPDATE entry_bundles SET ends = ?, body = ?, outside = ? WHERE idx = ?",
            (*bundles.encode(leaves), k),
        )
