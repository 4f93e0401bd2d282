"""Headless Debian Chromium driven by selenium through Debian's chromedriver (no browser download).

Flags as this machine's notes prescribe: without the background-networking ones
Chromium keeps dialling Google's hosts, which a closed network refuses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SIDECAR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SIDECAR_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW_SIZE = "1440,900"  # a laptop screen: list, reading pane and the 360 px add-on panel side by side
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", f"--window-size={WINDOW_SIZE}", "--hide-scrollbars")
INSTALL_HINT = "apt-get install chromium chromium-driver and pip install selenium; the browser tests need them"


def start_browser():
    """A selenium WebDriver on Debian's chromium; fails the test, naming what is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: " + INSTALL_HINT)
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            pytest.fail(f"{binary} not found: " + INSTALL_HINT)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="sidecar-chromium-")
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.sidecar_profile = profile
    return driver


def stop_browser(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.sidecar_profile, ignore_errors=True)
