"""Dataset manifests as values: entries, the Merkle root over them, proofs, diffs and their JSON.

Pure: nothing here reads the file system (`chainproof.custody.tree` walks and hashes a directory
into a `Manifest`). A manifest lists every file of a tree by relative POSIX path, sorted by the
path's UTF-8 bytes, with its size and SHA-256. Its root is the RFC 9162 Merkle tree hash of the
entries' leaf encodings, so that one file is proved to belong to a dataset with the log's own
proof code (`chainproof.log.merkle`), and `chainproof verify-proof` checks such a proof as it is.

Leaf encoding (docs/formats.md, "Dataset manifests"): the entry's JSON object in RFC 8785 (JCS)
canonical form, `{"path":"<path>","sha256":"<64 lowercase hex>","size":<bytes>}` for a regular
file; a symbolic link adds `"target":"<link text>","type":"symlink"`, its size and SHA-256 being
those of the link text's UTF-8 bytes. The leaf hash is `SHA-256(0x00 || leaf)`; the root of no
entries is RFC 9162's empty root `SHA-256("")`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chainproof.errors import FormatError, VerificationError
from chainproof.log import merkle, proofs
from chainproof.log.proofs import InclusionProof

DIGEST_PREFIX = "sha256:"
MAX_SIZE = (1 << 53) - 1
"""Sizes are JSON numbers, and RFC 8785 writes numbers as IEEE doubles: exact up to 2**53 - 1."""
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ManifestError(FormatError):
    """A manifest (JSON or values) is malformed, or its root does not match its entries."""


class FileProofError(VerificationError):
    """A file is not shown to be in a dataset: its proof, path, size or content does not match."""


class EntryKind(enum.Enum):
    """What a manifest entry records: a regular file's bytes, or a symbolic link's target text."""

    FILE = "file"
    SYMLINK = "symlink"


def format_digest(raw: bytes) -> str:
    """`sha256:<hex>`: how a dataset (its root) or a single file (its SHA-256) is named."""
    return DIGEST_PREFIX + raw.hex()


def parse_digest(text: str, what: str = "the digest", *, bare_ok: bool = False) -> bytes:
    """The 32 bytes of `sha256:<64 lowercase hex>`. With `bare_ok` (a command-line argument), 64
    hex digits alone as `sha256sum` prints them, in either case; a manifest always writes both."""
    if text.startswith(DIGEST_PREFIX):
        hexpart = text[len(DIGEST_PREFIX) :]
    elif bare_ok:
        hexpart = text
    else:
        hexpart = ""  # the prefix is required
    if bare_ok:
        hexpart = hexpart.lower()
    if not _HEX64.fullmatch(hexpart):
        raise ManifestError(f"{what} must be sha256:<64 hex digits>, not {text[:80]!r}")
    return bytes.fromhex(hexpart)


def check_path(path: str) -> None:
    """A manifest path: relative, POSIX `/`-separated, valid UTF-8, no empty, `.` or `..` part."""
    if not isinstance(path, str) or not path:
        raise ManifestError("a manifest path must be a non-empty string")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ManifestError(f"the path {path!r} is not valid UTF-8") from None
    if "\0" in path:
        raise ManifestError(f"the path {path!r} holds a NUL character")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ManifestError(f"the path {path!r} is not a relative POSIX path (empty, '.' or '..' part)")


def sort_key(path: str) -> str:
    """What entries are sorted by: the path's UTF-8 bytes. UTF-8 keeps code-point order, so
    comparing the strings gives the same order, without encoding each one (UTF-16, whose order
    differs past U+FFFF, is what RFC 8785 sorts object keys by: it plays no part here)."""
    return path


def _jcs_string(text: str) -> str:
    # RFC 8785 writes strings as ECMAScript's JSON.stringify does: UTF-8, escaping only '"', '\'
    # and the C0 controls (\b \f \n \r \t, others as lowercase \u00xx). json.dumps with
    # ensure_ascii=False does exactly that (tests/custody check it against rfc8785 on random text),
    # at a tenth of rfc8785's cost per entry: 1.6 us against 17 us here.
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """One file of a dataset. Constructed only well-formed: the checks run in `__post_init__`."""

    path: str
    """Relative POSIX path inside the dataset, UTF-8, as the file system spells it (no Unicode
    normalisation: NFC and NFD names are different paths)."""
    size: int
    """The file's size in bytes; for a symlink, the length of its target text in UTF-8."""
    sha256: bytes
    """SHA-256 of the file's bytes (what `sha256sum` prints); for a symlink, of its target text."""
    kind: EntryKind = EntryKind.FILE
    target: str | None = None
    """A symlink's target text, exactly as `readlink` gives it; None for a regular file."""

    def __post_init__(self) -> None:
        check_path(self.path)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_SIZE:
            raise ManifestError(f"{self.path}: the size must be an integer from 0 to 2**53 - 1")
        if not isinstance(self.sha256, bytes) or len(self.sha256) != merkle.HASH_SIZE:
            raise ManifestError(f"{self.path}: the SHA-256 must be 32 bytes")
        if self.kind is EntryKind.FILE:
            if self.target is not None:
                raise ManifestError(f"{self.path}: a regular file has no link target")
            return
        if not isinstance(self.target, str):
            raise ManifestError(f"{self.path}: a symlink entry needs its target text")
        try:
            raw = self.target.encode("utf-8")
        except UnicodeEncodeError:
            raise ManifestError(f"{self.path}: the link target is not valid UTF-8") from None
        if self.size != len(raw) or self.sha256 != hashlib.sha256(raw).digest():
            raise ManifestError(f"{self.path}: a symlink's size and SHA-256 must be those of its target")

    @classmethod
    def symlink(cls, *, path: str, target: str) -> FileEntry:
        """The entry of a symbolic link at `path` whose text is `target` (never followed)."""
        try:
            raw = target.encode("utf-8")
        except UnicodeEncodeError:
            raise ManifestError(f"{path}: the link target is not valid UTF-8") from None
        return cls(
            path=path,
            size=len(raw),
            sha256=hashlib.sha256(raw).digest(),
            kind=EntryKind.SYMLINK,
            target=target,
        )

    @property
    def digest(self) -> str:
        return format_digest(self.sha256)

    def leaf(self) -> bytes:
        """The leaf encoding: this entry's JSON object in RFC 8785 canonical form, UTF-8."""
        text = f'{{"path":{_jcs_string(self.path)},"sha256":"{self.sha256.hex()}","size":{self.size}'
        if self.kind is EntryKind.SYMLINK:
            text += f',"target":{_jcs_string(self.target or "")},"type":"symlink"'
        return (text + "}").encode("utf-8")

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf())

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256.hex()}
        if self.kind is EntryKind.SYMLINK:
            obj["type"] = EntryKind.SYMLINK.value
            obj["target"] = self.target
        return obj

    @classmethod
    def from_json(cls, obj: object, where: str = "an entry") -> FileEntry:
        """Strict: exactly the keys `to_json` writes, lowercase hex, the sizes and types it writes."""
        if not isinstance(obj, dict):
            raise ManifestError(f"{where} must be a JSON object")
        kind = EntryKind.SYMLINK if obj.get("type") == EntryKind.SYMLINK.value else EntryKind.FILE
        expected = {"path", "size", "sha256"} | ({"type", "target"} if kind is EntryKind.SYMLINK else set())
        if set(obj) != expected:
            extra, missing = sorted(set(obj) - expected), sorted(expected - set(obj))
            raise ManifestError(f"{where}: unexpected keys {extra}, missing keys {missing}")
        sha = obj["sha256"]
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            raise ManifestError(f"{where}: sha256 must be 64 lowercase hex digits")
        target = obj.get("target")
        if kind is EntryKind.SYMLINK and not isinstance(target, str):
            raise ManifestError(f"{where}: a symlink's target must be a string")
        return cls(path=obj["path"], size=obj["size"], sha256=bytes.fromhex(sha), kind=kind, target=target)


