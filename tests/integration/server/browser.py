"""A real headless Chromium (Debian's chromium + chromium-driver) driven by selenium, for the
dashboard's tests: log in, click, read the page, save screenshots."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDE, PHONE = (1280, 900), (390, 844)
T = TypeVar("T")


@contextmanager
def chromium(shots: Path) -> Iterator[Browser]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: bash scripts/setup.sh all --tests")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", f"--window-size={WIDE[0]},{WIDE[1]}"):
        options.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium look for a driver online
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield Browser(driver, shots)
    finally:
        driver.quit()


class Browser:
    def __init__(self, driver: WebDriver, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def has(self, css: str) -> bool:
        return bool(self.all(css))

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def log_in(self, base: str, token: str) -> None:
        self.open(base + "/login")
        self.find("#token").send_keys(token)
        self.find("form[action='/login'] button").click()
        self.wait(lambda: self.driver.current_url.rstrip("/") == base, "the apps page after log-in")

    def click(self, css: str, accept: bool = True) -> None:
        """Click, and answer the confirmation dialog a form that changes things asks first."""
        self.find(css).click()
        if accept:
            alert = self.wait(self._alert, "the confirmation dialog", timeout=5)
            alert.accept()

    def _alert(self):  # type: ignore[no-untyped-def]
        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def wait(self, check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = check()
            except (NoSuchElementException, StaleElementReferenceException):
                value = None  # not there yet, or the page reloaded under it (a run page does at a new step)
            if value:
                return value
            time.sleep(0.2)
        self.shot("timeout")
        raise AssertionError(f"waited {timeout:.0f} s for {what}; the page says:\n{self.text()[:2000]}")

    def shot(self, name: str, size: tuple[int, int] = WIDE) -> Path:
        """A screenshot of the whole page at that width."""
        self.driver.set_window_size(*size)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size[0], max(size[1], min(int(height), 4000)))
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(*WIDE)
        return path

    def overflows(self) -> bool:
        """Whether the page is wider than the window (nothing should need a sideways scroll)."""
        return bool(self.driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"))

    def submit_from_page(self, path: str, fields: dict[str, str]) -> None:
        """A form of the page's own posted as a user's click would (the browser shows the answer)."""
        self.driver.execute_script(
            "const form = document.createElement('form'); form.method = 'post'; form.action = arguments[0];"
            "for (const [k, v] of Object.entries(arguments[1])) {"
            "  const input = document.createElement('input'); input.type = 'hidden'; input.name = k;"
            "  input.value = v; form.appendChild(input); }"
            "document.body.appendChild(form); form.submit();", path, fields)

    def post_from_page(self, path: str, fields: dict[str, str]) -> int:
        """A form POST made by the page's own script (the session cookie goes with it): its status."""
        return int(self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]), redirect: 'manual'})"
            ".then(r => done(r.status)).catch(e => done(-1));", path, fields))
