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
A large store's leaf hashes and roots are computed ahead on every core (`rehash`); the report is
the same as when they are computed as the entries go by.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chainproof.attest import dsse
from chainproof.errors import ChainproofError, StoreError, VerificationError
from chainproof.log import entries, export, rehash, rehash_workers, tiles
from chainproof.log.export import EntryBatch, EntryLine, Event
from chainproof.log.note import Checkpoint, NoteVerifier, verify_checkpoint
from chainproof.log.rehash import InlineHashing, LeafHashing, PrecomputedHashing, Rehashed
from chainproof.log.rehash_workers import Jobs, Opener
from chainproof.log.store import KeyRecord, LogReader
from chainproof.log.tiles import Tile, TileId

MAX_PROBLEMS = 1000
# Entries hashed together: a full level-0 tile, so that a full batch is a complete subtree whose
# root a sound store holds.
BATCH = rehash.BLOCK


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

    def to_json(self) -> dict[str, Any]:
        """`{"ok", "tree_size", "checkpoints", "keys", "problems": [{"index", "message"}],
        "problem_count", "retroactively_revoked"}`; `problems` holds the first MAX_PROBLEMS,
        `problem_count` counts them all."""
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "checkpoints": self.checkpoints,
            "keys": self.keys,
            "problems": [{"index": p.index, "message": p.message} for p in self.problems],
            "problem_count": self.problem_count,
            "retroactively_revoked": list(self.retroactively_revoked),
        }


class Auditor:
    """Fed a log in order; entries are checked in batches of BATCH, in the order they came.

    Batching lets leaf hashes, their comparison and the subtree they form be computed in list
    passes rather than entry by entry; every batch is checked before a checkpoint, the saved
    checkpoint's size or the end is looked at, so problems come out as if entry by entry.
    """

    def __init__(
        self,
        verifier: NoteVerifier,
        *,
        saved: Checkpoint | None = None,
        block_roots: Callable[[int], bytes] | None = None,
        hashing: LeafHashing | None = None,
        rules: entries.Rules = entries.LOG_RULES,
    ) -> None:
        """`block_roots` is handed to the `InlineHashing` the auditor hashes with, unless `hashing`
        says otherwise (leaf hashes computed ahead, say); `rules` admit each entry again."""
        self.verifier = verifier
        self._rules = rules
        self.saved = saved
        self._hashing = hashing if hashing is not None else InlineHashing(block_roots)
        self.report = AuditReport(origin=verifier.name)
        self._checked = 0  # entries whose leaf hashes were checked
        self._leaves: list[bytes] = []  # entries received but not yet checked
        self._claims: list[bytes | None] = []
        self._seen = 0
        self._flush_at = self._next_flush()
        self._keys = self.report.registry
        self._signed: dict[str, array[int]] = {}
        self._last_checkpoint = 0
        self._verified = 0  # the size of the last checkpoint that matched the entries
        self._diverged = 0

    def problem(self, index: int | None, message: str) -> None:
        self.report.add(index, message)

    def entry(self, leaf: bytes, claimed: bytes | None) -> None:
        self._leaves.append(leaf)
        self._claims.append(claimed)
        self._seen += 1
        if self._seen == self._flush_at:
            self._flush()
            if self.saved is not None and self._seen == self.saved.size:
                self._check_saved(self.saved)

    def entry_batch(self, leaves: list[bytes], claims: list[bytes | None]) -> None:
        """Consecutive entries at once: the same checks as `entry` for each, in order."""
        taken = 0
        while taken < len(leaves):
            room = self._flush_at - self._seen
            part = min(room, len(leaves) - taken)
            self._leaves += leaves[taken : taken + part]
            self._claims += claims[taken : taken + part]
            taken += part
            self._seen += part
            if self._seen == self._flush_at:
                self._flush()
                if self.saved is not None and self._seen == self.saved.size:
                    self._check_saved(self.saved)

    def _next_flush(self) -> int:
        """The end of the current batch: the next multiple of BATCH, or the saved size first."""
        end = (self._seen // BATCH + 1) * BATCH
        if self.saved is not None and self._seen < self.saved.size < end:
            return self.saved.size
        return end

    def _flush(self) -> None:
        """Check the pending entries: leaf hashes against the claims, range, admission."""
        leaves, claims = self._leaves, self._claims
        self._flush_at = self._next_flush()
        if not leaves:
            return
        self._leaves, self._claims = [], []
        start = self._checked
        mismatched = self._hashing.check(start, leaves, claims)
        self._checked += len(leaves)
        if not mismatched:
            for index, leaf in enumerate(leaves, start):
                self._admit(index, leaf)
            return
        # Some claim differs: entry by entry, so problems keep the log's order.
        differing = set(mismatched)
        for index, leaf in enumerate(leaves, start):
            if index in differing:
                self.problem(
                    index,
                    "its bytes do not hash to the leaf hash the log committed to "
                    "(modified, inserted, deleted or moved)",
                )
            self._admit(index, leaf)

    def _admit(self, index: int, leaf: bytes) -> None:
        try:
            env = dsse.parse(leaf)
            if env.canonical() != leaf:
                self.problem(index, "the envelope is not in the log's canonical form")
            admitted = entries.admit(env, index, self._keys.get, rules=self._rules)
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
        self._flush()
        size = self._checked
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
        elif cp.root != self._hashing.root(size):
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
        if self._hashing.root(saved.size) != saved.root:
            self.problem(
                None,
                f"the log was rewritten: your saved checkpoint of size {saved.size} "
                "does not match its first entries",
            )

    def finish(self, claimed_size: int) -> AuditReport:
        self._flush()
        size = self._checked
        # Past the problem limit: counted, as `AuditReport.add` would, but not listed.
        self.report.problem_count += self._hashing.unlisted
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
    events: Iterable[Event],
    claimed_size: int,
    verifier: NoteVerifier,
    *,
    saved: Checkpoint | None = None,
    block_roots: Callable[[int], bytes] | None = None,
    hashing: LeafHashing | None = None,
    rules: entries.Rules = entries.LOG_RULES,
) -> AuditReport:
    """Audit a log given as the export's events (from a file or from a store); `rules` are the
    admission rules its entries were appended under."""
    auditor = Auditor(verifier, saved=saved, block_roots=block_roots, hashing=hashing, rules=rules)
    for ev in events:
        if isinstance(ev, EntryBatch):
            auditor.entry_batch(ev.leaves, ev.claims)
        elif isinstance(ev, EntryLine):
            auditor.entry(ev.leaf, ev.claimed)
        else:
            auditor.checkpoint(ev.note)
    return auditor.finish(claimed_size)


