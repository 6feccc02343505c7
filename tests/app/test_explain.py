"""The Explain panels through gradio_client against ``python app.py --preset bundled``: every map is
at the input's size and peaks on the shape the target names in a bundled example scene; opacity
re-draws from the kept map; missing steps get a message that says what to do."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from mmdemo.explain.benchmark import shape_box
from mmdemo.world.dataset import make_sample
from tests.app.conftest import EXAMPLES

# The explain endpoints and their parameters, as clients pass them (test_client / test_structure add them).
EXPLAIN_PARAMETERS = {
    "/explain_caption": ["image", "caption", "word", "method", "opacity"],
    "/explain_caption_redraw": ["word", "opacity"],
    "/explain_answer": ["image", "question", "answer", "method", "opacity"],
    "/explain_answer_redraw": ["opacity"],
    "/explain_label": ["image", "labels", "template", "label", "method", "opacity"],
    "/explain_label_redraw": ["label", "opacity"],
    "/explain_hit": ["hit", "method", "opacity"],
    "/explain_hit_redraw": ["hit", "opacity"],
}


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def peak_on(raw_path: str, shape) -> bool:
    relevance = np.load(raw_path)
    ys, xs = np.nonzero(relevance >= relevance.max() - 1e-6)
    left, top, right, bottom = shape_box(shape, relevance.shape[1])
    return left <= xs.mean() <= right and top <= ys.mean() <= bottom


def chosen(update: dict) -> str:
    """The value a dropdown update (what gradio_client returns for a gr.Dropdown output) chooses."""
    return update["value"]


def scene_of(name: str):
    return make_sample("test", int(re.search(r"scene_(\d+)", name).group(1))).scene


def test_a_label_map_peaks_on_that_shape_and_redraws_at_any_opacity(client):
    path = EXAMPLES / "scene_0.png"  # a red circle (left), a red star (middle), a blue star (right)
    scene = scene_of(path.name)
    image = handle_file(str(path))
    for label, shape in (("blue star", scene.shapes[2]), ("red circle", scene.shapes[0])):
        overlay, info, raw, choice = client.predict(image, "red circle, blue star", "a {}.", label, "chefer", 0.5,
                                                    api_name="/explain_label")
        assert Image.open(overlay).size == Image.open(path).size and np.load(raw).shape == (96, 96)
        assert peak_on(raw, shape), (label, info)
        assert "**chefer**" in info and f'text "a {label}."' in info and "score:" in info
        assert chosen(choice) == label and [c[0] for c in choice["choices"]] == ["red circle", "blue star"]
    bare, _, again = client.predict("blue star", 0.0, api_name="/explain_label_redraw")  # kept: no recompute
    assert np.array_equal(np.asarray(Image.open(bare).convert("RGB")), np.asarray(Image.open(path).convert("RGB")))
    assert peak_on(again, scene.shapes[2])
    heat, _, _ = client.predict("blue star", 1.0, api_name="/explain_label_redraw")
    assert not np.array_equal(np.asarray(Image.open(heat)), np.asarray(Image.open(bare)))


def test_a_caption_word_and_an_answer_peak_on_their_shape(client):
    path = EXAMPLES / "scene_4.png"  # a large yellow circle (left), a large green circle (right)
    scene = scene_of(path.name)
    image = handle_file(str(path))
    best, _ = client.predict(image, "greedy", 1, 3, 20, 0.9, 1.0, "", 0, api_name="/caption")
    assert "green" in best.split() and "yellow" in best.split(), best
    overlay, info, raw, word = client.predict(image, best, "green", None, 0.5, api_name="/explain_caption")
    assert Image.open(overlay).size == (96, 96) and chosen(word).endswith(": green")
    assert peak_on(raw, scene.shapes[1]) and "**attention**" in info  # the measured default
    _, _, raw = client.predict("yellow", 0.3, api_name="/explain_caption_redraw")  # every word is kept
    assert peak_on(raw, scene.shapes[0])
    answer, _, _ = client.predict(image, "what colour is the shape on the left?", [], api_name="/answer")
    overlay, info, raw = client.predict(image, "what colour is the shape on the left?", answer, None, 0.5,
                                        api_name="/explain_answer")
    assert answer == "yellow" and Image.open(overlay).size == (96, 96)
    assert peak_on(raw, scene.shapes[0]) and "**gradcam**" in info and 'answer "yellow"' in info


def test_a_hit_is_explained_for_a_text_or_an_image_query(client):
    _, table = client.predict("a green circle", None, None, 3, "image", api_name="/retrieve")
    overlay, info, raw, hit = client.predict(None, None, 0.5, api_name="/explain_hit")
    assert chosen(hit).startswith("#1 · scene_") and 'text "a green circle"' in info
    scene = scene_of(chosen(hit))
    assert Image.open(overlay).size == (96, 96)
    assert any(peak_on(raw, s) for s in scene.shapes if (s.colour, s.kind) == ("green", "circle")), (hit, scene)
    client.predict(None, handle_file(str(EXAMPLES / "scene_2.png")), None, 2, "image", api_name="/retrieve")
    _, info, raw, hit = client.predict("#2", None, 0.5, api_name="/explain_hit")
    assert chosen(hit).startswith("#2 · ") and "the query image" in info and np.load(raw).shape == (96, 96)


def test_missing_steps_get_a_message_that_says_what_to_do(app_url):
    fresh = Client(app_url, verbose=False)
    image = handle_file(str(EXAMPLES / "scene_2.png"))
    for args, api_name, message in (
        ((image, "", None, None, 0.5), "/explain_caption", "Caption the image first"),
        ((image, "what colour is it?", "", None, 0.5), "/explain_answer", "Answer a question first"),
        ((None, None, 0.5), "/explain_hit", "Search first"),
        (("red", 0.5), "/explain_label_redraw", "Press Explain first"),
        ((image, "a small red square", "purple", None, 0.5), "/explain_caption", "No word 'purple' to explain"),
    ):
        with pytest.raises(AppError, match=message):
            fresh.predict(*args, api_name=api_name)
    assert fresh.predict(api_name="/status")  # the server keeps answering
