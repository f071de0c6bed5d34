"""Run every benchmark area and print one table of figures beside their targets.

    .venv/bin/python bench/run.py                  # the full run: logs of 1M and 10M entries
    .venv/bin/python bench/run.py --quick          # a smoke run with small sizes
    .venv/bin/python bench/run.py --sizes 1M,10M --areas build,proofs
    .venv/bin/python bench/run.py --areas guard-scan,guard-peer,guard-fp   # the dependency guard
    .venv/bin/python bench/run.py --areas guard-malware    # recall on real malware, with guard-fp
    .venv/bin/python bench/run.py --areas manifest         # dataset manifests on ~2 GB
    .venv/bin/python bench/run.py --areas custody          # 1,000,000 hop records: record, impact, verify
    .venv/bin/python bench/run.py --areas server           # 32 HTTP clients: signed appends, proof reads
    .venv/bin/python bench/run.py --areas witness          # the witness cosigning round trip
    .venv/bin/python bench/run.py --areas ui               # the web UI's lineage view in Chromium
    .venv/bin/python bench/run.py --areas vault            # data push/pull of 2 GB against a file copy

Large logs, the dependency guard's environment, wheels and PyPI downloads are built or fetched once
and cached under bench/.cache/ (`--rebuild` builds them again). Nothing is written outside
bench/.cache/ except the optional --json file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable

import _common as c
import custody_lineage
import guard_env
import guard_fp
import guard_malware
import guard_peer
import log_append
import log_audit
import log_build
import log_proofs
import manifest
import peer_pymerkle
import server_http
import ui_lineage
import vault_transfer
import witness_roundtrip

AREAS: dict[str, Callable[[c.Config], list[c.Figure]]] = {
    "build": log_build.measure,
    "append": log_append.measure,
    "proofs": log_proofs.measure,
    "audit": log_audit.measure,
    "peer": peer_pymerkle.measure,
    "guard-scan": guard_env.measure,
    "guard-peer": guard_peer.measure,
    "guard-fp": guard_fp.measure,
    "guard-malware": guard_malware.measure,
    "manifest": manifest.measure,
    "custody": custody_lineage.measure,
    "server": server_http.measure,
    "witness": witness_roundtrip.measure,
    "ui": ui_lineage.measure,
    "vault": vault_transfer.measure,
}


def _areas(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in AREAS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    c.add_options(parser)
    parser.add_argument("--areas", type=_areas, default=list(AREAS), help=f"some of {','.join(AREAS)}")
    args = parser.parse_args()
    cfg = c.config_from(args)
    info = c.machine()
    info["probe at start"] = c.speed_probe()
    print(c.header(info))
    print(
        f"sizes    {', '.join(f'{s:,}' for s in cfg.sizes)}; appends {cfg.append_n:,}; "
        f"DSSE {cfg.dsse_n:,}; pymerkle {cfg.peer_n:,}; {cfg.samples:,} proofs per kind and size"
    )
    sys.stdout.flush()
    figures: list[c.Figure] = []
    t0 = time.perf_counter()
    for name in args.areas:
        c.say(f"== {name}")
        # An area that wrote gigabytes (a 10M build) leaves them to the kernel's writeback, which
        # the next area's fsyncs would otherwise wait behind.
        os.sync()
        figures += AREAS[name](cfg)
        if name == "build":
            cfg = dataclasses.replace(cfg, rebuild=False)  # built once is enough
    c.say(f"all areas done in {time.perf_counter() - t0:,.0f} s")
    info["probe at end"] = c.speed_probe()
    print(f"{'probe at end':14s} {info['probe at end']}")
    return c.finish(cfg, info, figures)


if __name__ == "__main__":
    sys.exit(main())
