"""The app as a first visitor meets it, in a real headless Chromium: every tab walked from its
examples at desktop width (1400 px), at phone width (390 px) and in dark mode, on the bundled preset.

The walk fails on an error toast, a cut-off result table (wider than its panel, or a cell cut with
"…"), an unreadable figure (drawn narrower than 80 % of its panel) or a result left over from a
previous input. One server, one browser, three contexts; the Fusion Lab runs once, on a small
config (the whole module: about a minute on an idle two-core machine).
"""

from __future__ import annotations

import pytest

from tests.app.browser import chromium, set_number

pytestmark = pytest.mark.browser

RESULT_TIMEOUT_MS = 120_000  # generous: the suite shares two cores
TABS = ["Captioning", "Image QA", "Classification", "Retrieval", "Fusion Lab"]
MIN_FIGURE_SHARE = 0.8  # a figure is drawn at least this share of its panel's width
MAX_HEADER_SHARE = 0.3  # title + status line: at most this share of a phone's first screen

# -- what the page shows, measured in the page ---------------------------------------------------

VISIBLE_ERRORS = """() => Array.from(document.querySelectorAll('.toast-body.error'))
    .filter(e => e.offsetParent !== null)
    .flatMap(e => Array.from(e.querySelectorAll('[data-testid="toast-text"]')))
    .filter(e => e.offsetParent !== null).map(e => e.innerText)"""

CUT_TABLES = """() => {
  const cut = [];
  for (const block of document.querySelectorAll('[data-testid="dataframe"], .table-wrap')) {
    if (block.offsetParent === null) continue;
    const panel = block.closest('.block') || block;
    const table = block.querySelector('table');
    if (!table || table.offsetParent === null) continue;
    const p = panel.getBoundingClientRect(), t = table.getBoundingClientRect();
    if (t.right > p.right + 2 || t.left < p.left - 2) cut.push(`table ${t.width.toFixed(0)} px in a ${p.width.toFixed(0)} px panel`);
    for (const cell of table.querySelectorAll('td, td *')) {
      const style = getComputedStyle(cell);
      if (cell.offsetParent !== null && cell.innerText.trim() && style.textOverflow === 'ellipsis'
          && cell.scrollWidth > cell.clientWidth + 1) cut.push(`cell cut: ${cell.innerText.slice(0, 60)}`);
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    cut.push(`page ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  return cut;
}"""

SMALL_FIGURES = """(share) => {
  const small = [];
  const figures = document.querySelectorAll('.js-plotly-plot, .vega-embed, [data-testid="plot"] img, img');
  for (const figure of figures) {
    if (figure.offsetParent === null) continue;
    if (figure.tagName === 'IMG' && figure.naturalWidth < 600) continue;  // thumbnails, icons, uploaded scenes
    const panel = figure.closest('.block');
    if (!panel) continue;
    const f = figure.getBoundingClientRect(), p = panel.getBoundingClientRect();
    if (f.width < share * (p.width - 24)) small.push(`${panel.id || panel.innerText.slice(0, 30)}: ${f.width.toFixed(0)} of ${p.width.toFixed(0)} px`);
  }
  return small;
}"""

HEADER_SHARE = """() => document.querySelector('#model-status').getBoundingClientRect().bottom / window.innerHeight"""

REACHABLE_TABS = """() => ({
  tabs: Array.from(document.querySelectorAll('[role="tablist"] [role="tab"]'))
    .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right <= window.innerWidth + 1).map(e => e.innerText),
  overflow: Array.from(document.querySelectorAll('.overflow-menu')).some(e => e.offsetParent !== null
    && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().width > 0),
})"""


def value(page, selector: str) -> str:
    return page.locator(f"{selector} textarea, {selector} input").first.input_value()


def wait_value(page, selector: str) -> str:
    """The value ``selector`` shows once it has one (an error toast instead fails at once)."""
    page.wait_for_function(
        f"(s) => (document.querySelector(s + ' textarea, ' + s + ' input')?.value || '').length > 0"
        f" || ({VISIBLE_ERRORS})().length > 0", arg=selector, timeout=RESULT_TIMEOUT_MS)
    assert page.evaluate(VISIBLE_ERRORS) == [], selector
    return value(page, selector)


SCORES = """(s) => (document.querySelector(s)?.innerText || '').split('\\n')
    .map(line => line.trim()).filter(line => /^[01](\\.\\d+)?$/.test(line)).length"""


