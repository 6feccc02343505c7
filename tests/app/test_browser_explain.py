"""The Explain panel in a real headless Chromium: open it under a caption, explain, pick a word:
the overlay and the target follow (the page fixture of test_browser.py, on its own app)."""

from __future__ import annotations

import pytest

from tests.app.browser import shoot
from tests.app.test_browser import page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def overlay_source(page) -> str:  # noqa: F811
    return page.locator("#explain-word-overlay img").first.get_attribute("src") or ""


def test_explain_a_caption_word_then_redraw(page, example_scene, tmp_path):  # noqa: F811
    image, scene = example_scene(4)  # a large yellow circle (left), a large green circle (right)
    page.get_by_role("tab", name="Captioning").click()
    page.locator("input[type=file]").first.set_input_files(str(image))
    page.get_by_role("button", name="Caption", exact=True).click()
    page.wait_for_function("document.querySelector('#caption-output textarea').value.length > 0", timeout=90_000)
    page.get_by_text("Explain: where in the image?").first.click()
    page.get_by_role("button", name="Explain", exact=True).first.click()
    info = page.locator("#explain-word-info")
    page.get_by_text('target: word "a"').wait_for(timeout=90_000)
    assert "occlusion" in info.inner_text() and "**" not in info.inner_text()
    # "a" may or may not depend on the picture (checkpoint-dependent); the page says which
    assert "peak at" in info.inner_text() or "no part of the image moves this score" in info.inner_text()
    first = overlay_source(page)
    page.get_by_label("Word of the caption").click()
    page.get_by_role("option", name="11: green").click()
    page.get_by_text('target: word "green"').wait_for(timeout=30_000)
    assert overlay_source(page) != first
    assert "peak at" in info.inner_text()  # erasing the green circle moves the score of "green"
    shoot(page, "explain-caption", tmp_path)
