"""chainproof and GuardDog on the same wheel files: the wheels of bench/data/guard_env_packages.txt.

- chainproof: one `chainproof deps scan w1.whl ... wN.whl --format json` call over all the files
  (as a user or CI scans a download directory), wall clock, median of 3;
- GuardDog (PyPI `guarddog`, in its own venv bench/.cache/guarddog-venv; 3.x matches its rules
  with its own Python analysis and yara, no semgrep): `guarddog pypi scan <wheel> --output-format
  json`, one call per file since it scans one package per call, run one after the other, wall clock
  summed; each call may take PER_CALL_TIMEOUT.

The wheels are downloaded once (`pip download --only-binary :all: --no-deps`) into
bench/.cache/guard-wheels. GuardDog scans all of them by default (about 4 minutes here);
`--guard-sample N` gives it N wheels spread evenly over the sorted set instead (3 with `--quick`).
chainproof scans the same files, so the ratio is measured either way, and the whole-set GuardDog
time is then extrapolated from its mean per wheel (labelled so; chainproof's whole-set time is
measured). Both tools' own findings are counted too.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

import _common as c
import guard_tools as g

AREA = "guard-peer"
WHEELS = c.CACHE / "guard-wheels"
GUARDDOG_VENV = c.CACHE / "guarddog-venv"
TARGET_RATIO = 20.0
PER_CALL_TIMEOUT = 600.0
QUICK_SAMPLE = 3


@dataclass(frozen=True)
class DogResult:
    """One GuardDog call: its wall time, its issue count, the risks it names, or why it failed."""

    seconds: float
    issues: int = 0
    risks: int = 0
    error: str = ""


def guarddog_exe() -> Path:
    g.ensure_venv(GUARDDOG_VENV, ["guarddog"])
    return GUARDDOG_VENV / "bin" / "guarddog"


def guarddog_scan(exe: Path, artifact: Path, timeout: float = PER_CALL_TIMEOUT) -> DogResult:
    """`guarddog pypi scan ARTIFACT --output-format json`; a timeout counts as its full wait."""
    cmd = [str(exe), "pypi", "scan", str(artifact), "--output-format", "json"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return DogResult(time.perf_counter() - t0, error=f"timed out after {timeout:.0f} s")
    took = time.perf_counter() - t0
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return DogResult(took, error=f"exit {proc.returncode}: {tail}"[:200])
    issues = int(report.get("issues") or 0)
    errors = report.get("errors") or {}
    error = f"rule errors: {', '.join(sorted(errors))}"[:200] if errors else ""
    return DogResult(took, issues, len(report.get("risks") or []), error)


def pinned() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in g.read_list(g.ENV_LIST):
        name, _, version = line.partition("==")
        out[canonicalize_name(name)] = version
    return out


def _matching(wheels: list[Path], pins: dict[str, str]) -> list[Path]:
    out = []
    for w in wheels:
        name, version, _, _ = parse_wheel_filename(w.name)
        if pins.get(canonicalize_name(name)) == str(version):
            out.append(w)
    return sorted(out, key=lambda p: p.name.lower())


def wheel_set() -> list[Path]:
    """One wheel per pinned distribution, downloaded on the first run."""
    pins = pinned()
    have = _matching(sorted(WHEELS.glob("*.whl")), pins)
    if len(have) < len(pins):
        c.say(f"{AREA}: downloading the {len(pins)} wheels into {WHEELS.relative_to(c.BENCH.parent)}")
        WHEELS.mkdir(parents=True, exist_ok=True)
        cmd = [g.base_python(), "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        cmd += ["--only-binary", ":all:", "--no-deps", "-d", str(WHEELS), "-r", str(g.ENV_LIST)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        have = _matching(sorted(WHEELS.glob("*.whl")), pins)
    return have


def spread(items: list[Path], n: int | None) -> list[Path]:
    """n items spread evenly over the list (all of them when n is None or too large)."""
    if n is None or n >= len(items):
        return items
    return [items[i * len(items) // n] for i in range(max(1, n))]


def measure(cfg: c.Config) -> list[c.Figure]:
    wheels = wheel_set()
    wanted = cfg.guard_sample if cfg.guard_sample is not None else QUICK_SAMPLE if cfg.quick else None
    sample = spread(wheels, wanted or None)
    sampled = len(sample) < len(wheels)
    size = sum(w.stat().st_size for w in sample)
    rounds = 1 if cfg.quick else 3

    times: list[float] = []
    report = None
    for _ in range(rounds):
        took, report = g.timed_scan(sample)
        times.append(took)
    assert report is not None
    ours = statistics.median(times)
    ours_flagged = len({f["package"] for f in report["findings"] if f["severity"] in ("high", "critical")})
    c.say(f"{AREA}: chainproof, {len(sample)} wheels in one call: {ours:.2f} s")

    exe = guarddog_exe()
    dog: list[DogResult] = []
    for i, wheel in enumerate(sample, 1):
        dog.append(guarddog_scan(exe, wheel))
        c.say(f"{AREA}: GuardDog {i}/{len(sample)} {wheel.name[:50]}: {dog[-1].seconds:.1f} s")
    theirs = sum(d.seconds for d in dog)
    failed = [d for d in dog if d.error]
    what = f"{len(sample)} wheels, {size / 1e6:,.0f} MB"
    dog_note = (
        f"one call per wheel, one after the other; {sum(d.issues > 0 for d in dog)} wheels with issues, "
        f"{sum(d.risks > 0 for d in dog)} with risks"
        + (f"; {len(failed)} calls failed or timed out, e.g. {failed[0].error}" if failed else "")
    )
    figures = [
        c.Figure(
            AREA,
            f"GuardDog time / chainproof time, same {len(sample)} wheels",
            theirs / ours,
            "x",
            TARGET_RATIO,
            note=what + (f", spread over the {len(wheels)}" if sampled else ""),
        ),
        c.Figure(
            AREA,
            f"  chainproof, {len(sample)} wheels (one call)",
            ours,
            "s",
            note=f"rounds {', '.join(f'{t:.2f}' for t in times)} s; {ours_flagged} wheels with high or worse",
        ),
        c.Figure(AREA, f"  GuardDog, {len(sample)} wheels", theirs, "s", note=dog_note),
        c.Figure(AREA, "  GuardDog per wheel (median)", statistics.median(d.seconds for d in dog), "s"),
    ]
    if sampled and not cfg.quick:
        whole, _ = g.timed_scan(wheels)
        estimate = theirs / len(sample) * len(wheels)
        figures += [
            c.Figure(AREA, f"  chainproof, all {len(wheels)} wheels (one call)", whole, "s"),
            c.Figure(
                AREA,
                f"  GuardDog, all {len(wheels)} wheels (EXTRAPOLATED)",
                estimate,
                "s",
                note=f"mean of the {len(sample)} sampled wheels x {len(wheels)}; not measured",
            ),
            c.Figure(AREA, "  ratio on all wheels (EXTRAPOLATED)", estimate / whole, "x"),
        ]
    return figures


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