def _check_sorted(entries: Sequence[FileEntry]) -> None:
    """Strictly increasing by UTF-8 path bytes (so also unique), and a tree: no entry's path is
    a directory of another's (`a` and `a/b` cannot both be files)."""
    keys = [e.path for e in entries]
    for i in range(1, len(keys)):
        if keys[i - 1] >= keys[i]:
            problem = "twice" if keys[i - 1] == keys[i] else "out of order"
            raise ManifestError(f"the manifest lists {entries[i].path!r} {problem} (sorted by UTF-8 bytes)")
    paths = {e.path for e in entries}
    for e in entries:
        cut = e.path.rfind("/")
        while cut > 0:
            if e.path[:cut] in paths:
                raise ManifestError(f"the manifest lists {e.path[:cut]!r} as a file and as a directory")
            cut = e.path.rfind("/", 0, cut)


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """Every file of a dataset, sorted by path bytes; `root` names the whole."""

    entries: tuple[FileEntry, ...]
    _paths: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.entries, tuple) or not all(isinstance(e, FileEntry) for e in self.entries):
            raise ManifestError("a manifest's entries must be a tuple of FileEntry")
        _check_sorted(self.entries)
        object.__setattr__(self, "_paths", [e.path for e in self.entries])

    @classmethod
    def of(cls, entries: Sequence[FileEntry]) -> Manifest:
        """A manifest of `entries` in any order (sorted here)."""
        return cls(entries=tuple(sorted(entries, key=lambda e: sort_key(e.path))))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self.entries)

    @cached_property
    def leaf_hashes(self) -> list[bytes]:
        return [merkle.leaf_hash(e.leaf()) for e in self.entries]

    @cached_property
    def root(self) -> bytes:
        """RFC 9162 MTH over the entries' leaf encodings; SHA-256("") for no entries."""
        return merkle.root_of_leaf_hashes(self.leaf_hashes)

    @property
    def digest(self) -> str:
        """`sha256:<hex of root>`: the dataset's name in attestations."""
        return format_digest(self.root)

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries if e.kind is EntryKind.FILE)

    def index(self, path: str) -> int:
        """The position of `path`'s entry; ManifestError naming it when the manifest has none."""
        i = bisect_left(self._paths, path)
        if i == len(self._paths) or self._paths[i] != path:
            raise ManifestError(f"{path!r} is not in the manifest {self.digest}")
        return i

    def get(self, path: str) -> FileEntry:
        return self.entries[self.index(path)]

    def to_json(self) -> dict[str, Any]:
        """`{"root": "sha256:<hex>", "files": [{"path", "size", "sha256"}, ...]}`."""
        return {"root": self.digest, "files": [e.to_json() for e in self.entries]}

    def dumps(self) -> bytes:
        """The JSON of `to_json`, one entry per line, so that two manifests diff line by line."""
        lines = [json.dumps(e.to_json(), ensure_ascii=False) for e in self.entries]
        body = ",\n  ".join(lines)
        files = f"[\n  {body}\n]" if lines else "[]"
        return f'{{"root": "{self.digest}",\n "files": {files}}}\n'.encode()

    @classmethod
    def from_json(cls, obj: object) -> Manifest:
        """Strict: exactly `root` and `files`, valid sorted unique entries, and the root they give."""
        if not isinstance(obj, dict) or set(obj) != {"root", "files"}:
            raise ManifestError('a manifest must be a JSON object with exactly "root" and "files"')
        files = obj["files"]
        if not isinstance(files, list):
            raise ManifestError('the manifest\'s "files" must be a list')
        root = obj["root"]
        claimed = parse_digest(root if isinstance(root, str) else "", "the manifest's root")
        manifest = cls(entries=tuple(FileEntry.from_json(f, f"file {i}") for i, f in enumerate(files)))
        if manifest.root != claimed:
            raise ManifestError(
                f"the manifest's root {root} is not the root of its files ({manifest.digest}): "
                "the manifest was altered"
            )
        return manifest

    @classmethod
    def loads(cls, data: bytes, name: str = "the manifest") -> Manifest:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise ManifestError(f"{name} is not JSON: {e}") from None
        try:
            return cls.from_json(obj)
        except ManifestError as e:
            raise ManifestError(f"{name}: {e}") from None


