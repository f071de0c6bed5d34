"""False positives: chainproof over the newest release of the 1,000 most-downloaded PyPI projects.

bench/data/top_pypi_1000.txt holds the names (the first 1,000 of the typosquat rules' ranking, see
scripts/gen_top_pypi.py). For each: the latest version's wheel (pure, else CPython 3.11 manylinux
x86_64), else its sdist, fetched from PyPI's JSON API and cached under bench/.cache/top1000/
(see guard_pypi.py; artifacts over 200 MB are skipped). Each artifact is scanned in-process with
`chainproof.deps.scan.scan`, one artifact per task over a pool of one worker per core. These are
popular, trusted releases: a project with a finding at high or critical counts as a false positive.
Target: at most 1% of the projects.

Every high or critical finding is written to bench/.cache/top1000-findings.json (a run over the
first N only writes bench/.cache/topN-findings.json).
`--guarddog-fp` also runs GuardDog on every artifact (one call each, at most 60 s), most downloaded
first; its results are kept in bench/.cache/top1000-guarddog.jsonl
so an interrupted run resumes, and a later run reports whatever part is there, labelled with the
number of projects it covers. `--quick` takes the first 30 projects; `--top-n N` the first N.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c
import guard_peer
import guard_pypi
import guard_tools as g
from chainproof.deps.model import Severity
from chainproof.deps.report.json_report import finding_obj
from chainproof.deps.scan import scan
from chainproof.errors import UsageError

AREA = "guard-fp"
ARTIFACTS = c.CACHE / "top1000"
FINDINGS = c.CACHE / "top1000-findings.json"
DOG_RESULTS = c.CACHE / "top1000-guarddog.jsonl"
TARGET_PERCENT = 1.0
QUICK_N = 30
DOG_TIMEOUT = 60.0


@dataclass(frozen=True)
class Scanned:
    project: str
    artifact: str
    seconds: float
    high: list[dict[str, Any]]
    errors: list[str]


def _single_process() -> None:
    # Each task is one artifact: the pool already spreads the work, so no nested worker pools.
    os.environ["CHAINPROOF_JOBS"] = "1"


def scan_one(project: str, path: str) -> Scanned:
    t0 = time.perf_counter()
    try:
        result = scan(path)
    except UsageError as e:
        return Scanned(project, Path(path).name, time.perf_counter() - t0, [], [str(e)])
    high = [finding_obj(f) for f in result.at_or_above(Severity.HIGH)]
    return Scanned(project, Path(path).name, time.perf_counter() - t0, high, list(result.errors))


def scan_all(arts: list[guard_pypi.Artifact]) -> tuple[list[Scanned], float]:
    ready = [a for a in arts if not a.skipped]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=ctx, initializer=_single_process) as pool:
        futures = [pool.submit(scan_one, a.project, str(ARTIFACTS / a.filename)) for a in ready]
        out = []
        for i, fut in enumerate(futures, 1):
            out.append(fut.result())
            if i % 50 == 0 or i == len(futures):
                c.say(f"{AREA}: scanned {i}/{len(futures)}")
    return out, time.perf_counter() - t0


def findings_rows(scanned: list[Scanned], versions: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for s in scanned:
        for f in s.high:
            rows.append(
                {"project": s.project, "project_version": versions[s.project], "artifact": s.artifact}
                | {k: f[k] for k in ("rule", "severity", "package", "path", "line", "message", "evidence")}
                | ({"advisory": f["advisory"]["id"]} if f["advisory"] else {})
            )
    return rows


def write_findings(rows: list[dict[str, Any]], scanned: int, skipped: dict[str, str], whole: bool) -> Path:
    """The findings as JSON; a run over part of the list writes beside, not over, the full one."""
    payload = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "projects_scanned": scanned,
        "projects_skipped": skipped,
        "projects_flagged": sorted({r["project"] for r in rows}),
        "by_rule": dict(Counter(r["rule"] for r in rows).most_common()),
        "findings": rows,
    }
    text = json.dumps(payload, indent=1) + "\n"
    if not whole:
        path = c.CACHE / f"top{scanned + len(skipped)}-findings.json"
        path.write_text(text)
        return path
    FINDINGS.write_text(text)
    return FINDINGS


# -- GuardDog on the same artifacts --------------------------------------------------------


def _dog_cache() -> dict[str, dict[str, Any]]:
    if not DOG_RESULTS.exists():
        return {}
    rows = (json.loads(line) for line in DOG_RESULTS.read_text().splitlines() if line.strip())
    return {r["artifact"]: r for r in rows}


def run_guarddog(arts: list[guard_pypi.Artifact]) -> None:
    """GuardDog on each artifact not yet in the results file, appending as it goes."""
    exe = guard_peer.guarddog_exe()
    done = _dog_cache()
    todo = [a for a in arts if not a.skipped and a.filename not in done]
    with DOG_RESULTS.open("a") as out:
        for i, a in enumerate(todo, 1):
            r = guard_peer.guarddog_scan(exe, ARTIFACTS / a.filename, DOG_TIMEOUT)
            row = {"project": a.project, "artifact": a.filename, "seconds": round(r.seconds, 2)}
            out.write(json.dumps(row | {"issues": r.issues, "risks": r.risks, "error": r.error}) + "\n")
            out.flush()
            if i % 10 == 0 or i == len(todo):
                c.say(f"{AREA}: GuardDog {i}/{len(todo)} ({a.project})")


def guarddog_figures(arts: list[guard_pypi.Artifact]) -> list[c.Figure]:
    done = _dog_cache()
    rows = [done[a.filename] for a in arts if not a.skipped and a.filename in done]
    if not rows:
        return []
    total = sum(not a.skipped for a in arts)
    part = "" if len(rows) == total else f" (PARTIAL: {len(rows)} of {total})"
    ok = [r for r in rows if not r["error"]]
    failed = len(rows) - len(ok)
    note = (
        f"the {len(rows)} most downloaded of the scanned projects; "
        f"{sum(r['seconds'] for r in rows) / 60:,.0f} min of GuardDog; {failed} calls failed or hit "
        f"the {DOG_TIMEOUT:.0f} s limit; 'risks' is GuardDog's own combined risk assessment"
    )
    return [
        c.Figure(
            AREA, f"GuardDog: projects with any issue{part}", sum(r["issues"] > 0 for r in ok), "", note=note
        ),
        c.Figure(AREA, f"GuardDog: projects with a risk{part}", sum(r["risks"] > 0 for r in ok), ""),
        c.Figure(AREA, f"GuardDog: projects covered{part}", len(rows), ""),
    ]


# -- the area ------------------------------------------------------------------------------


def measure(cfg: c.Config) -> list[c.Figure]:
    every = g.read_list(g.TOP_LIST)
    names = every[: cfg.top_n or (QUICK_N if cfg.quick else None)]
    arts = guard_pypi.fetch_all(names, ARTIFACTS)
    skipped = {a.project: a.skipped for a in arts if a.skipped}
    scanned, seconds = scan_all(arts)
    versions = {a.project: a.version for a in arts}
    rows = findings_rows(scanned, versions)
    written = write_findings(rows, len(scanned), skipped, whole=len(names) == len(every))
    flagged = {r["project"] for r in rows}
    by_rule = Counter(r["rule"] for r in {(r["project"], r["rule"]): r for r in rows}.values())
    wheels = sum(s.artifact.endswith(".whl") for s in scanned)
    read_errors = sum(bool(s.errors) for s in scanned)
    size = sum(a.size for a in arts if not a.skipped)
    percent = 100 * len(flagged) / max(1, len(scanned))
    figures = [
        c.Figure(
            AREA,
            f"top-{len(names)} projects with a high/critical finding",
            percent,
            "%",
            TARGET_PERCENT,
            at_most=True,
            note=(
                f"{len(flagged)} of {len(scanned)} projects; by rule (projects): "
                + (", ".join(f"{rule} {n}" for rule, n in by_rule.most_common()) or "none")
                + f"; all findings in {written.relative_to(c.BENCH.parent)}"
            ),
        ),
        c.Figure(AREA, "  projects flagged", len(flagged), ""),
        c.Figure(
            AREA,
            "  projects scanned",
            len(scanned),
            "",
            note=f"{wheels} wheels, {len(scanned) - wheels} sdists, {size / 1e9:.2f} GB; "
            f"{len(skipped)} skipped ({'; '.join(sorted(set(skipped.values()))) or 'none'}); "
            f"{read_errors} with read errors",
        ),
        c.Figure(AREA, f"  chainproof scan of all {len(scanned)} artifacts", seconds, "s"),
    ]
    if cfg.guarddog_fp:
        run_guarddog(arts)
    return figures + guarddog_figures(arts)


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
