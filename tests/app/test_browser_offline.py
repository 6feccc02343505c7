"""The offline preset in a real headless Chromium: a real photo captioned, with the label-based note,
and a spoken query that shows what Whisper heard."""

from __future__ import annotations

import pytest

from tests.app.conftest import PHOTOS
from tests.app.browser import chromium, open_app, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(offline_app_url):
    with chromium() as browser:
        yield open_app(browser, offline_app_url)


def test_a_real_photo_gets_a_label_based_caption(page, tmp_path):
    assert "offline preset: real photos" in page.locator("#model-status").inner_text()
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
    page.wait_for_function("() => (document.querySelector('#caption-classes')?.innerText || '').includes('tabby')",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('#model-status').innerText.includes('loaded')",
                           timeout=30_000)  # the status line caught up with the model that loaded
    shoot(page, "offline-captioning", tmp_path)


def test_a_spoken_query_shows_what_was_heard(page, tmp_path):
    page.get_by_role("tab", name="Retrieval").click()
    page.locator("#retrieval-audio input[type=file]").set_input_files(str(PHOTOS.parent / "speech" / "coffee_cup.wav"))
    page.wait_for_selector("#retrieval-audio audio, #retrieval-audio [data-testid='waveform-controls']",
                           state="attached", timeout=30_000)
    page.get_by_role("button", name="Search").click()
    page.wait_for_function(
        "() => (document.querySelector('#retrieval-heard')?.innerText || '').includes('heard:')", timeout=120_000
    )
    assert "coffee" in page.locator("#retrieval-heard").inner_text()
    shoot(page, "offline-retrieval", tmp_path)
