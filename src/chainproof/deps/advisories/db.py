"""The local advisory database: OSV records in SQLite, indexed by normalised PyPI project name.

Records are stored as their raw JSON and parsed again on lookup, so a newer parser reads old
databases. The database also caches PyPI JSON API answers per release, with the time each was
fetched (`pypi_json`); a database of an older schema is migrated when it is opened for writing, and
read as having no cached answers until then. Imports are atomic (one transaction) and idempotent:
a record replaces a stored one with the same id unless the stored one was modified later.
"""

from __future__ import annotations

import importlib
import sqlite3
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chainproof._internal import config
from chainproof.deps.advisories.osv import AdvisoryFormatError, OsvRecord, parse_text
from chainproof.deps.watch import Watch, unwatched
from chainproof.errors import ChainproofError, StoreError, UsageError

OSV_PYPI_ZIP = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
DOWNLOAD_TIMEOUT = 30.0
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""A larger file is not an advisory; refusing it bounds memory on hostile input."""
MAX_ZIP_MEMBERS = 1_000_000
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, modified TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packages (
    key TEXT NOT NULL, id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE, PRIMARY KEY (key, id)
);
CREATE INDEX IF NOT EXISTS packages_by_id ON packages(id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SCHEMA_VERSION = 2
"""1: OSV records only. 2: adds `pypi_releases`, PyPI JSON API answers per release with their fetch time."""
_MIGRATIONS = {
    2: """
CREATE TABLE IF NOT EXISTS pypi_releases (
    key TEXT NOT NULL, version TEXT NOT NULL, fetched REAL NOT NULL, vulnerabilities TEXT NOT NULL,
    PRIMARY KEY (key, version)
);
""",
}


class FetchError(ChainproofError):
    """The advisory source could not be downloaded."""


@dataclass(frozen=True)
class ImportStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    """Already stored with the same or a later `modified`."""

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged

    def to_json(self) -> dict[str, int]:
        """`{"added", "updated", "unchanged", "total"}`."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "total": self.total,
        }


def default_path() -> Path:
    """`$CHAINPROOF_HOME/advisories.db`, else `~/.cache/chainproof/advisories.db`."""
    return config.home() / "advisories.db"


