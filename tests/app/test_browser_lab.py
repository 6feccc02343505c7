"""The Fusion Lab and the fusion head as a visitor sees them, in headless Chromium at 1400 px:
readable interactive figures for every task of a multi-task run, one progress panel, an upload
that switches the data choice, a failed run that keeps the last good result, and contribution
bars drawn from zero.

Set MMDEMO_SCREENSHOTS_DIR to keep the screenshots (the README's come from tests/app/test_browser.py).
"""

from __future__ import annotations

import csv
import re

import pytest

from tests.app.browser import chromium, open_app, set_number, shoot

pytestmark = pytest.mark.browser

FIGURES = ["lab-curve-training-loss", "lab-curve-validation-loss", "lab-curve-validation-accuracy", "lab-metrics",
           "lab-confusion", "lab-ablation", "lab-fused", "lab-noise", "lab-missing"]
WORLD_TASKS = ["claim", "sound_match", "verdict", "exactly_one"]

# For each figure: its drawn (SVG) width over its panel's width, its title, its legend entries, and
# whether the title's and the legend's centres are covered by anything (a label badge) other than the chart.
MEASURE = """(id) => {
  const panel = document.getElementById(id);
  const svg = panel?.querySelector('svg.marks');
  if (!svg) return null;
  const box = (e) => e.getBoundingClientRect();
  const covered = (e) => {
    if (!e) return null;
    e.scrollIntoView({block: 'center'});
    const r = box(e);
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !(hit && (svg.contains(hit) || hit === svg)) ? (hit ? hit.tagName + '.' + hit.className : 'outside') : false;
  };
  const title = svg.querySelector('.role-title');
  const legend = svg.querySelector('.role-legend');
  return {
    ratio: box(svg).width / box(panel).width, height: box(svg).height,
    title: title ? title.textContent : '', titleCovered: covered(title),
    legend: legend ? [...legend.querySelectorAll('.role-legend-label text, text')].map(t => t.textContent) : [],
    legendInside: legend ? box(legend).left >= box(svg).left - 1 && box(legend).right <= box(svg).right + 1 : false,
    legendCovered: covered(legend),
  };
}"""


@pytest.fixture(scope="module")
def page(app_url):
    with chromium() as browser:
        yield open_app(browser, app_url)


def measure(page, elem_id: str) -> dict:
    page.locator(f"#{elem_id}").scroll_into_view_if_needed()
    return page.evaluate(MEASURE, elem_id)


def test_an_upload_switches_the_data_choice_and_the_world_labels_are_offered(page, tmp_path):
    page.get_by_role("tab", name="Fusion Lab").click()
    labels = page.locator("#lab-labels textarea")
    assert all(task in labels.get_attribute("placeholder") for task in WORLD_TASKS)
    manifest = tmp_path / "mine.csv"
    with open(manifest, "w", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], ["a red thing", "red"], ["a blue thing", "blue"]])
    page.locator("#lab-upload input[type=file]").set_input_files(str(manifest))
    page.wait_for_function("() => document.querySelector('#lab-source input[value=\"upload\"]')?.checked", timeout=30_000)
    assert "claim" not in labels.get_attribute("placeholder")
    page.locator("#lab-source").get_by_text("bundled world").click()  # back to the world for the next test
    page.wait_for_function("() => document.querySelector('#lab-source input[value=\"bundled world\"]')?.checked")