def audit_store(
    reader: LogReader,
    size: int,
    verifier: NoteVerifier,
    *,
    saved: Checkpoint | None = None,
    watch: Callable[[Iterable[Event]], Iterable[Event]] = lambda events: events,
    open_reader: Opener | None = None,
    jobs: Jobs | None = None,
    rules: entries.Rules = entries.LOG_RULES,
) -> AuditReport:
    """Audit a store: its entries and checkpoints, then its tiles and key index.

    The tiles are checked first, on their own: when they are sound, each full block of entries
    whose leaf hashes match the stored ones takes its subtree root from them rather than hashing
    the block's interior nodes a second time. When they are not, the entries are audited without
    them and the tile problems are reported after, as they always are.

    Given `open_reader` (a read transaction of its own on the same store), a store whose tiles are
    sound is first re-hashed by worker processes (`rehash_store`; `jobs`,
    by default `Jobs.default()`, says how many and from what size). The audit proper then takes
    the leaf-hash mismatches and roots from them, checking that the entries it admits are the ones
    the workers hashed, and reports the same problems in the same order.
    """
    events = watch(export.events(reader, size))
    if not _tiles_sound(reader, size):
        report = audit_events(events, size, verifier, saved=saved, rules=rules)
        check_store(reader, size, report)
        return report
    rehashed = None
    if open_reader is not None:
        rehashed = rehash_store(reader, size, open_reader, jobs or Jobs.default(), saved=saved)
    if rehashed is None:
        report = audit_events(
            events, size, verifier, saved=saved, block_roots=tile_roots(reader, size), rules=rules
        )
    else:
        report = audit_events(
            events, size, verifier, saved=saved, hashing=PrecomputedHashing(rehashed), rules=rules
        )
    check_keys(reader, report)
    return report


