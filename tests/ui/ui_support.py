"""Helpers for the web UI's tests: the store they browse, a headless Chromium, and the page
actions every test repeats (sign in with a key file, go to a route, wait for what it draws)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from server_support import DATA, OTHER, Server, Store, build_store

from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest, Environment, Package
from chainproof.custody.service import Custody
from chainproof.log.service import TransparencyLog

MODEL = Digest("sha256:" + "e1" * 32)
TUNED = Digest("sha256:" + "e2" * 32)
CREDENTIALS = ("AWS_SECRET_ACCESS_KEY", "HF_TOKEN")
PACKAGE = ("torch", "2.1.0")

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


@dataclass
class UiWorld:
    store: Store
    server: Server | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


def build_world(work: Path) -> UiWorld:
    """`build_store`'s store, then: alice trains MODEL on DATA and OTHER in an environment holding
    CREDENTIALS and PACKAGE, and fine-tunes TUNED from MODEL; bob accesses DATA (its grant's use),
    alice OTHER (under no grant)."""
    store = build_store(work / "store", work)
    custody = Custody(TransparencyLog.open(store.directory))
    try:
        env = Environment(
            python="/opt/train/.venv",
            sbom=Digest("sha256:" + "5b" * 32),
            packages=(Package(name=PACKAGE[0], version=PACKAGE[1], record_sha256=None),),
            credentials=CREDENTIALS,
        )
        alice, bob = store.keys["alice"], store.keys["bob"]
        custody.record(Hop.TRAIN, alice, inputs=[DATA, OTHER], outputs=[MODEL], environment=env)
        custody.record(Hop.TRAIN, alice, inputs=[MODEL], outputs=[TUNED])
        custody.record(Hop.ACCESS, bob, inputs=[DATA])
        custody.record(Hop.ACCESS, alice, inputs=[OTHER])  # a use no grant covers
    finally:
        custody.close()
    return UiWorld(store)


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def quit(self) -> None:
        self.driver.quit()

    def open(self, url: str) -> None:
        self.driver.get(url)

    def run(self, script: str, *args: object) -> Any:
        return self.driver.execute_script(script, *args)

    def run_async(self, script: str, *args: object) -> Any:
        return self.driver.execute_async_script(script, *args)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, css: str, timeout: float = 20, text: str | None = None) -> WebElement:
        """The first element matching `css` (holding `text`, if given), once the page shows it."""

        def found(_: object) -> WebElement | bool:
            for e in self.driver.find_elements(By.CSS_SELECTOR, css):
                if text is None or text in e.text:
                    return e
            return False

        try:
            stale = (StaleElementReferenceException,)  # the page redrew while being read
            waiting = WebDriverWait(self.driver, timeout, ignored_exceptions=stale)
            return waiting.until(found)
        except TimeoutException:
            main = self.run("return document.getElementById('main')?.innerText || ''")
            raise AssertionError(f"no {css!r} with {text!r} on the page; it shows:\n{main[:2000]}") from None

    def sign_in(self, url: str, key_file: Path) -> None:
        self.open(url + "/ui/")
        self.wait("#keyfile").send_keys(str(key_file))
        self.wait("#who", text="Signed in as")

    def go(self, route: str) -> None:
        """Open `route` (a hash different from the current one) and wait until it is drawn."""
        self.run("delete document.getElementById('main').dataset.drawn; location.hash = arguments[0]", route)
        self.idle()

    def idle(self, timeout: float = 20) -> None:
        """Wait until the page has drawn its current route to the end."""
        WebDriverWait(self.driver, timeout).until(
            lambda d: d.execute_script(
                "const m = document.getElementById('main');"
                "return m.dataset.drawn === location.hash && !m.hasAttribute('aria-busy')"
            )
        )

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / f"{name}.png"
        self.run("document.activeElement?.blur(); document.querySelector('.graph-frame')?.scrollTo(0, 0)")
        height = self.run("return Math.min(document.documentElement.scrollHeight, 4000)")
        self.driver.set_window_size(1280, max(900, int(height)))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 900)
        return path


def start_browser(chromium: str, chromedriver: str, profile: str) -> Browser:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_script_timeout(60)
    return Browser(driver)
