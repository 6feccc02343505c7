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
from tests.app.server import ROOT
from webapp.i18n import english

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
    assert peak_on(raw, scene.shapes[1]) and "**occlusion**" in info  # the measured default
    assert "copy of caption on cpu" in info and str(ROOT) not in info  # no server paths on the page
    _, _, raw = client.predict("yellow", 0.3, api_name="/explain_caption_redraw")  # every word is kept
    assert peak_on(raw, scene.shapes[0])
    answer, _, _ = client.predict(image, "what colour is the shape on the left?", [], api_name="/answer")
    overlay, info, raw = client.predict(image, "what colour is the shape on the left?", answer, None, 0.5,
                                        api_name="/explain_answer")
    assert answer == "yellow" and Image.open(overlay).size == (96, 96)
    assert peak_on(raw, scene.shapes[0]) and "**occlusion**" in info and 'answer "yellow"' in info


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


# ------------------------------------------------------------------ in-process: events and presets


@pytest.fixture
def active_preset():
    """Switch the registry's preset for one test (``use(name)``), then back."""
    from mmdemo import presets, registry

    before, defaults = presets.active_preset(), registry.default_models()

    def use(name: str) -> None:
        presets.use_preset(name)

    yield use
    presets.use_preset(before)
    for role, name in defaults.items():
        registry.set_default_model(role, name)


def build_demo(tmp_path):
    from webapp.main import build_app
    from webapp.settings import AppSettings

    return build_app(AppSettings(runs_dir=tmp_path))


def event(demo, api_name: str):
    (fn,) = [fn for fn in demo.fns.values() if fn.api_name == api_name]
    return fn


def test_explain_events_are_named_and_queue_in_their_own_groups(tmp_path, active_preset):
    active_preset("bundled")
    demo = build_demo(tmp_path)
    groups = {"explain_caption": "explain-caption", "explain_answer": "explain-vqa",
              "explain_label": "explain-image-text", "explain_hit": "explain-image-text"}
    for api_name, group in groups.items():
        fn = event(demo, api_name)
        assert fn.concurrency_id == group and fn.queue is not False
        assert fn.concurrency_id != event(demo, {"explain_caption": "caption", "explain_answer": "answer"}
                                          .get(api_name, "zero_shot")).concurrency_id
        redraw = event(demo, f"{api_name}_redraw")
        assert redraw.concurrency_id == "explain-redraw"
    methods = {name: event(demo, name).inputs[-3] for name in groups}  # ..., method, opacity, kept/state
    methods["explain_hit"] = event(demo, "explain_hit").inputs[1]
    assert methods["explain_caption"].choices == [("occlusion", "occlusion"), ("gradcam", "gradcam"), ("attention", "attention")]
    assert methods["explain_caption"].value == "occlusion" and methods["explain_answer"].value == "occlusion"
    assert methods["explain_label"].value == methods["explain_hit"].value == "chefer"


@pytest.fixture(scope="module")
def chelsea(tmp_path_factory) -> str:
    skimage_data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "chelsea.png"
    Image.fromarray(skimage_data.chelsea()).save(path)
    return str(path)


def test_the_offline_preset_explains_through_its_imagenet_classifier(tmp_path, active_preset, chelsea):
    from types import SimpleNamespace

    from mmdemo.registry import resolve_spec
    from webapp.explain_panel import LastSearch

    if not resolve_spec("offline-conse", "image-text").local_folder:
        pytest.skip("the offline preset's weights are not installed")
    active_preset("offline")
    demo = build_demo(tmp_path)
    label = event(demo, "explain_label")
    assert label.inputs[4].choices == [("gradcam", "gradcam")] and label.inputs[4].value == "gradcam"
    face = (60, 20, 380, 290)  # the cat's face in skimage's chelsea (tests/explain/test_conse.py)

    def on_the_cat(result: dict) -> bool:
        (raw,) = [v for c, v in result.items() if c.label and english(c.label).startswith("Raw map")]
        relevance = np.load(raw)
        ys, xs = np.nonzero(relevance >= relevance.max() - 1e-6)
        return relevance.shape == (300, 451) and face[0] <= xs.mean() < face[2] and face[1] <= ys.mean() < face[3]

    def info(result: dict) -> str:
        (text,) = [v for c, v in result.items() if isinstance(v, str) and v.startswith("**gradcam**")]
        return text

    shown = label.fn(chelsea, "tabby, sports car", "a photo of a {}.", "tabby", None, 0.5, None)
    assert on_the_cat(shown) and 'ImageNet class 281 "tabby" (nearest to "tabby")' in info(shown)
    shown = event(demo, "explain_caption").fn(chelsea, "a photo of a cat (tabby, 40 %)", None, None, 0.5, None)
    assert on_the_cat(shown) and "(the top class)" in info(shown)
    shown = event(demo, "explain_answer").fn(chelsea, "what is this?", "a tabby", None, 0.5, None)
    assert on_the_cat(shown)
    hit = SimpleNamespace(rank=1, source=chelsea, modality="image")
    shown = event(demo, "explain_hit").fn(None, None, 0.5, LastSearch("text", "a tabby cat", [hit]), None)
    assert on_the_cat(shown) and 'nearest to "a tabby cat"' in info(shown)


def test_a_large_image_keeps_only_the_map_it_shows(monkeypatch):
    import gradio as gr

    from mmdemo.explain import Explanation
    from webapp import explain_panel
    from webapp.explain_panel import KeptMaps

    def fake(value: float) -> Explanation:
        return Explanation(np.full((100, 100), value, np.float32), np.zeros((2, 2), np.float32), "attention",
                           "t", 0.0, "log-prob", "m", "p", Image.new("RGB", (100, 100)))

    kept = KeptMaps(("caption",))
    for i, word in enumerate(["a", "red", "circle"]):
        kept.add(f"{i + 1}: {word}", fake(i / 2))
    kept.trim("2: red")
    assert list(kept.maps) == ["1: a", "2: red", "3: circle"]  # 120 kB fit
    monkeypatch.setattr(explain_panel, "MAX_KEPT_BYTES", 50_000)
    kept.trim("2: red")
    assert list(kept.maps) == ["2: red"] and kept.names == ["1: a", "2: red", "3: circle"]
    assert kept.pick("circle", "word") == "3: circle" and kept.pick("7: red", "word") == "2: red"
    with pytest.raises(gr.Error, match=r"No word 'blue' to explain; valid: \['1: a', '2: red', '3: circle'\]"):
        kept.pick("blue", "word")


def test_the_word_info_says_when_no_part_of_the_image_moves_the_score():
    import numpy as np
    from PIL import Image

    from mmdemo.explain.result import Explanation
    from webapp.explain_panel import describe

    def made(relevance: np.ndarray) -> Explanation:
        return Explanation(relevance, relevance[:2, :2], "occlusion", 'word "a"', -0.01, "log-prob", "m", "/srv/x/copy", Image.new("RGB", (4, 4)))

    flat, peaked = np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32)
    peaked[1, 3] = 1.0
    assert "no part of the image moves this score" in describe(made(flat))
    shown = describe(made(peaked))
    assert "peak at" in shown and "no part of the image" not in shown and "/srv" not in shown
