"""A headless Chromium from Debian's packages (chromium, chromium-driver), driven by selenium: for report.html.

Absent (a user's machine without the packages): the test skips with the reason; under CI (CI set) it fails, since
.ci/run installs both."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def _chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)


def need_browser() -> None:
    """Skip (fail under CI) unless chromium, chromedriver and selenium are here."""
    missing = [what for what, ok in (("chromium", _chromium()), ("chromedriver", Path(CHROMEDRIVER).exists()))
               if not ok]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (requirements-dev.txt)")
    if missing:
        why = (f"{', '.join(missing)} absent: the report.html test drives a headless Chromium "
               "(apt-get install chromium chromium-driver; .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(why + " (CI is set, and .ci/run installs them)")
        pytest.skip(why)


@contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium with a fresh profile; its console log is read with ``driver.get_log("browser")``."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bon-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for f in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
