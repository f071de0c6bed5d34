"""Build (or reuse) the large raw logs: build time, append rate over the whole build, peak RSS, disk.

Each log is built by a child process (`log_build.py --child DIR SIZE`) so that its peak RSS is its
own; the parent reads it back with getrusage(RUSAGE_CHILDREN). A finished build is cached under
bench/.cache/raw-SIZE/ with a build.json beside log.db, and reused while the store still holds
SIZE entries with the recorded root; `--rebuild` forces a new build.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import _common as c
from chainproof.errors import StoreError
from chainproof.log.service import DB_FILE, root_at
from chainproof.log.sqlite import SqliteStore

AREA = "build"
_INFO = "build.json"


@dataclass(frozen=True)
class BuildInfo:
    size: int
    root: str  # hex
    append_seconds: float  # hashing + writing + checkpoints + commits, leaf generation excluded
    wall_seconds: float  # the child process from start to exit
    segments: list[tuple[int, float]]  # (size reached, leaves/s over the segment before it)
    peak_rss_kb: int
    disk_bytes: int
    tables: dict[str, int]
    built_at: str
    cached: bool = False

    @property
    def rate(self) -> float:
        return self.size / self.append_seconds


def cache_dir(size: int) -> Path:
    return c.CACHE / f"raw-{size}"


# -- the child: build one log --------------------------------------------------------------


def _build_in(directory: Path, size: int) -> dict[str, object]:
    directory.mkdir(parents=True)
    db = directory / DB_FILE
    store = SqliteStore(db, create=True)
    segment = max(c.BATCH, size // 10)
    segments: list[tuple[int, float]] = []
    acc = [0.0]

    def on_batch(reached: int, took: float) -> None:
        acc[0] += took
        if reached % segment == 0 or reached == size:
            done = reached - (segments[-1][0] if segments else 0)
            segments.append((reached, done / acc[0]))
            c.say(f"  {reached:>12,} entries  {done / acc[0]:>9,.0f} leaves/s over the last {done:,}")
            acc[0] = 0.0

    spent = c.append_raw(store, size, on_batch=on_batch)
    with store.reader() as r:
        root = root_at(r, size).hex()
    store.close()
    return {"size": size, "root": root, "append_seconds": spent, "segments": segments}


def child_main(directory: Path, size: int) -> None:
    t0 = time.perf_counter()
    facts = _build_in(directory, size)
    facts["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    facts["child_seconds"] = time.perf_counter() - t0
    (directory / "child.json").write_text(json.dumps(facts))


# -- the parent: reuse or build ------------------------------------------------------------


def _load(size: int) -> BuildInfo | None:
    path = cache_dir(size) / _INFO
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        info = BuildInfo(**{**raw, "segments": [tuple(s) for s in raw["segments"]], "cached": True})
    except (ValueError, TypeError, KeyError):  # written by another version of this script
        return None
    try:
        store = SqliteStore(cache_dir(size) / DB_FILE)
    except StoreError:
        return None
    try:
        with store.reader() as r:
            ok = r.size() == size and root_at(r, size).hex() == info.root
    finally:
        store.close()
    return info if ok else None


def _build(size: int) -> BuildInfo:
    partial = c.CACHE / f"raw-{size}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    c.say(f"building a {size:,}-entry log in a child process, {c.BATCH:,} leaves per transaction")
    before_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", str(partial), str(size)], check=True)
    wall = time.perf_counter() - t0
    after_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    facts = json.loads((partial / "child.json").read_text())
    db = partial / DB_FILE
    info = BuildInfo(
        size=size,
        root=facts["root"],
        append_seconds=facts["append_seconds"],
        wall_seconds=wall,
        segments=[tuple(s) for s in facts["segments"]],
        # RUSAGE_CHILDREN holds the largest peak of any child so far: this child's when it grew;
        # otherwise the child's own RUSAGE_SELF figure is the one.
        peak_rss_kb=after_kb if after_kb > before_kb else facts["peak_rss_kb"],
        disk_bytes=c.disk_bytes(db),
        tables=c.table_bytes(db),
        built_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    (partial / _INFO).write_text(json.dumps(asdict(info), indent=1))
    shutil.rmtree(cache_dir(size), ignore_errors=True)
    partial.rename(cache_dir(size))
    c.say(f"built {size:,} entries in {wall:,.1f} s (appending {info.append_seconds:,.1f} s)")
    return info


def ensure_store(size: int, *, rebuild: bool = False) -> BuildInfo:
    """The cached raw log of `size` entries, built first when missing, stale or asked to."""
    info = None if rebuild else _load(size)
    if info is None:
        return _build(size)
    c.say(f"reusing the cached {size:,}-entry log built {info.built_at} in {info.wall_seconds:,.1f} s")
    return info


# -- figures ---------------------------------------------------------------------------


def _where(info: BuildInfo) -> str:
    return f"cached build of {info.built_at}" if info.cached else "built in this run"


def _disk_note(info: BuildInfo) -> str:
    parts = ", ".join(f"{name} {b / info.size:.0f}" for name, b in info.tables.items() if b / info.size >= 1)
    return f"bytes per entry by table: {parts}"


def figures_for(info: BuildInfo, *, headline: bool) -> list[c.Figure]:
    n = f"{info.size:,}"
    out = [
        c.Figure(AREA, f"build time, {n} entries", info.wall_seconds, "s", note=_where(info)),
        c.Figure(AREA, f"raw appends, mean over the {n} build", info.rate, "leaves/s", 100_000),
    ]
    if not headline:
        return out
    last_size, last_rate = info.segments[-1]
    prev = info.segments[-2][0] if len(info.segments) > 1 else 0
    return [
        *out,
        c.Figure(AREA, f"raw appends, last {last_size - prev:,} of the {n} build", last_rate, "leaves/s"),
        c.Figure(
            AREA,
            f"peak RSS building {n} entries",
            info.peak_rss_kb / 1024,
            "MB",
            200,
            at_most=True,
            note=f"{_where(info)}; child process, ru_maxrss",
        ),
        c.Figure(
            AREA,
            f"bytes on disk per entry, {n} entries",
            info.disk_bytes / info.size,
            "B",
            note=_disk_note(info),
        ),
    ]


def measure(cfg: c.Config) -> list[c.Figure]:
    out: list[c.Figure] = []
    for size in cfg.sizes:
        info = ensure_store(size, rebuild=cfg.rebuild)
        out += figures_for(info, headline=size == cfg.largest)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        c.standalone(__doc__ or "", measure)
