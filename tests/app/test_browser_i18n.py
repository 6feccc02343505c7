"""The page in the visitor's language (webapp/i18n.py), in a real headless Chromium: a ``zh-CN``
browser gets the Chinese words (tab names, labels) while the model's output stays as the model
said it; ``--lang zh-CN`` gives Chinese to an English browser; an English browser gets English.
Also, without a browser: the API description keeps its English labels and a forced language is
checked."""

from __future__ import annotations

import json

import pytest

from mmdemo.world.text import caption_names_scene
from tests.app.server import running_app
from tests.app.browser import chromium
from webapp.i18n import ZH_CN, t, translations

TABS = ["Captioning", "Image QA", "Classification", "Retrieval", "Fusion Lab"]
TABS_ZH = ["图像描述", "图像问答", "分类", "检索", "融合实验室"]


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def chinese_app_url(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("chinese-app")
    with running_app(["--preset", "bundled", "--lang", "zh-CN", "--runs-dir", str(workdir / "runs")], workdir) as url:
        yield url


def open_page(browser, url: str, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#model-status")
    return page


def tab_names(page) -> list[str]:
    page.wait_for_function("(n) => document.querySelectorAll('[role=tab]').length >= n", arg=len(TABS))
    return [name.strip() for name in page.get_by_role("tab").all_inner_texts()][: len(TABS)]


@pytest.mark.browser
def test_a_chinese_browser_gets_chinese_words_and_the_models_own_output(browser, app_url, example_scene):
    page = open_page(browser, app_url, "zh-CN")
    assert tab_names(page) == TABS_ZH
    assert "多模态模型演示场" in page.locator("#page-title").inner_text()
    assert "__i18n__" not in page.locator("body").inner_text()  # no raw key data (e.g. examples' headers)
    assert "全部描述（最佳在前）" in page.locator("#caption-table").inner_text()  # the result table's label
    image, scene = example_scene(2)
    page.locator("#caption-image input[type=file]").set_input_files(str(image))
    page.wait_for_selector("#caption-image img", timeout=30_000)
    page.get_by_role("button", name="描述", exact=True).click()
    page.wait_for_function(
        "() => (document.querySelector('#caption-output textarea')?.value || '').length > 0", timeout=120_000
    )
    caption = page.locator("#caption-output textarea").input_value()
    assert caption_names_scene(caption, scene), caption  # the model's English caption, untranslated
    assert "描述" in page.locator("#caption-output").inner_text()  # the output's label
    page.context.close()


@pytest.mark.browser
def test_an_english_browser_gets_english(browser, app_url):
    page = open_page(browser, app_url, "en-US")
    assert tab_names(page) == TABS
    assert "All captions (best first)" in page.locator("#caption-table").inner_text()
    page.context.close()


@pytest.mark.browser
def test_lang_zh_cn_gives_chinese_to_an_english_browser(browser, chinese_app_url):
    page = open_page(browser, chinese_app_url, "en-US")
    assert tab_names(page) == TABS_ZH
    page.get_by_role("tab", name="检索").click()
    page.get_by_role("button", name="搜索", exact=True).wait_for()
    page.context.close()


def test_forced_languages_and_missing_translations():
    assert translations("zh-CN").translations_dict["en"] == ZH_CN  # every locale falls back to en
    english_only = translations("en").translations_dict
    assert english_only["zh-CN"]["Captioning"] == "Captioning"
    assert translations("auto").translations_dict["zh-CN"]["Captioning"] == "图像描述"
    with pytest.raises(ValueError, match="zh-CN"):
        translations("fr")
    with pytest.raises(KeyError, match="Not a UI string"):
        t("Not a UI string")


@pytest.fixture(scope="module")
def bundled_page(tmp_path_factory: pytest.TempPathFactory):
    """The page's Blocks on the bundled preset, built in this process."""
    from webapp.main import build_app
    from webapp.settings import AppSettings, apply_model_settings

    return build_app(apply_model_settings(AppSettings(preset="bundled", runs_dir=tmp_path_factory.mktemp("runs"))))


def test_the_api_description_keeps_english_labels(bundled_page):
    parameters = bundled_page.get_api_info()["named_endpoints"]["/caption"]["parameters"]
    assert [(p["parameter_name"], p["label"]) for p in parameters[:2]] == [("image", "Image"), ("strategy", "Strategy")]


# shown only on another preset (offline) or after a control changes
NOT_ON_THE_BUNDLED_PAGE = {
    "Label-based caption from ImageNet classes (EfficientNet-Lite0), not a caption model.",
    "Offline preset: maps are Grad-CAM of the ImageNet classifier (the class behind the label, query or caption).",
    "Captions (beam / sample)",
}


def translation_keys(value) -> set[str]:
    """The translation keys in a page config (as objects, their dicts or their ``__i18n__`` strings)."""
    from gradio.i18n import I18nData

    if isinstance(value, I18nData):
        return {value.key}
    if isinstance(value, str) and value.startswith("__i18n__"):
        return {json.loads(value.removeprefix("__i18n__"))["key"]}
    if isinstance(value, dict):
        if value.get("__type__") == "translation_metadata":
            return {value["key"]}
        return set().union(*map(translation_keys, value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*map(translation_keys, value))
    return set()


def test_every_translation_is_of_a_string_on_the_page(bundled_page):
    assert translation_keys(bundled_page.config) == set(ZH_CN) - NOT_ON_THE_BUNDLED_PAGE
    assert not [text for text in ZH_CN.values() if set(text) & set("{}<>")]  # ICU message syntax


def test_lang_flag_and_environment(monkeypatch):
    from webapp.settings import parse_args

    monkeypatch.delenv("MMDEMO_LANG", raising=False)
    assert parse_args([]).lang == "auto"
    assert parse_args(["--lang", "zh-CN"]).lang == "zh-CN"
    monkeypatch.setenv("MMDEMO_LANG", "zh-CN")
    assert parse_args([]).lang == "zh-CN" and parse_args(["--lang", "en"]).lang == "en"  # the flag wins
    monkeypatch.setenv("MMDEMO_LANG", "fr")
    with pytest.raises(SystemExit):
        parse_args([])
