"""The offline preset in a real headless Chromium: a real photo captioned, with the label-based note."""

from __future__ import annotations

import pytest

from tests.app.conftest import PHOTOS
from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, shoot

pytestmark = pytest.mark.browser


def test_a_real_photo_gets_a_label_based_caption(offline_app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(offline_app_url)
        page.wait_for_selector("#model-status")
        assert "offline preset" in page.locator("#model-status").inner_text()
        page.get_by_role("tab", name="Captioning").click()
        page.locator("input[type=file]").first.set_input_files(str(PHOTOS / "chelsea.jpg"))
        page.get_by_role("button", name="Caption", exact=True).click()
        page.wait_for_function(
            "() => (document.querySelector('#caption-output textarea')?.value || '').length > 0", timeout=120_000
        )
        caption = page.locator("#caption-output textarea").input_value()
        assert "cat" in caption, caption
        note = page.locator("#caption-note").inner_text()
        assert "Label-based caption from ImageNet classes (EfficientNet-Lite0), not a caption model" in note
        page.wait_for_selector("#caption-classes", state="visible", timeout=30_000)
        page.wait_for_function("() => document.querySelector('#caption-classes').innerText.includes('tabby')",
                               timeout=30_000)
        assert "loaded" in page.locator("#model-status").inner_text()  # refreshed after the caption
        shoot(page, "offline-captioning", tmp_path)
        browser.close()
