"""Push a dataset to a server's vault and pull it back, checking everything the server says.

    from chainproof.vault import push, pull
    pushed = push("https://custody.example", key, Path("data/"))      # PushResult
    pulled = pull("https://custody.example", key, pushed.root, Path("copy/"))

Push: the manifest is built (every file hashed), sent, and each file the server does not hold
yet is sent in parts from the byte the server has (a push interrupted resumes where it stopped);
then the pusher signs a statement naming the root, the server appends it, and its inclusion in
the log is proved (`RemoteLog`).

Pull: the server records the access and gives the manifest and the entry naming the dataset;
the client checks the manifest against the root asked for, proves both entries included in the
log (checkpoints checked, consistent with those seen before), then fetches each file into a
hidden staging directory inside DIR (`.chainproof-pull-<root>`), checking its SHA-256, and only
once every file is there and checked renames them into place. A pull interrupted at any point
leaves nothing under a final name, and the next pull resumes from the bytes staged.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainproof.attest import dsse, signing
from chainproof.custody.manifests import (
    EntryKind,
    FileEntry,
    Manifest,
    ManifestError,
    format_digest,
    parse_digest,
)
from chainproof.custody.records import HopRecord
from chainproof.custody.service import now
from chainproof.custody.tree import build
from chainproof.errors import StoreError, UsageError, VerificationError
from chainproof.log import merkle
from chainproof.remote import vault as remote  # the module: it imports this package first
from chainproof.remote.log import RemoteLog
from chainproof.vault import crypto, framing, records

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Progress = Callable[[int, int], None]
PART_BYTES = 8 << 20
"""Bytes a push sends in one request: whole chunks, well under the server's 16 MiB body limit."""
_BATCH = 4096
"""The most small files a push sends in one request."""
WORKERS = 2
"""Files sent or fetched at once: two keep both ends busy (one hashes while the other seals)."""
STAGING_PREFIX = ".chainproof-pull-"
_RETRIES = 3
_READ = 1 << 20


@dataclass(frozen=True)
class PushResult:
    root: str
    files: int
    bytes: int
    sent: int
    """Bytes sent by this push (less than `bytes` when it resumed, or the server had them)."""
    entry: int
    """The index of the log entry naming the dataset."""

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files": self.files,
            "bytes": self.bytes,
            "sent": self.sent,
            "entry": self.entry,
        }


@dataclass(frozen=True)
class PullResult:
    root: str
    directory: str
    files: int
    bytes: int
    received: int
    access_entry: int
    stored_entry: int
    grant: str
    verified: bool = field(default=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "directory": self.directory,
            "files": self.files,
            "bytes": self.bytes,
            "received": self.received,
            "access_entry": self.access_entry,
            "stored_entry": self.stored_entry,
            "grant": self.grant,
            "verified": self.verified,
        }


# -- push ---------------------------------------------------------------------------------------


def push(
    url: str,
    key: Ed25519PrivateKey,
    path: Path,
    *,
    jobs: int | None = None,
    on_hashing: Progress | None = None,
    on_progress: Progress | None = None,
    home: Path | None = None,
) -> PushResult:
    """Store the dataset at `path` (a directory, or one file) in the vault of the server at `url`."""
    manifest = build(path, jobs=jobs, on_progress=on_hashing)
    log = RemoteLog(url, key, home=home)
    try:
        with remote.VaultClient(url, key) as client:
            begun = client.begin_push(manifest.dumps())
            if begun.get("root") != manifest.digest:
                raise VerificationError(
                    f"{url}: the server names the dataset {begun.get('root')}, not {manifest.digest}"
                )
            wanted = begun.get("files") or []
            if not isinstance(wanted, list):
                raise VerificationError("the server's list of files needed is not a list")
            chunk = int(begun.get("chunk_size") or crypto.CHUNK_SIZE)
            sender = _Sender(client, manifest.digest, _local_files(manifest, path), chunk, on_progress)
            sent = sender.all(wanted)
            statement = records.stored_statement(manifest.root, len(manifest), manifest.total_size, now())
            envelope = signing.sign_statement(statement, key)
            answer = client.commit(manifest.digest, envelope.canonical())
        index = _checked_index(answer, url)
        if answer.get("leaf_hash") != merkle.leaf_hash(envelope.canonical()).hex():
            # Pushed before (by us or another pusher): prove that entry, and that it names the root.
            leaf = log.entry(index)  # a pusher reads entries: proved included as it is read
            if merkle.leaf_hash(leaf).hex() != answer.get("leaf_hash"):
                raise VerificationError(
                    f"{url}: entry {index} is not the dataset's entry the server described"
                )
            _prove_stored(log, root=manifest.root, index=index, leaf=leaf)
        else:
            log.prove_leaf_at(index, merkle.leaf_hash(envelope.canonical()))
    finally:
        log.close()
    return PushResult(manifest.digest, len(manifest), manifest.total_size, sent, index)