def scores_shown(page, selector: str) -> int:
    """How many scores (one per row) the table ``selector`` shows."""
    return page.evaluate(SCORES, selector)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(200)


def click_example(page, container: str, index: int = 0, image: str | None = None) -> None:
    """The ``index``-th example of the ``gr.Examples`` block ``container``; with ``image`` (an image
    input's selector), wait until the example's picture is in it."""
    before = page.evaluate("(s) => document.querySelector(s + ' img')?.src || ''", image) if image else ""
    page.locator(f"{container} .gallery-item, {container} tr.tr-body").nth(index).click()
    if image:
        page.wait_for_function("([s, before]) => { const src = document.querySelector(s + ' img')?.src || '';"
                               " return src && src !== before; }", arg=[image, before], timeout=30_000)


def press(page, name: str) -> None:
    page.locator(".tabitem:visible").get_by_role("button", name=name, exact=True).first.click()


def check_page(page, where: str) -> None:
    """No error toast, no cut-off table, no unreadable figure."""
    problems = {"error toasts": page.evaluate(VISIBLE_ERRORS), "cut-off tables": page.evaluate(CUT_TABLES),
                "unreadable figures": page.evaluate(SMALL_FIGURES, MIN_FIGURE_SHARE)}
    assert {kind: found for kind, found in problems.items() if found} == {}, where


# -- the walk ------------------------------------------------------------------------------------


def walk_captioning(page, where: str, explain: bool = False) -> None:
    open_tab(page, "Captioning")
    click_example(page, "#caption-examples", 0, "#caption-image")
    press(page, "Caption")
    first = wait_value(page, "#caption-output")
    assert "square" in first, (where, first)
    page.wait_for_function(f"() => ({SCORES})('#caption-table') === 1", timeout=10_000)
    check_page(page, f"{where}: captioning")
    if explain:  # the map of the old caption must go with its image too
        page.locator(".tabitem:visible").get_by_text("Explain: where in the image? (heatmap)").click()
        press(page, "Explain")
        page.wait_for_selector("#explain-word-overlay img", timeout=RESULT_TIMEOUT_MS)
        check_page(page, f"{where}: caption explained")
    click_example(page, "#caption-examples", 1, "#caption-image")  # a new image: the old caption must go at once
    page.wait_for_function("() => !document.querySelector('#caption-output textarea').value", timeout=10_000)
    assert scores_shown(page, "#caption-table") == 0, where
    page.wait_for_selector("#explain-word-overlay img", state="detached", timeout=10_000)
    press(page, "Caption")
    second = wait_value(page, "#caption-output")
    assert second != first and "triangle" in second, (where, second)


def walk_image_qa(page, where: str) -> None:
    open_tab(page, "Image QA")
    click_example(page, "#qa-examples", 0, "#qa-image")  # scene 2: what colour is the square?
    press(page, "Answer")
    assert wait_value(page, "#answer-output") == "red", where
    check_page(page, f"{where}: image QA")
    click_example(page, "#qa-examples", 1, "#qa-image")  # another image: the old answer and history go
    page.wait_for_function("() => !document.querySelector('#answer-output textarea').value", timeout=10_000)


def walk_classification(page, where: str) -> None:
    open_tab(page, "Classification")
    panel = page.locator(".tabitem:visible").first
    panel.locator(".gallery-item:visible, tr.tr-body:visible").first.click()
    page.wait_for_selector("#zero-shot-image img", timeout=30_000)
    press(page, "Classify")
    page.locator("#zero-shot-output [data-testid='label-output-value']").wait_for(timeout=RESULT_TIMEOUT_MS)
    check_page(page, f"{where}: classification")