def rehash_store(
    reader: LogReader, size: int, open_reader: Opener, jobs: Jobs, *, saved: Checkpoint | None = None
) -> Rehashed | None:
    """Every leaf hash recomputed and compared, and the root at every size the audit of `reader`
    looks at, in worker processes; None when the log is too small for them to pay off.

    Only for a store whose tiles `check_tiles` found sound: the workers take
    the claimed leaf hashes of an entry from the level-0 tile at its index, and each full block's
    root from the level-1 tiles of `reader`.
    """
    workers = jobs.workers_for(size)
    if workers <= 1:
        return None
    checkpoint_sizes = (s for s, _ in reader.checkpoints())
    sizes = rehash.root_sizes(checkpoint_sizes, size, saved.size if saved is not None else None)
    tasks = rehash.plan(size, jobs.span, sizes, _stored_block_roots(reader, size), MAX_PROBLEMS)
    return rehash.combine(rehash_workers.run(open_reader, tasks, workers), sizes, MAX_PROBLEMS)


def _tiles_sound(reader: LogReader, size: int) -> bool:
    """Whether `check_tiles` finds nothing (so every tile is also where its index says)."""
    probe = AuditReport()
    try:
        check_tiles(reader, size, probe)
    except StoreError:  # a damaged store: let the audit proper meet it in its usual order
        return False
    return probe.ok


def _stored_block_roots(reader: LogReader, size: int) -> list[bytes]:
    """The root of each full level-0 tile, as the level-1 tiles in the database store them; only
    to be trusted once `check_tiles` found the tiles sound. Read with `tile_level`, as
    `check_tiles` reads them, never through the tiles a store keeps for proofs: an audit checks the
    very rows those copies were taken from."""
    roots: list[bytes] = []
    for _, width, encoded in reader.tile_level(1):
        roots += tiles.base_of(encoded, width)
    return roots[: size // tiles.WIDTH]


def tile_roots(reader: LogReader, size: int) -> Callable[[int], bytes]:
    """`_stored_block_roots` as the in-process auditor asks for them: the root of the k-th block."""
    return _stored_block_roots(reader, size).__getitem__


def check_store(reader: LogReader, size: int, report: AuditReport) -> None:
    """What only a store holds: its tiles and its key index, against the audited entries."""
    check_tiles(reader, size, report)
    check_keys(reader, report)


def check_keys(reader: LogReader, report: AuditReport) -> None:
    """The store's key index against the registry the audit rebuilt from the entries."""
    stored = {k.keyid: k for k in reader.keys()}  # noqa: SIM118 -- a store, not a dict
    if stored != report.registry:
        differing = sorted(set(stored) ^ set(report.registry)) or sorted(
            k for k in stored if stored[k] != report.registry.get(k)
        )
        report.add(None, f"the store's key index differs from the registry in its entries ({differing[0]})")


def check_tiles(reader: LogReader, size: int, report: AuditReport) -> None:
    """Recompute every stored tile from the level below; proofs are served from these.

    Each level must hold tiles 0, 1, 2, ... with every one but the last full, so that the tile at
    index k holds the nodes from k * WIDTH on: proofs find a node's tile by its index. A level the
    tree does not reach yet must hold none.
    """
    level, base_count = 0, size
    expected_bases: Iterator[bytes] | None = None
    while base_count:
        next_bases: list[bytes] = []
        stored = 0
        for index, width, encoded in reader.tile_level(level):
            if width > tiles.WIDTH:
                report.add(None, f"tile {level}/{index} claims {width} hashes; a tile holds {tiles.WIDTH}")
            elif index * tiles.WIDTH != stored:
                report.add(None, f"tile {level}/{index} is out of place: the tiles before it end at {stored}")
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
    for above in range(level, tiles.MAX_LEVELS):  # where the tree has no node yet, no tile may be
        for index, _, _ in reader.tile_level(above):
            report.add(None, f"tile {above}/{index} lies above the tree of {size} entries")