def test_a_multi_task_run_draws_readable_interactive_figures_for_each_task(page, tmp_path):
    page.get_by_role("tab", name="Fusion Lab").click()
    set_number(page, "Bundled world: samples", 200)
    page.get_by_text("Training settings").click()
    set_number(page, "Epochs", 6)
    set_number(page, "Seeds (seed, seed + 1, ...)", 1)
    page.locator("#lab-labels textarea").fill("")  # all four tasks
    for slow in ("late", "attention"):  # three strategies are enough here (gmu: for the last test)
        page.locator("#lab-strategies").get_by_label(slow, exact=True).uncheck()
    page.get_by_role("button", name="Train and compare").click()
    # one progress panel while it runs, not one per output
    page.wait_for_selector("#lab-status .progress-text", timeout=60_000)
    trackers = page.evaluate("() => [...document.querySelectorAll('.progress-text')].filter(e => e.offsetParent).length")
    assert trackers == 1
    page.wait_for_function(
        "() => (document.querySelector('#lab-summary')?.innerText || '').includes('Trained')", timeout=600_000
    )
    summary = page.locator("#lab-summary").inner_text()
    assert "Trained 3 strategies" in summary and "task claim" in summary
    page.wait_for_selector("#lab-missing svg .role-title", timeout=60_000)
    for elem_id in FIGURES:
        figure = measure(page, elem_id)
        assert figure is not None, elem_id
        assert figure["ratio"] >= 0.8 and figure["height"] >= 200, (elem_id, figure)
        assert figure["title"] and figure["titleCovered"] is False, (elem_id, figure["title"], figure["titleCovered"])
        assert figure["legend"] and figure["legendInside"], (elem_id, figure["legend"])  # not cut off
        assert figure["legendCovered"] is False, (elem_id, figure["legendCovered"])
    assert "claim" in measure(page, "lab-metrics")["title"]
    shoot(page, "fusion-lab-tasks", tmp_path)

    # another task: its summary and its figures
    page.locator("#lab-task input").click()
    page.get_by_role("option", name="verdict").click()
    page.wait_for_function("() => document.querySelector('#lab-summary').innerText.includes('task verdict')",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('#lab-metrics .role-title')?.textContent.includes('verdict')",
                           timeout=30_000)
    confusion = measure(page, "lab-confusion")
    assert any("claim_only" in entry for entry in confusion["legend"]) and confusion["legendInside"], confusion["legend"]
    assert "verdict" in measure(page, "lab-fused")["title"]

    # a failed run: one error badge at most, the last good figures stay
    page.locator("#lab-labels textarea").fill("no_such_column")
    page.get_by_role("button", name="Train and compare").click()
    page.wait_for_selector(".toast-item", timeout=60_000)
    badges = page.evaluate("""() => [...document.querySelectorAll('.error')]
        .filter(e => e.offsetParent && e.closest('.toast-wrap') === null && e.innerText.trim() === 'Error').length""")
    assert badges <= 1
    assert "task verdict" in page.locator("#lab-summary").inner_text()
    assert measure(page, "lab-metrics")["ratio"] >= 0.8


def test_the_head_chooser_shows_scores_and_contributions_start_at_zero(page, tmp_path):
    page.get_by_role("tab", name="Classification").click()
    page.get_by_role("tab", name="Fusion head (text + image + audio)").click()
    chosen = page.locator("#head-choice input").input_value()
    # the previous test's run: the best of its heads, named by data, tasks, strategy and date, with its score
    assert re.match(r"test accuracy 0\.\d\d · bundled world · claim, sound_match, verdict, exactly_one · ", chosen), chosen
    # that run's gmu head: its contributions are gate values (all positive, summing to 1), the
    # case where an axis fitted to the data (from about the smallest value) draws that bar empty
    page.locator("#head-choice input").click()
    bundled = page.get_by_role("option", name="· bundled/world-concat").inner_text()
    assert re.search(r"test accuracy 0\.\d\d · bundled/world-concat", bundled), bundled
    page.get_by_role("option", name=re.compile(" · gmu · ")).click()
    page.locator("#head-examples").get_by_text("the yellow triangle is large.").click()
    page.locator("button:visible", has_text="Classify").click()
    page.wait_for_selector("#head-contributions svg .mark-rect path", timeout=120_000)
    heights = page.evaluate("""() => [...document.querySelectorAll('#head-contributions svg .mark-rect path')]
        .map(e => e.getBoundingClientRect().height)""")
    assert len(heights) == 3 and min(heights) > 10, heights  # every contribution a visible bar, from 0
    shoot(page, "classification-fusion-head", tmp_path)
