"""End to end in a real headless Chromium (system package, driven by Playwright).

Set MMDEMO_SCREENSHOTS_DIR to also keep the screenshots of each tab (the README's come from here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo.world.text import caption_names_scene
from tests.app.browser import chromium, open_app, set_number, shoot

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def page(app_url):
    with chromium() as browser:
        yield open_app(browser, app_url)


def test_caption_from_an_uploaded_image(page, example_scene, tmp_path):
    image, scene = example_scene(2)  # a small red square on the left
    page.get_by_role("tab", name="Captioning").click()
    page.locator("input[type=file]").first.set_input_files(str(image))
    page.get_by_role("button", name="Caption", exact=True).click()
    page.wait_for_function(
        "() => (document.querySelector('#caption-output textarea')?.value || '').length > 0", timeout=120_000
    )
    caption = page.locator("#caption-output textarea").input_value()
    assert caption_names_scene(caption, scene), caption
    page.wait_for_function(
        "(caption) => (document.querySelector('#caption-table')?.innerText || '').includes(caption)",
        arg=caption, timeout=30_000,
    )
    assert shoot(page, "captioning", tmp_path).stat().st_size > 10_000


def upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.wait_for_selector(f"#{elem_id} img", timeout=30_000)  # the preview: the upload finished


def test_image_qa_answers_in_the_page(page, example_scene, tmp_path):
    image, _ = example_scene(2)  # a small red square on the left
    page.get_by_role("tab", name="Image QA").click()
    upload(page, "qa-image", image)
    page.locator("#qa-question textarea").fill("what colour is the square?")
    page.get_by_role("button", name="Answer", exact=True).click()
    page.wait_for_function(
        "() => (document.querySelector('#answer-output textarea')?.value || '').length > 0", timeout=120_000
    )
    assert page.locator("#answer-output textarea").input_value() == "red"
    shoot(page, "image-qa", tmp_path)


def test_zero_shot_in_the_page(page, example_scene, tmp_path):
    image, _ = example_scene(3)  # a large yellow triangle in the middle
    page.get_by_role("tab", name="Classification").click()
    upload(page, "zero-shot-image", image)
    page.locator("#zero-shot-labels textarea").fill("red square, yellow triangle, green circle")
    page.get_by_role("button", name="Classify", exact=True).first.click()
    top = page.locator("#zero-shot-output [data-testid='label-output-value']")
    top.wait_for(timeout=120_000)
    assert top.inner_text().strip() == "yellow triangle"
    shoot(page, "classification", tmp_path)


def test_retrieval_in_the_page(page, tmp_path):
    page.get_by_role("tab", name="Retrieval").click()
    page.locator("#retrieval-query textarea").fill("a large yellow triangle in the middle.")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#retrieval-gallery img", timeout=120_000)
    assert page.locator("#retrieval-gallery img").count() >= 1
    shoot(page, "retrieval", tmp_path)


def test_fusion_lab_training_shows_the_comparison(page, tmp_path):
    page.get_by_role("tab", name="Fusion Lab").click()
    page.get_by_label("Label columns (comma-separated; empty: all)").fill("sound_match")
    # defaults, but 200 samples, 3 epochs and one seed: the 4,500-sample, 3-seed default takes ~8
    # minutes on two cores here; what it learns is the world-defaults test's
    # (tests/training/test_world_defaults.py, -m slow); this one checks the page shows a comparison
    set_number(page, "Bundled world: samples", 200)
    page.get_by_text("Training settings").click()
    set_number(page, "Epochs", 3)
    set_number(page, "Seeds (seed, seed + 1, ...)", 1)
    page.get_by_role("button", name="Train and compare").click()
    page.wait_for_function(
        "() => (document.querySelector('#lab-summary')?.innerText || '').includes('Trained')", timeout=600_000
    )
    page.wait_for_selector("#lab-curve-training-loss svg .role-title", timeout=60_000)  # an interactive plot
    assert page.locator("#lab-curve-training-loss svg").first.is_visible()
    assert "Best macro-F1" in page.locator("#lab-summary").inner_text()
    shoot(page, "fusion-lab", tmp_path)