class AdvisoryDB:
    """An open advisory database. Use `open_db` to create or `open_existing` to only read."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AdvisoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, key: str) -> list[OsvRecord]:
        """Every stored record naming the normalised project `key`."""
        rows = self._query(
            "SELECT r.id, r.json FROM packages p JOIN records r ON r.id = p.id WHERE p.key = ? ORDER BY r.id",
            (key,),
        )
        return [self._parse_stored(rid, text) for rid, text in rows]

    def all_records(self) -> Iterator[OsvRecord]:
        for rid, text in self._query("SELECT id, json FROM records ORDER BY id", ()):
            yield self._parse_stored(rid, text)

    def _parse_stored(self, rid: str, text: str) -> OsvRecord:
        # Records were checked on import; one that fails now means a damaged or foreign database,
        # a fault of the store (exit 2) rather than of the scanned input.
        try:
            return parse_text(text, f"{self.path} record {rid}")
        except AdvisoryFormatError as e:
            raise StoreError(f"{e}; re-import the advisories") from None

    def pypi_answer(self, key: str, version: str) -> tuple[float, str] | None:
        """(fetched at, vulnerabilities JSON) of one release, or None when it was never asked."""
        rows = self._cached(
            "SELECT fetched, vulnerabilities FROM pypi_releases WHERE key = ? AND version = ?", (key, version)
        )
        return (float(rows[0][0]), str(rows[0][1])) if rows else None

    def pypi_answers(self, key: str) -> list[tuple[str, str]]:
        """(version, vulnerabilities JSON) of every cached release of the normalised project `key`."""
        rows = self._cached(
            "SELECT version, vulnerabilities FROM pypi_releases WHERE key = ? ORDER BY version", (key,)
        )
        return [(str(v), str(t)) for v, t in rows]

    def _cached(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, args))
        except sqlite3.OperationalError as e:
            # A database of schema 1 opened read-only: nothing cached yet.
            if "no such table" in str(e):
                return []
            raise StoreError(f"advisory database {self.path} is unreadable: {e}") from None
        except sqlite3.DatabaseError as e:
            raise StoreError(f"advisory database {self.path} is unreadable: {e}") from None

    def store_pypi_answers(self, answers: Iterable[tuple[str, str, float, str]]) -> None:
        """(key, version, fetched at, vulnerabilities JSON) rows, replacing older answers."""
        try:
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO pypi_releases VALUES (?, ?, ?, ?)", list(answers)
                )
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot write the advisory database {self.path}: {e}") from None

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM records", ())[0][0])

    def _query(self, sql: str, args: Sequence[object]) -> list[tuple[str, ...]]:
        try:
            return list(self._conn.execute(sql, args))
        except sqlite3.DatabaseError as e:
            raise StoreError(f"advisory database {self.path} is unreadable: {e}") from None

    def store(self, records: Iterable[OsvRecord], raw: Iterable[str]) -> ImportStats:
        """Store records (with their JSON texts) in one transaction: all of them, or none."""
        added = updated = unchanged = 0
        try:
            with self._conn:
                for record, text in zip(records, raw, strict=True):
                    outcome = self._store_one(record, text)
                    added += outcome == "added"
                    updated += outcome == "updated"
                    unchanged += outcome == "unchanged"
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot write the advisory database {self.path}: {e}") from None
        return ImportStats(added, updated, unchanged)

    def _store_one(self, record: OsvRecord, text: str) -> str:
        row = self._conn.execute("SELECT modified FROM records WHERE id = ?", (record.id,)).fetchone()
        # OSV `modified` is RFC 3339 UTC, so string order is time order.
        if row is not None and row[0] >= record.modified:
            return "unchanged"
        self._conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (record.id, record.modified, text)
        )
        self._conn.execute("DELETE FROM packages WHERE id = ?", (record.id,))
        self._conn.executemany(
            "INSERT OR IGNORE INTO packages VALUES (?, ?)", [(a.key, record.id) for a in record.packages()]
        )
        return "added" if row is None else "updated"


def open_db(path: Path | None = None) -> AdvisoryDB:
    """Open the database for writing, creating it (and its directory) when missing."""
    path = path or default_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(_SCHEMA)
        migrate(conn)
    except (sqlite3.DatabaseError, OSError) as e:
        raise StoreError(f"cannot open the advisory database {path}: {e}") from None
    return AdvisoryDB(conn, path)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else 1


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database up to `SCHEMA_VERSION`, one step at a time, each in one transaction."""
    for version in range(schema_version(conn) + 1, SCHEMA_VERSION + 1):
        with conn:
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(version),))


def open_existing(path: Path | None = None) -> AdvisoryDB | None:
    """Open the database read-only, or None when it does not exist (a scan then uses bundled records)."""
    path = path or default_path()
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM records").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"advisory database {path} is unreadable: {e}") from None
    return AdvisoryDB(conn, path)


# --- reading OSV sources -----------------------------------------------------------------------


def read_sources(paths: Iterable[Path], *, watch: Watch = unwatched) -> list[tuple[OsvRecord, str]]:
    """Every record in the given JSON files, directories of them, or OSV zips, parsed and checked.

    Everything is parsed before anything is stored, so one malformed record rejects the import whole.
    `watch` is shown the records of each directory and zip as they are read.
    """
    found: list[tuple[OsvRecord, str]] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json") if p.is_file())
            found.extend(_read_file(p) for p in watch(files, len(files), str(path)))
        elif zipfile.is_zipfile(path):
            found.extend(read_zip(path, watch=watch))
        elif path.is_file():
            found.append(_read_file(path))
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def _read_file(path: Path) -> tuple[OsvRecord, str]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return _parse_member(data, str(path))


