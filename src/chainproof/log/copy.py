"""Moving a log between stores (SQLite, PostgreSQL, memory), byte for byte, then auditing it.

Everything a log is travels: its entries, every checkpoint it issued (with their signatures, so
that the copy audits against the same verifier key), its key registry index and its settings.
The tiles are computed again from the entries by the log core, so a store that kept damaged
tiles hands on none of its damage: the audit of the copy finds what the entries say.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from chainproof.errors import UsageError
from chainproof.log import merkle
from chainproof.log.store import LogStore, append_leaves

_SETTINGS = ("origin", "checkpoint_vkey", "admin_keyid")
_KEY_FILES = ("log-signer.pem", "admin.pem", "policy.toml")

Progress = Callable[[int, int], None]


def copy_log(source: LogStore, target: LogStore, *, progress: Progress | None = None) -> int:
    """Copy the log in `source` into the empty `target`, in one write transaction (all or
    nothing); return its size. `progress(done, total)` follows the entries."""
    with source.reader() as r, target.writer() as w:
        if w.size() or w.meta("origin") is not None:
            raise UsageError("the destination already holds a log (nothing was written)")
        size = r.size()
        for name in _SETTINGS:
            value = r.meta(name)
            if value is not None:
                w.set_meta(name, value)
        done = 0
        for chunk in r.entry_chunks(0, size):
            append_leaves(w, chunk, merkle.leaf_hashes(chunk), size=done)
            done += len(chunk)
            if progress is not None:
                progress(done, size)
        for record in r.keys():  # noqa: SIM118 -- a store, not a dict
            w.put_key(record)
        for at, note in r.checkpoints():
            w.add_checkpoint(at, note)
    return size


def copy_key_files(source: Path, target: Path) -> list[str]:
    """The store's keys and policy, copied beside the new store when it has none of its own."""
    copied = []
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in _KEY_FILES:
        src, dst = source / name, target / name
        if src.is_file() and not dst.exists() and src.resolve() != dst.resolve():
            shutil.copy2(src, dst)
            copied.append(name)
    return copied
