"""The full scan of a real environment: `chainproof deps scan <venv> --format json`.

The environment is built once into bench/.cache/guard-env from bench/data/guard_env_packages.txt
(popular pure and binary distributions with their whole dependency closure pinned, wheels only),
then reused. The scan reads every distribution's metadata, matches the advisories, runs every rule
over every file and checks every installed file against its RECORD. Timed through the CLI as a user
runs it: wall clock of the subprocess, median of 3. `--quick` scans the project's own .venv once
instead (a smaller environment, so no target applies, and nothing to build).
"""

from __future__ import annotations

import statistics

import _common as c
import guard_tools as g

AREA = "guard-scan"
ENV = c.CACHE / "guard-env"
TARGET_SECONDS = 10.0
MIN_DISTRIBUTIONS = 150
ROUNDS = 3


def measure(cfg: c.Config) -> list[c.Figure]:
    if cfg.quick:
        venv, label = c.BENCH.parent / ".venv", "the project's .venv"
    else:
        g.ensure_venv(ENV, g.env_pip_args(), rebuild=cfg.rebuild)
        venv, label = ENV, "bench/.cache/guard-env"
    files, size = g.tree_size(g.site_packages(venv))
    rounds = 1 if cfg.quick else ROUNDS
    times: list[float] = []
    report = None
    for i in range(rounds):
        took, report = g.timed_scan([venv])
        times.append(took)
        c.say(f"{AREA}: scan {i + 1}/{rounds} of {label}: {took:.2f} s")
    assert report is not None
    dists = len(report["packages"])
    full = venv == ENV
    errors = len(report["summary"]["errors"])
    note = (
        f"{label}: {dists} distributions, {files:,} files, {size / 1e6:,.0f} MB; "
        f"rounds {', '.join(f'{t:.2f}' for t in times)} s; findings: {g.severity_counts(report)}"
        + (f"; {errors} read errors" if errors else "")
    )
    return [
        c.Figure(
            AREA,
            f"full scan, {dists} distributions (median of {rounds})",
            statistics.median(times),
            "s",
            TARGET_SECONDS if full else None,
            at_most=True,
            note=note,
        ),
        c.Figure(AREA, "  distributions in the environment", dists, "", MIN_DISTRIBUTIONS if full else None),
        c.Figure(AREA, "  files scanned", files, "files"),
        c.Figure(AREA, "  bytes scanned", size / 1e6, "MB"),
        c.Figure(AREA, "  scan throughput", size / 1e6 / statistics.median(times), "MB/s"),
    ]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
