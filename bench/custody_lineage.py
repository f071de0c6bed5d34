"""The chain of custody at scale: a synthetic log of hop records with realistic fan-in and fan-out.

- record: hops signed and appended through the library (`Custody.record_many`, batches of 1,000;
  every signature is verified by the log's admission, and the lineage index keeps up as it goes);
  signing is included, the data the records name is not hashed (digests are synthetic);
- impact: `Custody.impact_of_package` for a package in about 1 % of the training environments;
- verify: `Custody.verify` of a model 10 levels deep with 1,000 inputs at the bottom;
- rebuild: the lineage index dropped and rebuilt from the log;
- peak RSS of the process that did all of it.

The mix, per 100 hops: 8 ingests, 30 annotations, 34 transforms (2 to 6 inputs, 1 or 2 outputs),
10 trainings (3 to 12 inputs, in one of 50 environments of 40 packages), 9 evaluations, 9
releases. Inputs are drawn mostly from recent artifacts, as a pipeline's are. The compromised
package was installed only in the window of `INCIDENT_HOPS` hops in the middle of the log (its
three hours on the index): impact's answer, and so its time, grows with that window and with how
far downstream its taint runs, not with the size of the log.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import _common as c
from chainproof.attest import keys
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest, Environment, HopRecord, Package
from chainproof.custody.service import Custody, hop_record
from chainproof.lineage.index import INDEX_FILE, rebuild
from chainproof.log.service import ADMIN_FILE, TransparencyLog
from chainproof.policy import parse, template

AREA = "custody"
ORIGIN = "bench.chainproof.dev/custody"
BATCH = 1_000
ENVIRONMENTS = 50
PACKAGES = 40
BAD = ("litellm", "1.82.8")
WINDOW = 2_000
"""Inputs are drawn from the last WINDOW datasets (or models) made."""
INCIDENT_HOPS = 3_000
"""The stretch of the log during which trainings ran with `BAD` installed."""
_TIME = "2026-03-24T10:00:00Z"


def _digest(*parts: object) -> Digest:
    return Digest("sha256:" + hashlib.sha256(repr(parts).encode()).hexdigest())


def _environments() -> list[Environment]:
    """50 environments of 40 packages; the first holds `BAD`."""
    out = []
    for e in range(ENVIRONMENTS):
        packages = [
            Package(name=f"pkg-{p:03d}", version=f"1.{(p + e) % 7}.0", record_sha256=None)
            for p in range(PACKAGES)
        ]
        if e == 0:
            packages[-1] = Package(name=BAD[0], version=BAD[1], record_sha256=None)
        out.append(
            Environment(
                python=f"/opt/envs/{e}",
                sbom=_digest("sbom", e),
                packages=tuple(packages),
                credentials=("AWS_SECRET_ACCESS_KEY", "HF_TOKEN"),
            )
        )
    return out


def synthetic_hops(n: int, seed: int = c.SEED) -> Iterator[HopRecord]:
    rng = random.Random(seed)
    envs = _environments()
    datasets: list[Digest] = []
    models: list[Digest] = []

    def recent(pool: list[Digest], k: int) -> list[Digest]:
        if len(pool) > 2 * WINDOW:  # only the window is ever drawn from: the rest is not kept
            del pool[:-WINDOW]
        window = pool[-WINDOW:]
        return rng.sample(window, min(k, len(window)))

    for i in range(n):
        roll = rng.randrange(100)
        if roll < 8 or len(datasets) < 20:
            out = _digest("raw", i)
            datasets.append(out)
            details = {"location": f"s3://vendor-{i % 13}/raw/{i}/", "classification": "internal"}
            yield hop_record(Hop.INGEST, outputs=[out], details=details, time=_TIME)
        elif roll < 38:
            out = _digest("labels", i)
            yield hop_record(Hop.ANNOTATE, inputs=recent(datasets, 1), outputs=[out], time=_TIME)
            datasets.append(out)
        elif roll < 72:
            outs = [_digest("derived", i, k) for k in range(rng.randint(1, 2))]
            yield hop_record(
                Hop.TRANSFORM, inputs=recent(datasets, rng.randint(2, 6)), outputs=outs, time=_TIME
            )
            datasets += outs
        elif roll < 82 or not models:
            out = _digest("model", i)
            # The compromised release was live for a few hours: the trainings of that window (about
            # 300 of them, wherever the window falls) ran in the environment that holds it.
            bad = n // 2 <= i < n // 2 + INCIDENT_HOPS
            env = envs[0] if bad else envs[1 + rng.randrange(ENVIRONMENTS - 1)]
            ins = recent(datasets, rng.randint(3, 12))
            yield hop_record(Hop.TRAIN, inputs=ins, outputs=[out], environment=env, time=_TIME)
            models.append(out)
        else:
            if roll < 91:
                yield hop_record(
                    Hop.EVALUATE, inputs=recent(models, 1), details={"suite": f"s-{i}"}, time=_TIME
                )
            else:
                yield hop_record(
                    Hop.RELEASE, inputs=recent(models, 1), details={"channel": f"c-{i}"}, time=_TIME
                )


def deep_model(tag: str) -> list[HopRecord]:
    """A model 10 levels deep: 1,000 ingested datasets, folded ten at a time into 100, 10 and 1,
    then a chain of six transforms, then the training: 1,118 hops."""
    raw = [_digest(tag, "raw", i) for i in range(1000)]
    hops = [hop_record(Hop.INGEST, outputs=[d], time=_TIME) for d in raw]
    level = raw
    for depth in range(3):
        nxt = [_digest(tag, "fold", depth, j) for j in range(len(level) // 10)]
        hops += [
            hop_record(Hop.TRANSFORM, inputs=level[j * 10 : j * 10 + 10], outputs=[d], time=_TIME)
            for j, d in enumerate(nxt)
        ]
        level = nxt
    for step in range(6):
        d = _digest(tag, "chain", step)
        hops.append(hop_record(Hop.TRANSFORM, inputs=level, outputs=[d], time=_TIME))
        level = [d]
    model = _digest(tag, "model")
    env = _environments()[1]
    hops.append(hop_record(Hop.TRAIN, inputs=level, outputs=[model], environment=env, time=_TIME))
    return hops


def _store(n: int) -> tuple[Path, float]:
    """A fresh store holding `n` synthetic hops and the deep model; the seconds the hops took."""
    directory = c.fresh_dir(f"custody-{n}")
    log = TransparencyLog.create(directory, ORIGIN)
    key = c.actor_key()
    log.register_key("bench-recorder", key)
    custody = Custody(log)
    admin = keys.read_private(directory / ADMIN_FILE)
    custody.add_actor(
        "bench-recorder", role="recorder", organisation="lab", keyid=keys.keyid(key.public_key()), admin=admin
    )
    c.say(f"recording {n:,} hops through Custody.record_many, {BATCH:,} a transaction")
    batch: list[HopRecord] = []
    spent = 0.0
    done = 0
    for hop in synthetic_hops(n):
        batch.append(hop)
        if len(batch) == BATCH:
            t0 = time.perf_counter()
            custody.record_many(batch, key)
            spent += time.perf_counter() - t0
            done += len(batch)
            batch = []
            if done % 100_000 == 0:
                c.say(f"  {done:,} hops, {done / spent:,.0f}/s")
    if batch:
        t0 = time.perf_counter()
        custody.record_many(batch, key)
        spent += time.perf_counter() - t0
    deep = deep_model("deep")
    for offset in range(0, len(deep), BATCH):
        custody.record_many(deep[offset : offset + BATCH], key)
    custody.close()
    return directory, spent


HOPS_ENV = "CHAINPROOF_BENCH_CUSTODY_HOPS"
"""Hops in the synthetic log: 1,000,000 for `make bench`, 20,000 with --quick, this when set."""


def measure(cfg: c.Config) -> list[c.Figure]:
    n = int(os.environ.get(HOPS_ENV) or (20_000 if cfg.quick else 1_000_000))
    directory, spent = _store(n)
    custody = Custody.open(directory)
    try:
        c.say("impact --package litellm==1.82.8, 7 times, each on a freshly opened store")
        impacts = []
        for _ in range(7):
            # Cold, as a command runs it: nothing parsed by an earlier query is kept.
            fresh = Custody.open(directory)
            t0 = time.perf_counter()
            report = fresh.impact_of_package(*BAD)
            impacts.append(time.perf_counter() - t0)
            fresh.close()
        c.say("verify of the deep model, 5 times, each on a freshly opened store")
        policy_checks = []
        policy = parse(template())
        model = _digest("deep", "model")
        for _ in range(5):
            fresh = Custody.open(directory)
            t0 = time.perf_counter()
            verified = fresh.verify(model, policy)
            policy_checks.append(time.perf_counter() - t0)
            fresh.close()
        if len(verified.hops) != 1118 or len(verified.roots) != 1000:
            raise RuntimeError(
                f"the deep model's walk found {len(verified.hops)} hops and {len(verified.roots)} roots"
            )
        size = custody.log.size()
    finally:
        custody.close()
    c.say("rebuilding the lineage index from the log")
    log = TransparencyLog.open(directory)
    try:
        with log.reading() as r:
            t0 = time.perf_counter()
            rebuilt = rebuild(directory, r, log.read_only_opener())
            rebuild_s = time.perf_counter() - t0
    finally:
        log.close()
    # The index's parsing workers are children: the peak is the largest of this process and them.
    peak = (
        max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        / 1024
    )
    index_mb = (directory / INDEX_FILE).stat().st_size / 1e6
    shutil.rmtree(directory)
    return [
        c.Figure(
            AREA,
            f"hops recorded through the library, to {n:,}",
            n / spent,
            "hops/s",
            5_000,
            note=f"Custody.record_many, {BATCH:,} hops a transaction, signed and verified; each batch's "
            "inputs checked against what the recorder made, else against the lineage index",
        ),
        c.Figure(
            AREA,
            f"impact --package at {n:,} hops (median of 7)",
            statistics.median(impacts) * 1000,
            "ms",
            200,
            at_most=True,
            note=f"{len(report.environments)} environments, {len(report.runs)} runs, "
            f"{len(report.models)} models, {len(report.datasets)} datasets affected",
        ),
        c.Figure(
            AREA,
            "verify, model 10 levels deep with 1,000 inputs (median of 5)",
            statistics.median(policy_checks) * 1000,
            "ms",
            1000,
            at_most=True,
            note="1,118 hops checked against the template policy, the environment against today's advisories",
        ),
        c.Figure(
            AREA,
            f"lineage index rebuilt from {size:,} entries",
            rebuilt / rebuild_s,
            "records/s",
            50_000,
            note=f"index file {index_mb:,.0f} MB",
        ),
        c.Figure(
            AREA,
            "peak RSS of all the above",
            peak,
            "MB",
            300,
            at_most=True,
            note="the largest of the bench process and the index's parsing workers",
        ),
    ]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
