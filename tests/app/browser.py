"""The headless system Chromium the browser tests drive (through Playwright), in one place: where it
is, how it is started, a page on the app, and screenshots.

Set MMDEMO_SCREENSHOTS_DIR to also keep the screenshots (the README's come from tests/app/test_browser.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@contextmanager
def chromium() -> Iterator:
    """A started headless Chromium (Playwright's ``Browser``), closed afterwards; fails with the install
    hint when the system package is missing (``playwright install`` cannot download browsers here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: install it with `apt-get install -y chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_app(browser, url: str, width: int = 1400, height: int = 1000):
    """A new page of ``browser`` at ``width`` x ``height`` on the app at ``url``, once its status line shows."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#model-status")
    return page


def shoot(page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot ``name``.png in ``tmp_path`` (and in MMDEMO_SCREENSHOTS_DIR when set)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("MMDEMO_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def set_number(page, label: str, value: int) -> None:
    """Type ``value`` into the number box of the slider or number labelled ``label``."""
    box = page.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")
