"""The page follows the preset, in-process (nothing loads): notes, controls that apply, default
labels and template, examples and the gallery's folders."""

from __future__ import annotations

import gradio as gr
import pytest

from mmdemo import presets, registry
from webapp.main import build_app
from webapp.preset_notes import LABEL_CAPTION_NOTE, LABEL_QUESTION_HINT, SHAPES_WORLD_NOTE
from webapp.i18n import english
from webapp.settings import AppSettings
from webapp.tabs import retrieval


@pytest.fixture
def page_for(tmp_path):
    """``page_for(preset)``: the app's components by elem_id / label under ``preset`` (restored after)."""
    before, defaults = presets.active_preset(), registry.default_models()

    def build(preset: str) -> dict[str, gr.components.Component]:
        presets.use_preset(preset)
        demo = build_app(AppSettings(runs_dir=tmp_path))
        components = {}
        for block in demo.blocks.values():
            for key in (getattr(block, "elem_id", None), english(getattr(block, "label", None))):
                if key:
                    components.setdefault(key, block)
        components["examples"] = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
        return components

    yield build
    presets.use_preset(before)
    for role, name in defaults.items():
        registry.set_default_model(role, name)


def example_files(components) -> list[str]:
    """The example files of every tab but the fusion head's (text + image + audio: the bundled heads' world)."""
    return [str(cell) for dataset in components["examples"] for row in dataset.raw_samples if len(row) < 3
            for cell in row]


def test_offline_page_is_about_real_photos_and_labels(page_for) -> None:
    page = page_for("offline")
    assert english(page["caption-note"].value) == LABEL_CAPTION_NOTE  # the English of a translated note
    assert not page["Text prefix (optional: the caption continues it)"].visible
    assert english(page["qa-question"].placeholder) == LABEL_QUESTION_HINT
    assert page["zero-shot-labels"].value == "cat, dog, coffee cup, rocket, person, car, bird, flower"
    assert page["Prompt template"].value == "a photo of a {}."
    files = example_files(page)
    assert any(f.endswith("photos/chelsea.jpg") for f in files)
    assert not any("/world/scene_" in f for f in files)  # the shapes world means nothing to ImageNet classes
    assert retrieval.gallery_folders() == [retrieval.PHOTOS_DIR]


def test_bundled_page_says_the_models_know_only_the_shapes_world(page_for) -> None:
    page = page_for("bundled")
    assert english(page["caption-note"].value) == english(page["qa-note"].value) == SHAPES_WORLD_NOTE
    assert page["Text prefix (optional: the caption continues it)"].visible
    assert page["zero-shot-labels"].value == "red square, yellow triangle, green circle"
    assert page["Prompt template"].value == "a {}."
    assert not any("/photos/" in f for f in example_files(page))
    assert retrieval.gallery_folders() == [retrieval.GALLERY_DIR]


def test_pretrained_gallery_holds_photos_and_the_world(page_for) -> None:
    page_for("pretrained")
    assert retrieval.gallery_folders() == [retrieval.PHOTOS_DIR, retrieval.GALLERY_DIR]
    assert "a cup of coffee" in retrieval.text_queries() and "a red circle" in retrieval.text_queries()