def read_zip(
    source: Path | IO[bytes], label: str | None = None, *, watch: Watch = unwatched
) -> list[tuple[OsvRecord, str]]:
    """The records of an OSV ecosystem zip (`PyPI/all.zip`: one `<id>.json` per record)."""
    name = label or str(source)
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and m.filename.endswith(".json")]
            if len(members) > MAX_ZIP_MEMBERS:
                raise AdvisoryFormatError(f"{name}: more than {MAX_ZIP_MEMBERS} records")
            return [_zip_member(archive, m, name) for m in watch(members, len(members), name)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise AdvisoryFormatError(f"{name}: not a readable zip archive ({e})") from None
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror or e}") from None


def _zip_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> tuple[OsvRecord, str]:
    where = f"{label}:{member.filename}"
    if member.file_size > MAX_RECORD_BYTES:
        raise AdvisoryFormatError(f"{where}: larger than {MAX_RECORD_BYTES} bytes")
    with archive.open(member) as f:
        # The declared size can lie; read one byte past the limit to notice.
        data = f.read(MAX_RECORD_BYTES + 1)
    return _parse_member(data, where)


def _parse_member(data: bytes, where: str) -> tuple[OsvRecord, str]:
    if len(data) > MAX_RECORD_BYTES:
        raise AdvisoryFormatError(f"{where}: larger than {MAX_RECORD_BYTES} bytes")
    record = parse_text(data, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AdvisoryFormatError(f"{where}: not UTF-8") from None
    return record, text


def import_paths(
    paths: Sequence[Path], db_path: Path | None = None, *, watch: Watch = unwatched
) -> ImportStats:
    records = read_sources(paths, watch=watch)
    with closing(open_db(db_path)) as db:
        return db.store((r for r, _ in records), (t for _, t in records))


# --- downloading -------------------------------------------------------------------------------


def update(
    db_path: Path | None = None,
    url: str = OSV_PYPI_ZIP,
    timeout: float = DOWNLOAD_TIMEOUT,
    *,
    watch: Watch = unwatched,
) -> ImportStats:
    """Download the OSV PyPI zip and import it; FetchError (one line) when the source is unreachable."""
    with tempfile.TemporaryFile() as tmp:
        download(url, tmp, timeout)
        tmp.seek(0)
        records = read_zip(tmp, url, watch=watch)
    with closing(open_db(db_path)) as db:
        return db.store((r for r, _ in records), (t for _, t in records))


def download(url: str, out: IO[bytes], timeout: float) -> None:
    if not url.startswith(("https://", "http://", "file://")):
        raise UsageError(f"unsupported advisory source {url!r}: use an http(s) or file URL")
    try:
        httpx = _httpx() if url.startswith("http") else None
        if httpx is not None:
            _download_httpx(httpx, url, out, timeout)
        else:
            _download_urllib(url, out, timeout)
    except FetchError:
        raise
    except Exception as e:  # noqa: BLE001 - any transport failure becomes one line, never a traceback
        raise FetchError(f"cannot download advisories from {url}: {_reason(e)}") from None


def _httpx() -> Any | None:
    """httpx when it is installed (it is optional); imported by name so its absence is not an error."""
    try:
        return importlib.import_module("httpx")
    except ImportError:
        return None


def _download_httpx(httpx: Any, url: str, out: IO[bytes], timeout: float) -> None:
    with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        response.raise_for_status()
        _copy(response.iter_bytes(), out, url)


def _download_urllib(url: str, out: IO[bytes], timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        _copy(iter(lambda: response.read(1 << 20), b""), out, url)


def _copy(chunks: Iterable[bytes], out: IO[bytes], url: str) -> None:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_DOWNLOAD_BYTES:
            raise FetchError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes; refusing")
        out.write(chunk)


def _reason(e: Exception) -> str:
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        e = e.reason if isinstance(e.reason, Exception) else e
    text = str(e).splitlines()[0] if str(e) else ""
    return (text or type(e).__name__)[:200]