@dataclass
class _Sender:
    """The files of one push the server still needs: the small ones whole, many a request
    (`framing`), the others in parts from the byte the server has."""

    client: remote.VaultClient
    root: str
    local: dict[bytes, Path]
    chunk: int
    on_progress: Progress | None
    total: int = 0
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def all(self, wanted: list[dict[str, Any]]) -> int:
        self.total = sum(int(f["size"]) - int(f["received"]) for f in wanted)
        small = [f for f in wanted if int(f["received"]) == 0 and int(f["size"]) <= self.chunk]
        batches: list[list[dict[str, Any]]] = []
        size = 0
        for item in small:
            if not batches or size + int(item["size"]) > PART_BYTES or len(batches[-1]) >= _BATCH:
                batches.append([])
                size = 0
            batches[-1].append(item)
            size += int(item["size"])
        chosen = {id(f) for f in small}
        jobs: list[Callable[[], None]] = [functools.partial(self._whole, b) for b in batches]
        jobs += [functools.partial(self._parts, f) for f in wanted if id(f) not in chosen]
        _parallel(lambda job: job(), jobs, self._stop)
        return self.sent

    def _source(self, sha256: str) -> Path:
        source = self.local.get(bytes.fromhex(sha256))
        if source is None:
            raise VerificationError(f"the server asks for sha256:{sha256}, which is not in the dataset")
        return source

    def _progress(self, n: int) -> None:
        with self._lock:
            self.sent += n
            if self.on_progress is not None:
                self.on_progress(self.sent, self.total)

    def _whole(self, batch: list[dict[str, Any]]) -> None:
        files = [
            (bytes.fromhex(str(f["sha256"])), self._source(str(f["sha256"])).read_bytes()) for f in batch
        ]
        self.client.put_files(self.root, framing.pack(files))
        self._progress(sum(len(data) for _, data in files))

    def _parts(self, item: dict[str, Any]) -> None:
        sha256, size = str(item["sha256"]), int(item["size"])
        part = max(self.chunk, PART_BYTES // self.chunk * self.chunk)
        offset = int(item["received"])
        with self._source(sha256).open("rb") as f:
            while not self._stop.is_set():
                f.seek(offset)
                data = f.read(part)
                try:
                    answer = self.client.put_part(self.root, sha256, offset, data)
                except remote.ServerOffset as e:  # another push of ours went further: go on from there
                    offset = e.received
                    continue
                offset += len(data)
                self._progress(len(data))
                if answer.get("complete") or offset >= size:
                    break


def _local_files(manifest: Manifest, path: Path) -> dict[bytes, Path]:
    """Where each distinct file of the manifest is on disk."""
    if path.is_dir():
        return {e.sha256: path / e.path for e in manifest if e.kind is EntryKind.FILE}
    return {e.sha256: path for e in manifest if e.kind is EntryKind.FILE}


# -- pull ---------------------------------------------------------------------------------------


def pull(
    url: str,
    key: Ed25519PrivateKey,
    artifact: str,
    directory: Path,
    *,
    on_progress: Progress | None = None,
    home: Path | None = None,
) -> PullResult:
    """Fetch the dataset `artifact` (`sha256:<root>`) from the vault of the server at `url` into
    `directory`, every file checked against the manifest, the manifest against the root, and the
    root's entry proved in the log, before any file gets its final name."""
    try:
        root = parse_digest(artifact, "the dataset", bare_ok=True)
    except ManifestError as e:  # an argument, not untrusted input
        raise UsageError(str(e)) from None
    name = format_digest(root)
    directory.mkdir(parents=True, exist_ok=True)
    log = RemoteLog(url, key, home=home)
    try:
        with remote.VaultClient(url, key) as client:
            facts = client.begin_pull(name).get("record") or {}
            envelope = signing.sign_statement(records.access_statement(_access_record(root, facts)), key)
            answer = client.begin_pull(name, envelope.canonical())
            manifest = _checked_manifest(answer, root, url)
            stored = _checked_entry(answer.get("stored"), url)
            _prove_stored(log, root=root, index=stored[0], leaf=stored[1])
            access = answer.get("access") or {}
            access_index = _checked_index(access, url)
            log.prove_leaf_at(access_index, merkle.leaf_hash(envelope.canonical()))
            in_place = _check_targets(manifest, directory)
            staging = directory / f"{STAGING_PREFIX}{root.hex()[:16]}"
            staging.mkdir(exist_ok=True, mode=0o700)
            received = _Fetcher(client, name, access_index, staging, on_progress).all(manifest, in_place)
        os.sync()  # every staged byte on disk, once, before any file takes its final name
        _place(manifest, staging, directory, in_place)
    finally:
        log.close()
    return PullResult(
        root=name,
        directory=str(directory),
        files=len(manifest),
        bytes=manifest.total_size,
        received=received,
        access_entry=access_index,
        stored_entry=stored[0],
        grant=str(answer.get("grant", "")),
    )


def _access_record(root: bytes, facts: dict[str, Any]) -> HopRecord:
    """The access record this pull signs, from the facts the server gave (its grant, the name
    it knows the puller by, its time)."""
    try:
        return records.access_record(
            root,
            grant_id=str(facts["grant"]),
            purpose=str(facts["purpose"]),
            actor=str(facts["actor"]),
            keyid=str(facts["keyid"]),
            time=str(facts["time"]),
        )
    except KeyError as e:
        raise VerificationError(f"the server's answer lacks the access record's {e}") from None


def _checked_index(obj: Any, url: str) -> int:
    index = obj.get("index") if isinstance(obj, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise VerificationError(f"{url}: the server's answer names no log entry")
    return index


def _checked_entry(obj: Any, url: str) -> tuple[int, bytes]:
    index = _checked_index(obj, url)
    try:
        return index, base64.b64decode(str(obj.get("leaf", "")), validate=True)
    except ValueError:
        raise VerificationError(f"{url}: the dataset's log entry is not base64") from None


def _checked_manifest(answer: dict[str, Any], root: bytes, url: str) -> Manifest:
    manifest = Manifest.from_json(answer.get("manifest"))
    if manifest.root != root:
        raise VerificationError(
            f"{url}: the manifest sent has root {manifest.digest}, not the {format_digest(root)} asked for"
        )
    return manifest


def _prove_stored(log: RemoteLog, *, root: bytes, index: int, leaf: bytes) -> None:
    """`leaf` is a stored statement naming `root`, and the log holds it at `index` (proved
    under a checked checkpoint). The leaf comes with the server's answer: a contractor may read
    a private log's proofs, not its entries."""
    records.check_stored(dsse.parse(leaf), root)
    log.prove_leaf_at(index, merkle.leaf_hash(leaf))


def _check_targets(manifest: Manifest, directory: Path) -> dict[bytes, Path]:
    """Refuse a manifest that would write through one of its own links, and a target that holds
    something else than the dataset's file (it is never overwritten). Returns the files already
    in place (a pull that stopped while it was placing them)."""
    links = {e.path for e in manifest if e.kind is EntryKind.SYMLINK}
    in_place: dict[bytes, Path] = {}
    top = directory.resolve()
    parents: set[Path] = set()
    for entry in manifest:
        parent = (directory / entry.path).parent
        if parent not in parents:  # a directory in DIR that is a link out of it is never written through
            if not parent.resolve().is_relative_to(top):
                raise UsageError(f"{parent} leads out of {directory} (a link): not written through")
            parents.add(parent)
        parts = entry.path.split("/")
        for n in range(1, len(parts)):
            if "/".join(parts[:n]) in links:
                raise VerificationError(
                    f"the manifest puts {entry.path} under its own link {'/'.join(parts[:n])}"
                )
        target = directory / entry.path
        if target.is_symlink() or target.exists():
            if not _is_in_place(entry, target):
                raise UsageError(f"{target} exists and is not the dataset's {entry.path}: not overwritten")
            if entry.kind is EntryKind.FILE:
                in_place[entry.sha256] = target
    return in_place


def _is_in_place(entry: FileEntry, target: Path) -> bool:
    if entry.kind is EntryKind.SYMLINK:
        return target.is_symlink() and os.readlink(target) == entry.target  # noqa: PTH115 -- the text as it is
    if target.is_symlink() or not target.is_file() or target.stat().st_size != entry.size:
        return False
    return _sha256_of(target) == entry.sha256


def _sha256_of(path: Path, limit: int | None = None) -> bytes:
    h = hashlib.sha256()
    left = limit
    with path.open("rb") as f:
        while left is None or left > 0:
            piece = f.read(_READ if left is None else min(_READ, left))
            if not piece:
                break
            h.update(piece)
            if left is not None:
                left -= len(piece)
    return h.digest()


@dataclass
class _Fetcher:
    """The files of one pull, fetched into the staging directory one after the other."""

    client: remote.VaultClient
    name: str
    access: int
    staging: Path
    on_progress: Progress | None
    total: int = 0
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def all(self, manifest: Manifest, in_place: dict[bytes, Path]) -> int:
        distinct = {e.sha256: e.size for e in manifest if e.kind is EntryKind.FILE}
        self.total = sum(distinct.values())
        todo = {
            s: n for s, n in distinct.items() if not (s in in_place and not (self.staging / s.hex()).exists())
        }
        small = [
            (s, n)
            for s, n in todo.items()
            if n <= crypto.CHUNK_SIZE and not (self.staging / s.hex()).exists()
        ]
        fetched: set[bytes] = set()
        received = 0
        for at in range(0, len(small), _BATCH):
            batch = small[at : at + _BATCH]
            n, whole = self._batch(batch)
            received += n
            fetched |= whole
            if len(whole) < len(batch):
                break  # broken off: the rest one by one, with their retries and errors
        self._advance(sum(n for s, n in distinct.items() if s not in todo))
        rest = [(s, n) for s, n in todo.items() if s not in fetched]
        counts: list[int] = []
        _parallel(
            lambda item: counts.append(self.one(item[0], item[1], self.staging / item[0].hex())),
            rest,
            self._stop,
        )
        return received + sum(counts)

    def _batch(self, batch: list[tuple[bytes, int]]) -> tuple[int, set[bytes]]:
        """Small files whole, many in one request (`framing`): each staged once it has come whole
        and its SHA-256 checked. The bytes received and the files staged; a batch broken off
        leaves the rest to `one`."""
        whole: set[bytes] = set()
        got = 0
        expected = iter(batch)
        buffer = bytearray()
        try:
            with self.client.files(self.name, self.access, b"".join(s for s, _ in batch)) as pieces:
                for piece in pieces:
                    buffer += piece
                    while len(buffer) >= framing.HEAD:
                        sha256, size = bytes(buffer[:32]), int.from_bytes(buffer[32 : framing.HEAD], "big")
                        if len(buffer) < framing.HEAD + size:
                            break
                        if (sha256, size) != next(expected, None):
                            raise VerificationError("the server sent other files than those asked for")
                        data = bytes(buffer[framing.HEAD : framing.HEAD + size])
                        del buffer[: framing.HEAD + size]
                        if hashlib.sha256(data).digest() != sha256:
                            raise VerificationError(
                                f"file sha256:{sha256.hex()} arrived with other bytes: refused"
                            )
                        (self.staging / sha256.hex()).write_bytes(data)
                        whole.add(sha256)
                        got += size
                        self._advance(size)
        except StoreError:
            pass
        return got, whole

    def _advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self.on_progress is not None:
                self.on_progress(min(self.done, self.total), self.total)

    def one(self, sha256: bytes, size: int, staged: Path) -> int:
        """Fetch one file into `staged` (resuming from the whole chunks already there) and check
        its SHA-256; the bytes received."""
        chunk = crypto.CHUNK_SIZE
        have = staged.stat().st_size if staged.exists() else -1
        if have == size and _sha256_of(staged) == sha256:
            self._advance(size)
            return 0
        have = max(have, 0)
        have = min(have, size) // chunk * chunk
        if have == size and size:
            have -= chunk
        self._advance(have)
        received = 0
        for attempt in range(_RETRIES + 1):
            h = hashlib.sha256()
            if have:
                h = _hash_prefix(staged, have)
            try:
                received += self._stream(sha256, size, staged, have, h)
                break
            except StoreError:
                # The transfer broke off: go on from the whole chunks staged, if any came this time.
                now_have = (staged.stat().st_size if staged.exists() else 0) // chunk * chunk
                if attempt == _RETRIES or now_have <= have:
                    raise
                received += now_have - have
                have = now_have
        if h.digest() != sha256:
            staged.unlink(missing_ok=True)
            raise VerificationError(
                f"file sha256:{sha256.hex()} arrived with SHA-256 {h.hexdigest()}: refused "
                "(the staged copy is removed)"
            )
        return received

    def _stream(self, sha256: bytes, size: int, staged: Path, offset: int, h: Any) -> int:
        got = 0
        with (
            self.client.file(self.name, sha256.hex(), self.access, offset) as pieces,
            staged.open("r+b" if staged.exists() else "wb") as out,
        ):
            out.truncate(offset)
            out.seek(offset)
            for piece in pieces:
                if self._stop.is_set():
                    raise _Stopped
                if offset + got + len(piece) > size:
                    raise VerificationError(
                        f"file sha256:{sha256.hex()}: the server sent more than its {size:,} bytes"
                    )
                out.write(piece)
                h.update(piece)
                got += len(piece)
                self._advance(len(piece))
        if offset + got != size:
            raise StoreError(
                f"file sha256:{sha256.hex()}: the transfer broke off at {offset + got:,} of {size:,} bytes"
            )
        return got


class _Stopped(Exception):
    """Another worker of the same transfer failed: this one stops too."""


def _parallel(work: Callable[[Any], object], items: list[Any], stop: threading.Event) -> None:
    """`work` on each item, `WORKERS` at a time (the client reads and hashes while the server
    seals, and the other way round); the first failure stops the others after their part."""
    if not items:
        return
    with ThreadPoolExecutor(min(WORKERS, len(items)), thread_name_prefix="chainproof-vault") as pool:
        futures = [pool.submit(_unless_stopped, work, item, stop) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise


def _unless_stopped(work: Callable[[Any], object], item: Any, stop: threading.Event) -> None:
    if not stop.is_set():
        work(item)


def _hash_prefix(path: Path, length: int) -> Any:
    h = hashlib.sha256()
    with path.open("rb") as f:
        left = length
        while left:
            piece = f.read(min(_READ, left))
            if not piece:
                break
            h.update(piece)
            left -= len(piece)
    return h


def _place(manifest: Manifest, staging: Path, directory: Path, in_place: dict[bytes, Path]) -> None:
    """Give every file its final name (the last path of each content takes the staged file, the
    others copies), then make the links; remove the staging directory."""
    last_use = {e.sha256: e.path for e in manifest if e.kind is EntryKind.FILE}
    for entry in manifest:
        target = directory / entry.path
        if entry.kind is not EntryKind.FILE or (target.exists() and _is_in_place(entry, target)):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = staging / entry.sha256.hex()
        if last_use[entry.sha256] == entry.path and staged.exists():
            staged.replace(target)
        else:
            copy = staging / f"copy-{entry.sha256.hex()}"
            shutil.copyfile(staged if staged.exists() else in_place[entry.sha256], copy)
            copy.replace(target)
    for entry in manifest:
        target = directory / entry.path
        if entry.kind is EntryKind.SYMLINK and not target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            assert entry.target is not None
            target.symlink_to(entry.target)
    with contextlib.suppress(OSError):
        shutil.rmtree(staging)
