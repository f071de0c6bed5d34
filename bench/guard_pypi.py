"""Fetch the newest release artifact of PyPI projects for the dependency-guard benchmarks.

For each project: the latest version's wheel (pure `py3-none-any` first, then a CPython 3.11
manylinux x86_64 or abi3 wheel), else its sdist, else any other wheel. Artifacts are checked
against the sha256 PyPI publishes and cached under bench/.cache/top1000/, so later runs reuse them;
an index file there remembers what was chosen (or why nothing was) for every project.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

MAX_BYTES = 200 * 1024 * 1024
THREADS = 8
TIMEOUT = 60
USER_AGENT = "chainproof-bench/1 (+https://pypi.org)"


@dataclass(frozen=True)
class Artifact:
    """What was chosen for one project: a file name under the cache, or the reason there is none."""

    project: str
    version: str
    filename: str
    size: int
    sha256: str
    url: str
    skipped: str = ""  # non-empty: no artifact, and why


def _is_pure(filename: str) -> bool:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return any(t.abi == "none" and t.platform == "any" and t.interpreter.startswith("py3") for t in tags)


def _cp311_manylinux(filename: str) -> bool:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    for t in tags:
        linux = ("manylinux" in t.platform or t.platform == "linux_x86_64") and t.platform.endswith("x86_64")
        if not linux:
            continue
        if t.interpreter == "cp311" or (t.abi == "abi3" and re.fullmatch(r"cp3\d+", t.interpreter)):
            if t.abi == "abi3" and int(t.interpreter[3:]) > 11:
                continue
            return True
        if t.abi == "none" and t.interpreter.startswith("py3"):
            return True
    return False


def preference(entry: dict[str, Any]) -> int | None:
    """Lower is better; None: not a candidate (yanked, too big, or neither wheel nor sdist)."""
    filename = str(entry.get("filename", ""))
    if entry.get("yanked") or int(entry.get("size") or 0) > MAX_BYTES:
        return None
    kind = entry.get("packagetype")
    if kind == "bdist_wheel":
        if _is_pure(filename):
            return 0
        if _cp311_manylinux(filename):
            return 1
        return 3
    if kind == "sdist":
        return 2
    return None


def choose(project: str, meta: dict[str, Any]) -> Artifact:
    """The artifact to scan from a project's PyPI JSON (the `urls` of its latest version)."""
    version = str(meta.get("info", {}).get("version", ""))
    files = list(meta.get("urls") or [])
    ranked = sorted(
        ((p, str(e["filename"]), e) for e in files if (p := preference(e)) is not None),
        key=lambda item: (item[0], item[1]),
    )
    if not ranked:
        too_big = any(int(e.get("size") or 0) > MAX_BYTES for e in files)
        why = "every artifact is over 200 MB" if too_big else "no wheel or sdist in the latest release"
        return Artifact(project, version, "", 0, "", "", skipped=why)
    _, filename, e = ranked[0]
    return Artifact(project, version, filename, int(e["size"]), str(e["digests"]["sha256"]), str(e["url"]))


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for attempt in range(3):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == 2:
                raise
            time.sleep(2 * (attempt + 1))
    raise AssertionError("unreachable")


def fetch(project: str, cache: Path) -> Artifact:
    """Choose and download one project's artifact into `cache` (kept when already there)."""
    api = f"https://pypi.org/pypi/{project}/json"
    try:
        meta = json.loads(_get(api))
    except urllib.error.HTTPError as e:
        return Artifact(project, "", "", 0, "", "", skipped=f"PyPI JSON: HTTP {e.code}")
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as e:
        return Artifact(project, "", "", 0, "", "", skipped=f"PyPI JSON: {e}"[:200])
    art = choose(project, meta)
    # Mirrors may give file URLs relative to the JSON document.
    art = dataclasses.replace(art, url=urllib.parse.urljoin(api, art.url)) if art.url else art
    if art.skipped:
        return art
    target = cache / art.filename
    if target.exists() and target.stat().st_size == art.size:
        return art
    try:
        data = _get(art.url)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        return Artifact(project, art.version, "", 0, "", "", skipped=f"download: {e}"[:200])
    if hashlib.sha256(data).hexdigest() != art.sha256:
        return Artifact(project, art.version, "", 0, "", "", skipped="download: sha256 mismatch")
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    part.replace(target)
    return art


def fetch_all(projects: Sequence[str], cache: Path, *, refresh: bool = False) -> list[Artifact]:
    """Every project's artifact, in the order given; eight downloads at a time, progress on stderr.

    The choices are remembered in `cache/index.json`; a remembered file still present on disk is
    not asked for again unless `refresh` (so a cached set stays the same set across runs).
    """
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / "index.json"
    index: dict[str, dict[str, Any]] = {}
    if index_path.exists() and not refresh:
        index = json.loads(index_path.read_text())
    done: dict[str, Artifact] = {}
    for name in projects:
        known = index.get(name)
        if known and (known["skipped"] or (cache / known["filename"]).exists()):
            done[name] = Artifact(**known)
    todo = [p for p in projects if p not in done]
    lock = threading.Lock()
    started = time.perf_counter()

    def one(project: str) -> None:
        art = fetch(project, cache)
        with lock:
            done[project] = art
            n = len(done)
            print(
                f"\r  top projects: {n}/{len(projects)} ready "
                f"({time.perf_counter() - started:,.0f} s) {project[:30]:30s}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    if todo:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(one, todo))
        print(file=sys.stderr)
        index.update({name: asdict(art) for name, art in done.items()})
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return [done[p] for p in projects]


def read_names(path: Path) -> list[str]:
    return [s for line in path.read_text().splitlines() if (s := line.strip()) and not s.startswith("#")]


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    names = read_names(here / "data/top_pypi_1000.txt")[: int(sys.argv[1]) if len(sys.argv) > 1 else None]
    arts = fetch_all(names, here / ".cache/top1000")
    got = [a for a in arts if not a.skipped]
    print(f"{len(got)} artifacts, {sum(a.size for a in got) / 1e9:.2f} GB; {len(arts) - len(got)} skipped")
