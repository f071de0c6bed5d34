"""A verified local copy of a server's log, for the custody commands on a remote store.

`lineage`, `verify`, `impact`, `actor list` and `grant list` answer from a lineage index, and a
client that trusts no server builds its own: it copies the log's entries into a local SQLite
store (`$CHAINPROOF_HOME/mirrors/<server>/`), admits each one as the log would (signatures,
schemas, the key registry), and keeps them only when the tree they make has the root of a
checkpoint it has checked (signature, and consistency with the last one it saw). The custody
library then runs on that copy as on any store; what it appends goes to the server
(`MirroredLog.append`), and comes back into the copy with the next entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainproof._internal import config
from chainproof.attest import dsse
from chainproof.errors import ChainproofError, VerificationError
from chainproof.log import entries, merkle
from chainproof.log.service import DB_FILE, AppendResult, TransparencyLog, default_rules, root_at
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import KeyRecord, LogWriter, append_leaves
from chainproof.remote.log import RemoteLog
from chainproof.remote.seen import server_name

if TYPE_CHECKING:
    from chainproof.log.note import Checkpoint

_PAGE = 1000
Progress = Callable[[int, int], None]


def mirror_directory(url: str) -> Path:
    return config.home() / "mirrors" / server_name(url)


class MirroredLog(TransparencyLog):
    """The local copy of a server's log: reads are local, appends go to the server."""

    def __init__(self, remote: RemoteLog, directory: Path, store: SqliteStore) -> None:
        super().__init__(directory, store)
        self.remote = remote

    def append(
        self, envelopes: Sequence[dsse.Envelope], labels: Sequence[str] = (), **_: Any
    ) -> AppendResult:
        """Append through the server (every entry proved included on the way back), then bring
        the copy up to date. A `meanwhile` is not called: the lineage index reads the new entries
        from the copy, as it reads any store's."""
        result = self.remote.append(list(envelopes), labels)
        sync(self.remote, self)
        return result

    def close(self) -> None:
        super().close()
        self.remote.close()


def open_mirror(remote: RemoteLog, progress: Progress | None = None) -> MirroredLog:
    """The local copy of `remote`'s log, brought up to its latest checked checkpoint."""
    directory = mirror_directory(remote.client.url)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = directory / DB_FILE
    log = MirroredLog(remote, directory, SqliteStore(db, create=not db.exists()))
    try:
        sync(remote, log, progress)
    except BaseException:
        log.close()
        raise
    return log


def sync(remote: RemoteLog, log: TransparencyLog, progress: Progress | None = None) -> int:
    """Copy the entries the copy lacks, admitted and checked against the server's latest checkpoint
    (all or none); return the copy's size."""
    note = remote.checkpoint()
    head = remote.checked_head()
    with log.store.writer() as w:
        have = w.size()
        if have > head.size:
            raise VerificationError(
                f"{remote.client.url}: the log has {head.size} entries, fewer than the {have} copied before"
            )
        if have == head.size:
            return have
        if have == 0:
            w.set_meta("origin", head.origin)
            w.set_meta("checkpoint_vkey", remote.vkey)
        _copy(remote, w, have, head, progress)
        w.add_checkpoint(head.size, note)
    return head.size


def _copy(remote: RemoteLog, w: LogWriter, start: int, head: Checkpoint, progress: Progress | None) -> None:
    known: dict[str, KeyRecord | None] = {}

    def lookup(keyid: str) -> KeyRecord | None:
        if keyid not in known:
            known[keyid] = w.key(keyid)
        return known[keyid]

    rules = default_rules()
    done = start
    while done < head.size:
        leaves = remote.leaves(done, min(_PAGE, head.size - done))
        if not leaves or done + len(leaves) > head.size:
            raise VerificationError(
                f"{remote.client.url}: asked for entries from {done}, it sent {len(leaves)}"
            )
        for offset, leaf in enumerate(leaves):
            index = done + offset
            try:
                admitted = entries.admit(dsse.parse(leaf), index, lookup, rules=rules)
            except ChainproofError as e:
                raise VerificationError(
                    f"{remote.client.url}: entry {index} would not be admitted: {e}"
                ) from None
            change = admitted.key_change
            if change is not None:
                known[change.keyid] = change
                w.put_key(change)
                if index == 0:
                    w.set_meta("admin_keyid", change.keyid)
        append_leaves(w, leaves, merkle.leaf_hashes(leaves), size=done)
        done += len(leaves)
        if progress is not None:
            progress(done, head.size)
    if root_at(w, head.size) != head.root:
        raise VerificationError(
            f"{remote.client.url}: the entries the server sent are not those of its checkpoint at size "
            f"{head.size} (nothing was kept)"
        )
