"""Offline audit of a whole log: every leaf, every signature, every checkpoint.

The auditor is fed a log in order, entry by entry, with each checkpoint right after the entry that
completes its size. It trusts nothing but the checkpoint verifier key (and, optionally, a checkpoint
the auditor saved earlier). It checks that

- each entry is a canonical DSSE envelope admitted by the log's rules at its index (signatures by
  keys registered and not revoked at that index, key changes signed by the admin key);
- each entry's leaf hash equals the one the log claims to have committed to (so a modified,
  deleted, inserted or reordered entry is reported at its index);
- each checkpoint is signed by the verifier key, names the log's origin, and its root equals the
  root recomputed from the entries up to its size;
- the saved checkpoint, if given, has a root equal to the recomputed root at its size.

Memory stays O(log n): the root at any size is folded from a compact range of complete subtrees.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from chainproof.attest import dsse
from chainproof.errors import ChainproofError, VerificationError
from chainproof.log import entries, merkle, tiles
from chainproof.log.entries import KeyRecord
from chainproof.log.export import EntryLine, Event
from chainproof.log.note import Checkpoint, NoteVerifier, verify_checkpoint
from chainproof.log.store import LogReader
from chainproof.log.tiles import Tile, TileId

MAX_PROBLEMS = 1000


class AuditFailed(VerificationError):
    """The audit found at least one problem."""


@dataclass(frozen=True)
class Problem:
    index: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.index is None else f"entry {self.index}: {self.message}"


@dataclass
class AuditReport:
    tree_size: int = 0
    checkpoints: int = 0
    origin: str = ""
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    retroactively_revoked: list[int] = field(default_factory=list)
    registry: dict[str, KeyRecord] = field(default_factory=dict)

    @property
    def keys(self) -> int:
        return len(self.registry)

    def add(self, index: int | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(index, message))

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def check(self) -> None:
        """Raise AuditFailed naming the first problem, when there is one."""
        if not self.ok:
            more = f" (and {self.problem_count - 1} more)" if self.problem_count > 1 else ""
            raise AuditFailed(f"audit failed: {self.problems[0]}{more}")


class CompactRange:
    """The complete subtrees covering [0, size): enough to give the root at every size."""

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self.size = 0

    def append(self, leaf_hash: bytes) -> None:
        h, n = leaf_hash, self.size
        while n & 1:
            h = merkle.node_hash(self._hashes.pop(), h)
            n >>= 1
        self._hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        return merkle.fold_range(self._hashes)


class Auditor:
    def __init__(self, verifier: NoteVerifier, *, saved: Checkpoint | None = None) -> None:
        self.verifier = verifier
        self.saved = saved
        self.report = AuditReport(origin=verifier.name)
        self._range = CompactRange()
        self._keys = self.report.registry
        self._signed: dict[str, array[int]] = {}
        self._last_checkpoint = 0
        self._verified = 0  # the size of the last checkpoint that matched the entries
        self._diverged = 0

    def problem(self, index: int | None, message: str) -> None:
        self.report.add(index, message)

    def entry(self, leaf: bytes, claimed: bytes | None) -> None:
        index = self._range.size
        h = merkle.leaf_hash(leaf)
        if claimed is not None and claimed != h:
            self.problem(
                index,
                "its bytes do not hash to the leaf hash the log committed to "
                "(modified, inserted, deleted or moved)",
            )
        self._range.append(h)
        self._admit(index, leaf)
        if self.saved is not None and self._range.size == self.saved.size:
            self._check_saved(self.saved)

    def _admit(self, index: int, leaf: bytes) -> None:
        try:
            env = dsse.parse(leaf)
            if env.canonical() != leaf:
                self.problem(index, "the envelope is not in the log's canonical form")
            admitted = entries.admit(env, index, self._keys.get)
        except ChainproofError as e:
            self.problem(index, f"not admissible: {e}")
            return
        if index == 0 and admitted.statement.predicate_type != entries.GENESIS:
            self.problem(0, "the first entry is not the log's genesis")
        if index == 0:
            self._check_genesis(admitted)
        for sig in env.signatures:
            self._signed.setdefault(sig.keyid, array("q")).append(index)
        change = admitted.key_change
        if change is not None:
            self._keys[change.keyid] = change
            if change.revoked_at is not None and change.revoked_from is not None:
                signed = self._signed.get(change.keyid, array("q"))
                self.report.retroactively_revoked.extend(
                    i for i in signed if change.revoked_from <= i < change.revoked_at
                )

    def _check_genesis(self, admitted: entries.Admitted) -> None:
        predicate = admitted.statement.predicate
        if predicate.get("origin") != self.verifier.name:
            self.problem(
                0,
                f"the genesis names origin {predicate.get('origin')!r}, "
                f"not the verifier key's {self.verifier.name!r}",
            )
        if predicate.get("checkpoint_key") != self.verifier.vkey:
            self.problem(0, "the genesis names another checkpoint key than the one audited with")

    def checkpoint(self, note: str) -> None:
        size = self._range.size
        try:
            cp = verify_checkpoint(note, self.verifier)
        except ChainproofError as e:
            self.problem(None, f"checkpoint after entry {size - 1}: {e}")
            return
        repeated = self.report.checkpoints > 0 and size == self._last_checkpoint
        self.report.checkpoints += 1
        if cp.size != size:
            # Entries were deleted or inserted since the last checkpoint that matched them.
            self.problem(self._verified, f"a checkpoint of size {cp.size} stands after entry {size - 1}")
        elif cp.root != self._range.root():
            self._root_mismatch(size)
        elif repeated:
            self.problem(None, f"the checkpoint of size {size} appears twice")
        elif not self._diverged:
            self._verified = size
        if cp.origin != self.verifier.name:
            self.problem(None, f"checkpoint of size {cp.size} names origin {cp.origin!r}")
        self._last_checkpoint = size

    def _root_mismatch(self, size: int) -> None:
        # Once the roots diverge every later checkpoint differs too: name the first only.
        self._diverged += 1
        if self._diverged == 1:
            self.problem(
                self._verified,
                f"the signed checkpoint of size {size} does not match the entries "
                f"(the change lies in entries {self._last_checkpoint} to {size - 1})",
            )

    def _check_saved(self, saved: Checkpoint) -> None:
        if self._range.root() != saved.root:
            self.problem(
                None,
                f"the log was rewritten: your saved checkpoint of size {saved.size} "
                "does not match its first entries",
            )

    def finish(self, claimed_size: int) -> AuditReport:
        size = self._range.size
        self.report.tree_size = size
        if claimed_size != size:
            self.problem(None, f"the log claims {claimed_size} entries but holds {size}")
        if self._diverged > 1:
            self.problem(None, f"{self._diverged - 1} later checkpoints do not match the entries either")
        if self.report.checkpoints == 0:
            self.problem(None, "no valid checkpoint covers the log")
        elif self._last_checkpoint != size:
            self.problem(
                self._last_checkpoint, f"no checkpoint covers entries {self._last_checkpoint} to {size - 1}"
            )
        if self.saved is not None and self.saved.size > size:
            self.problem(
                None,
                f"your saved checkpoint has size {self.saved.size}; the log has "
                f"only {size} entries (entries were removed)",
            )
        return self.report


def audit_events(
    events: Iterable[Event], claimed_size: int, verifier: NoteVerifier, *, saved: Checkpoint | None = None
) -> AuditReport:
    """Audit a log given as the export's events (from a file or from a store)."""
    auditor = Auditor(verifier, saved=saved)
    for ev in events:
        if isinstance(ev, EntryLine):
            auditor.entry(ev.leaf, ev.claimed)
        else:
            auditor.checkpoint(ev.note)
    return auditor.finish(claimed_size)