def walk_retrieval(page, where: str) -> None:
    open_tab(page, "Retrieval")
    click_example(page, "#retrieval-text-examples", 0)
    press(page, "Search")
    page.wait_for_function(f"() => ({SCORES})('#retrieval-table') > 0", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#retrieval-gallery img", timeout=RESULT_TIMEOUT_MS)
    check_page(page, f"{where}: retrieval")


def walk(page, where: str, explain: bool = False) -> None:
    walk_captioning(page, where, explain)
    walk_image_qa(page, where)
    walk_classification(page, where)
    walk_retrieval(page, where)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def visitor_url(app_url):
    """The session's bundled app (tests/app/conftest.py); every walk opens its own page."""
    return app_url


@pytest.fixture(scope="module")
def browser(visitor_url):
    with chromium() as browser:
        yield browser


def new_page(browser, url: str, width: int, height: int, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.goto(url + ("?__theme=dark" if dark else ""))
    page.wait_for_selector("#model-status")
    return page


# -- tests ---------------------------------------------------------------------------------------


def test_desktop_walk_and_a_failed_request_keeps_the_last_result(browser, visitor_url):
    page = new_page(browser, visitor_url, 1400, 1000)
    walk(page, "1400 px", explain=True)
    assert "vqa: bundled-vqa (bundled, cpu, float32, loaded)" in page.locator("#model-status").inner_text()
    # decoding controls adjust: greedy fixes one caption; three samples say why fewer came back
    open_tab(page, "Captioning")
    page.locator(".tabitem:visible").get_by_text("Decoding", exact=True).click()
    count = page.get_by_label("number input for Captions (greedy gives 1; choose beam or sample for more)")
    assert count.is_disabled()
    page.get_by_label("sample", exact=True).check()
    count = page.get_by_label("number input for Captions (beam / sample)")
    count.fill("3")
    count.press("Enter")
    press(page, "Caption")
    page.wait_for_function("() => (document.querySelector('#caption-decoding-note')?.innerText || '').includes('distinct')",
                           timeout=RESULT_TIMEOUT_MS)
    assert "Sampling gave 1 distinct caption in 6 samples" in page.locator("#caption-decoding-note").inner_text()
    page.get_by_label("beam", exact=True).check()  # five captions with three beams: five beams searched
    count.fill("5")
    count.press("Enter")
    press(page, "Caption")
    page.wait_for_function("() => (document.querySelector('#caption-decoding-note')?.innerText || '').includes('beams')",
                           timeout=RESULT_TIMEOUT_MS)
    assert "searched with 5 beams (not 3)" in page.locator("#caption-decoding-note").inner_text()
    page.wait_for_function(f"() => ({SCORES})('#caption-table') === 5", timeout=10_000)
    check_page(page, "1400 px: five beam captions")
    # a failed request: one error message at a time, and the last good result stays readable
    open_tab(page, "Image QA")
    click_example(page, "#qa-examples", 0, "#qa-image")
    press(page, "Answer")
    assert wait_value(page, "#answer-output") == "red"
    page.locator("#qa-question textarea").fill("")
    for _ in range(3):
        press(page, "Answer")
        page.wait_for_timeout(400)
    page.wait_for_function(f"{VISIBLE_ERRORS}.length > 0", timeout=10_000)
    assert page.evaluate(VISIBLE_ERRORS) == ["Please provide a question first."]
    assert value(page, "#answer-output") == "red"
    badges = page.locator("[data-testid='status-tracker'] > span.error")
    assert all(not badge.is_visible() for badge in badges.all())
    page.context.close()


def test_phone_walk_reaches_every_tab_with_a_short_header(browser, visitor_url):
    page = new_page(browser, visitor_url, 390, 844)
    reachable = page.evaluate(REACHABLE_TABS)
    assert reachable == {"tabs": TABS, "overflow": False}
    share = page.evaluate(HEADER_SHARE)
    assert share < MAX_HEADER_SHARE, f"title + status take {share:.0%} of the first screen"
    walk(page, "390 px")
    page.context.close()


def test_dark_mode_walk(browser, visitor_url):
    page = new_page(browser, visitor_url, 1400, 1000, dark=True)
    assert page.evaluate("() => document.body.classList.contains('dark') || "
                         "document.documentElement.classList.contains('dark')")
    walk(page, "dark")
    page.context.close()


def test_a_small_fusion_lab_run_shows_readable_figures(browser, visitor_url):
    page = new_page(browser, visitor_url, 1400, 1000)
    open_tab(page, "Fusion Lab")
    page.get_by_label("Label columns (comma-separated; empty: all)").fill("sound_match")
    page.get_by_text("Training settings").click()
    for label, number in (("Epochs", 3), ("Seeds (seed, seed + 1, ...)", 1), ("Bundled world: samples", 200)):
        set_number(page, label, number)
    page.get_by_label("Single-modality baselines").uncheck()
    page.get_by_role("button", name="Train and compare").click()
    page.wait_for_function("() => (document.querySelector('#lab-summary')?.innerText || '').includes('Trained')",
                           timeout=90_000)
    page.wait_for_timeout(1000)
    check_page(page, "fusion lab")
    page.context.close()