# -- proofs ------------------------------------------------------------------------------------


class _Levels:
    """Every complete subtree's hash, level by level (level 0: the leaf hashes), for proofs.

    Level k holds the size >> k complete nodes of width 2**k; a proof's border range folds from
    them (`merkle.perfect_nodes`), as the log folds it from its tiles.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels = [list(leaf_hashes)]
        while len(self.levels[-1]) >= 2:
            level = self.levels[-1]
            self.levels.append(merkle.parent_hashes(level[: len(level) & ~1]))

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def range_hash(self, begin: int, end: int) -> bytes:
        return merkle.fold_range([self.node(n.level, n.index) for n in merkle.perfect_nodes(begin, end)])

    def inclusion(self, index: int) -> tuple[bytes, ...]:
        plan = merkle.inclusion_nodes(index, len(self.levels[0]))
        hashes = [self.node(level, i) for level, i in plan.nodes]
        if plan.border is not None:
            hashes.insert(plan.at, self.range_hash(*plan.border))
        return tuple(hashes)


@dataclass(frozen=True, kw_only=True)
class FileProof:
    """That `entry` is leaf `inclusion.index` of the dataset whose root is `inclusion.root_hash`.

    Its JSON is `log prove`'s (`index`, `tree_size`, `leaf_hash`, `root_hash`, `proof`) plus `root`
    (`sha256:<hex>`) and the entry's fields, so `chainproof verify-proof` checks it unchanged.
    """

    entry: FileEntry
    inclusion: InclusionProof

    @property
    def root(self) -> bytes:
        return self.inclusion.root_hash

    def to_json(self) -> dict[str, Any]:
        return {**self.inclusion.to_json(), "root": format_digest(self.root), **self.entry.to_json()}

    @classmethod
    def from_json(cls, obj: object) -> FileProof:
        if not isinstance(obj, dict):
            raise ManifestError("a file proof must be a JSON object")
        inclusion = proofs.parse(obj)
        if not isinstance(inclusion, InclusionProof):
            raise ManifestError("a file proof is an inclusion proof, not a consistency proof")
        entry_keys = ("path", "size", "sha256", "type", "target")
        entry = FileEntry.from_json({k: obj[k] for k in entry_keys if k in obj}, "the proof's entry")
        if "root" in obj and parse_digest(str(obj["root"]), "the proof's root") != inclusion.root_hash:
            raise ManifestError("the proof's root and root_hash differ")
        if entry.leaf_hash != inclusion.leaf_hash:
            raise ManifestError("the proof's leaf_hash is not the hash of the entry it names")
        return cls(entry=entry, inclusion=inclusion)


def prove(manifest: Manifest, path: str) -> FileProof:
    """The RFC 9162 inclusion proof of `path`'s entry in `manifest`."""
    index = manifest.index(path)
    levels = _Levels(manifest.leaf_hashes)
    inclusion = InclusionProof(
        index=index,
        tree_size=len(manifest),
        leaf_hash=manifest.leaf_hashes[index],
        root_hash=manifest.root,
        proof=levels.inclusion(index),
    )
    return FileProof(entry=manifest.entries[index], inclusion=inclusion)


