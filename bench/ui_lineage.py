"""The web UI: the lineage view of a model trained on 1,000 datasets (each ingested by a hop of
its own), drawn in Debian's headless Chromium against `chainproof serve` on loopback.

The time is the page's own (Performance API): from the route's start (the hash changed) to the
frame after the graph was added to the page, laid out and painted; it includes the signed
`GET /v1/lineage` request and the server's answer. The first view is taken after sign-in, then
the view is opened again, away and back, `ROUNDS` times (the server's lineage index is warm).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

import _common as c
from chainproof.attest import keys
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody, hop_record
from chainproof.log.service import TransparencyLog

AREA = "ui"
INPUTS = 1000
ROUNDS = 10
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
)  # fmt: skip
MODEL = Digest("sha256:" + "ab" * 32)


def _store(directory: Path, inputs: int) -> Path:
    """A log whose recorder ingested `inputs` datasets, one hop each, and trained MODEL on them."""
    log = TransparencyLog.create(directory, "bench.example/ui")
    custody = Custody(log)
    admin, _ = log.admin_key()
    key = keys.generate()
    key_file = directory.parent / "recorder.pem"
    keys.write_private(key_file, key)
    log.register_key("recorder", key)
    custody.add_actor(
        "recorder", role="recorder", organisation="bench", keyid=keys.keyid(key.public_key()), admin=admin
    )
    datasets = [Digest(f"sha256:{i:064x}") for i in range(1, inputs + 1)]
    custody.record_many([hop_record(Hop.INGEST, outputs=[d]) for d in datasets], key)
    custody.record_many([hop_record(Hop.TRAIN, inputs=datasets, outputs=[MODEL])], key)
    custody.close()
    return key_file


def _browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(120)
    return driver


def _view(driver: webdriver.Chrome, route: str) -> float:
    """Open `route` (a lineage) and wait for its graph: the page's measure of it, in seconds."""
    driver.execute_script("performance.clearMeasures('lineage'); location.hash = arguments[0]", route)
    WebDriverWait(driver, 120).until(
        lambda d: d.execute_script("return performance.getEntriesByName('lineage').length > 0")
    )
    nodes = driver.execute_script("return document.querySelectorAll('svg.graph .node').length")
    assert nodes == 2 * INPUTS + 2, nodes  # the datasets, their ingests, the train hop, the model
    return float(driver.execute_script("return performance.getEntriesByName('lineage')[0].duration")) / 1000


def measure(cfg: c.Config) -> list[c.Figure]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        c.say("ui: skipped (needs chromium and chromium-driver)")
        return []
    work = c.fresh_dir("ui")
    c.say(f"ui: a model trained on {INPUTS:,} datasets")
    key_file = _store(work / "store", INPUTS)
    rounds = 3 if cfg.quick else ROUNDS
    profile = tempfile.mkdtemp(prefix="chainproof-bench-chromium-")
    with c.serving(work / "store", work) as (url, _):
        driver = _browser(profile)
        try:
            driver.get(url + "/ui/")
            driver.find_element("css selector", "#keyfile").send_keys(str(key_file))
            WebDriverWait(driver, 60).until(lambda d: "Signed in" in d.find_element("id", "who").text)
            route = f"#/lineage/{MODEL}"
            first = _view(driver, route)
            times = []
            for _ in range(rounds):
                driver.execute_script("location.hash = '#/witnesses'")
                time.sleep(0.2)
                times.append(_view(driver, route))
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    c.say(f"ui: first view {first * 1000:.0f} ms; again {', '.join(f'{t * 1000:.0f}' for t in times)} ms")
    note = f"{INPUTS:,} inputs, {2 * INPUTS + 2:,} nodes; median of {rounds}"
    return [
        c.Figure(AREA, "lineage view, first after sign-in", first * 1000, "ms", 1000, at_most=True),
        c.Figure(AREA, "lineage view, again", c.quantile(times, 0.5) * 1000, "ms", 1000, True, note),
        c.Figure(AREA, "lineage view, again, slowest", max(times) * 1000, "ms", 1000, True),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    c.standalone(__doc__ or "", measure)
