"""The web UI's end-to-end fixtures: one store with a lineage, a use of a grant and an environment
holding credentials; one real server over it; one headless Chromium (Debian's, driven by its
chromedriver through Selenium) shared by a module, since each start costs seconds.

The browser tests skip only when chromium or chromedriver is absent and CHAINPROOF_REQUIRE_CHROMIUM
is unset (CI sets it: there they fail instead)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server_support import serving
from ui_support import Browser, UiWorld, build_world, start_browser

CHROMIUM = os.environ.get("CHAINPROOF_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHAINPROOF_CHROMEDRIVER", "/usr/bin/chromedriver")


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if missing:
        if os.environ.get("CHAINPROOF_REQUIRE_CHROMIUM"):
            pytest.fail(f"CHAINPROOF_REQUIRE_CHROMIUM is set but {', '.join(missing)} is missing")
        pytest.skip(f"the UI tests need {', '.join(missing)} (apt-get install chromium chromium-driver)")


@pytest.fixture
def needs_browser() -> None:
    """Chromium and chromedriver are here (else the test skips, or fails where CI requires them)."""
    _browser_or_skip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiWorld]:
    """The store and a server over it (a private log: every read signed), for one test module."""
    work = tmp_path_factory.mktemp("ui")
    built = build_world(work)
    with serving(built.store.directory, "--private", work=work) as server:
        built.server = server
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _browser_or_skip()
    profile = tempfile.mkdtemp(prefix="chainproof-ui-chromium-")
    started = start_browser(CHROMIUM, CHROMEDRIVER, profile)
    try:
        yield started
    finally:
        started.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the screenshots go: $CHAINPROOF_TEST_ARTIFACTS/ui, else build/test-artifacts/ui."""
    root = os.environ.get("CHAINPROOF_TEST_ARTIFACTS")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
    directory = base / "ui"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
