"""Headless Chromium for the tests, through Selenium and the system's ChromeDriver.

The browser is Debian's ``chromium`` (``make services`` installs it); a missing browser
fails the tests with that message instead of skipping them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000",
)  # fmt: skip


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.fail("the browser tests need chromium and chromedriver: run `make services`")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(30)
    yield chrome
    chrome.quit()


def open_page(chrome: Any, url: str) -> list[dict[str, Any]]:
    """Load ``url``, wait until its script has run, and return the console's messages."""
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.get_log("browser")  # forget the previous page's messages
    chrome.get(url)
    WebDriverWait(chrome, 10).until(
        lambda c: c.execute_script("return document.readyState") == "complete"
    )
    return list(chrome.get_log("browser"))