def prove_all(manifest: Manifest) -> Iterator[FileProof]:
    """The proof of every entry, in order, computing the tree's levels once."""
    levels = _Levels(manifest.leaf_hashes)
    for index, entry in enumerate(manifest.entries):
        inclusion = InclusionProof(
            index=index,
            tree_size=len(manifest),
            leaf_hash=manifest.leaf_hashes[index],
            root_hash=manifest.root,
            proof=levels.inclusion(index),
        )
        yield FileProof(entry=entry, inclusion=inclusion)


def _entry_difference(mine: FileEntry, claimed: FileEntry) -> str:
    if mine.path != claimed.path:
        return f"the proof is for {claimed.path!r}, not {mine.path!r}"
    if mine.kind is not claimed.kind:
        return f"the proof is for a {claimed.kind.value}, the file is a {mine.kind.value}"
    if mine.size != claimed.size:
        return f"the proof is for {claimed.size:,} bytes, the file has {mine.size:,}"
    return f"the proof is for content {claimed.digest}, the file has {mine.digest}"


def verify_entry(entry: FileEntry, *, proof: FileProof, root: bytes) -> None:
    """Raise FileProofError unless `proof` shows `entry` in the dataset named by `root`.

    `root` is what the caller trusts (from an attestation, say); the proof is not trusted: the
    leaf hash is recomputed from `entry`, the path hashes are folded up to `root`.
    """
    if proof.root != root:
        raise FileProofError(
            f"the proof is for dataset {format_digest(proof.root)}, not {format_digest(root)}"
        )
    if entry != proof.entry:
        raise FileProofError(f"{entry.path}: {_entry_difference(entry, proof.entry)}")
    p = proof.inclusion
    try:
        merkle.verify_inclusion(p.index, p.tree_size, entry.leaf_hash, p.proof, root)
    except merkle.ProofError as e:
        raise FileProofError(
            f"{entry.path} is not shown to be in dataset {format_digest(root)}: {e}"
        ) from None


# -- diffs ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Change:
    """A path in both manifests whose entry differs (size, content, or file / symlink)."""

    old: FileEntry
    new: FileEntry

    @property
    def path(self) -> str:
        return self.new.path

    def to_json(self) -> dict[str, Any]:
        strip = ("path",)
        return {
            "path": self.path,
            "old": {k: v for k, v in self.old.to_json().items() if k not in strip},
            "new": {k: v for k, v in self.new.to_json().items() if k not in strip},
        }


@dataclass(frozen=True, kw_only=True)
class ManifestDiff:
    """What changed from one manifest to another, each list sorted by path bytes."""

    old_root: bytes
    new_root: bytes
    added: tuple[FileEntry, ...]
    removed: tuple[FileEntry, ...]
    changed: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": format_digest(self.old_root),
            "new": format_digest(self.new_root),
            "identical": self.identical,
            "added": [e.to_json() for e in self.added],
            "removed": [e.to_json() for e in self.removed],
            "changed": [c.to_json() for c in self.changed],
        }


def diff(old: Manifest, new: Manifest) -> ManifestDiff:
    """Added, removed and changed entries, by one merge of the two sorted lists."""
    added: list[FileEntry] = []
    removed: list[FileEntry] = []
    changed: list[Change] = []
    a, b = old.entries, new.entries
    i = j = 0
    while i < len(a) or j < len(b):
        ka = a[i].path if i < len(a) else None
        kb = b[j].path if j < len(b) else None
        if kb is None or (ka is not None and ka < kb):
            removed.append(a[i])
            i += 1
        elif ka is None or kb < ka:
            added.append(b[j])
            j += 1
        else:
            if a[i] != b[j]:
                changed.append(Change(old=a[i], new=b[j]))
            i += 1
            j += 1
    return ManifestDiff(
        old_root=old.root,
        new_root=new.root,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
    )