def check_store(reader: LogReader, size: int, report: AuditReport) -> None:
    """What only a store holds: its tiles and its key index, against the audited entries."""
    check_tiles(reader, size, report)
    stored = {k.keyid: k for k in reader.keys()}  # noqa: SIM118 -- a store, not a dict
    if stored != report.registry:
        differing = sorted(set(stored) ^ set(report.registry)) or sorted(
            k for k in stored if stored[k] != report.registry.get(k)
        )
        report.add(None, f"the store's key index differs from the registry in its entries ({differing[0]})")


def check_tiles(reader: LogReader, size: int, report: AuditReport) -> None:
    """Recompute every stored tile from the level below; proofs are served from these."""
    level, base_count = 0, size
    expected_bases: Iterator[bytes] | None = None
    while base_count:
        next_bases: list[bytes] = []
        stored = 0
        for index, width, encoded in reader.tile_level(level):
            tile = Tile(TileId(level, index), tiles.base_of(encoded, width))
            if expected_bases is not None:
                want = tuple(next(expected_bases, b"") for _ in range(width))
                if want != tile.base:
                    report.add(None, f"tile {level}/{index} holds other base hashes than the tiles below")
            if tile.encode() != encoded:
                report.add(None, f"tile {level}/{index} holds interior hashes that do not match its base")
            if width == tiles.WIDTH:
                next_bases.append(tile.root())
            stored += width
        if stored != base_count:
            report.add(None, f"tile level {level} covers {stored} nodes, not {base_count}")
        expected_bases = iter(next_bases)
        level, base_count = level + 1, base_count // tiles.WIDTH
