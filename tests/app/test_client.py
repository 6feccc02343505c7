"""Every api_name of the app, called through gradio_client against `python app.py --preset bundled`.

The bundled models were trained on the shapes world, so their outputs on the bundled example scenes
can be checked: the caption names the shape, its colour, size and place; answers are right.
"""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from mmdemo.world.text import caption_names_scene
from tests.app.conftest import EXAMPLES
from tests.app.test_explain import EXPLAIN_PARAMETERS

EXPECTED_ENDPOINTS = {
    "/caption", "/answer", "/answer_submit", "/clear_history", "/zero_shot", "/classify_fusion",
    "/retrieve", "/gallery_add", "/gallery_reset", "/train_fusion", "/refresh_heads", "/status",
} | set(EXPLAIN_PARAMETERS)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def caption_args(image, strategy="greedy", captions=1, beams=3, prefix=""):
    return (handle_file(str(image)), strategy, captions, beams, 12, 0.9, 1.0, prefix, 0)


def test_every_event_has_an_api_name(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == EXPECTED_ENDPOINTS


def test_status_names_each_role_with_device_and_dtype(client):
    status = client.predict(api_name="/status")
    for role, name in (("image-text", "bundled-clip"), ("caption", "bundled-caption"),
                       ("vqa", "bundled-vqa"), ("audio", "bundled-audio")):
        assert f"{role}: `{name}` (bundled, cpu, " in status
    assert "bundled preset" in status and "missing" not in status
    assert "bundled preset: small models that know only the bundled shapes world" in status


def test_the_page_says_the_bundled_models_know_only_the_shapes_world(client):
    notes = {component["props"].get("elem_id"): component["props"].get("value")
             for component in client.config["components"] if component.get("type") == "markdown"}
    for elem_id in ("caption-note", "qa-note"):  # the Captioning and Image QA tabs
        assert "The bundled models know only the bundled shapes world" in notes[elem_id]


@pytest.mark.parametrize("k", [2, 3])
def test_caption_of_an_example_names_the_scene(client, example_scene, k):
    image, scene = example_scene(k)
    assert scene.count == 1
    best, table = client.predict(*caption_args(image), api_name="/caption")
    assert caption_names_scene(best, scene), (best, scene.key())
    assert table["data"][0][0] == best and 0 < table["data"][0][1] <= 1


def test_caption_is_deterministic_and_continues_a_prefix(client, media, example_scene):
    best, _ = client.predict(*caption_args(media["first"]), api_name="/caption")
    again, _ = client.predict(*caption_args(media["first"]), api_name="/caption")
    assert best and best == again
    image, scene = example_scene(2)  # a small red square on the left
    prefixed, _ = client.predict(*caption_args(image, prefix="a small red"), api_name="/caption")
    assert prefixed.startswith("a small red") and "square" in prefixed


def test_beam_search_gives_ranked_captions(client, example_scene):
    image, scene = example_scene(3)
    best, table = client.predict(*caption_args(image, "beam", 3, 4), api_name="/caption")
    scores = [row[1] for row in table["data"]]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True) and table["data"][0][0] == best
    assert caption_names_scene(best, scene), best


def test_answers_about_an_example_and_keeps_a_history(client, example_scene):
    path, scene = example_scene(2)  # a small red square on the left
    image = handle_file(str(path))
    answer, confidence, history = client.predict(image, "what colour is the square?", [], api_name="/answer")
    assert answer == "red" and 0 < confidence <= 1
    answer, _, history = client.predict(image, "how many shapes are there?", history, api_name="/answer")
    assert answer == "one"
    answer, _, history = client.predict(image, "where is the red square?", history, api_name="/answer")
    assert answer == "left"
    assert [m["role"] for m in history] == ["user", "assistant"] * 3
    texts = [m["content"][0]["text"] for m in history]  # gradio 6 returns message content as parts
    assert texts[0] == "what colour is the square?" and texts[1].startswith("red")
    assert client.predict(image, api_name="/clear_history") == []


def test_zero_shot_picks_the_true_label(client, example_scene):
    image, scene = example_scene(3)  # a large yellow triangle in the middle
    result = client.predict(handle_file(str(image)), "red circle, yellow triangle, blue square, blue square",
                            "a {}.", api_name="/zero_shot")
    labels = {c["label"] for c in result["confidences"]}
    assert labels == {"red circle", "yellow triangle", "blue square"}
    assert result["label"] == "yellow triangle"
    assert abs(sum(c["confidence"] for c in result["confidences"]) - 1.0) < 1e-3


def test_example_gallery_finds_a_scene_from_its_caption_and_its_sound(client):
    client.predict(api_name="/gallery_reset")
    caption = (EXAMPLES / "caption_3.txt").read_text().strip()  # the caption of scene_3.png
    _, table = client.predict(caption, None, None, 1, "image", api_name="/retrieve")
    assert table["data"][0][3] == "scene_3.png"
    _, table = client.predict(None, None, handle_file(str(EXAMPLES / "sound_3.wav")), 1, "image",
                              api_name="/retrieve")
    assert table["data"][0][3] == "scene_3.png"  # the only scene whose sound is one yellow triangle
    _, table = client.predict(caption, None, None, 3, "text", api_name="/retrieve")
    assert table["data"][0][3] == f"“{caption}” (caption_3.txt)"  # a text file: its words and its name, no path
    assert not any("/" in str(row[3]) for row in table["data"])


def test_bundled_fusion_head_relates_the_three_modalities(client):
    heads = client.predict(api_name="/refresh_heads")
    # each choice is (what the dropdown shows, the name passed back): the shipped head with its test score
    assert ("test accuracy 0.76 · bundled/world-concat", "bundled/world-concat") in [tuple(c) for c in heads["choices"]]
    scene, own_sound, other_sound = (handle_file(str(EXAMPLES / name)) for name in ("scene_3.png", "sound_3.wav", "sound_0.wav"))
    probabilities, contributions, note = client.predict(
        "bundled/world-concat", "the yellow triangle is large.", scene, own_sound, api_name="/classify_fusion")
    assert probabilities["label"] == "true"  # the claim holds for the large yellow triangle
    assert "sound_match: **same**" in note and "verdict: **both**" in note
    assert {row[0] for row in contributions["data"]} == {"text", "image", "audio"}
    _, _, note = client.predict(
        "bundled/world-concat", "the yellow triangle is large.", scene, other_sound, api_name="/classify_fusion")
    assert "sound_match: **different**" in note  # sound_0 is three beeps, not one yellow triangle


def test_gallery_add_search_and_reset(client, media):
    files = [handle_file(str(media[n])) for n in ("first", "second", "third", "tone")]
    client.predict(api_name="/gallery_reset")
    base = client.predict([handle_file(str(media["third"]))], "", api_name="/gallery_add")
    summary = client.predict(files, "a note about circles\nanother note", api_name="/gallery_add")
    count = lambda text: int(text.split(" items")[0].rsplit(" ", 1)[1])  # noqa: E731
    assert count(summary) == count(base) + 5  # third.png is already there: replaced, not doubled
    # an image finds itself first (cosine 1), and the filter keeps only images
    gallery, table = client.predict(None, handle_file(str(media["second"])), None, 3, "image", api_name="/retrieve")
    assert table["data"][0][3] == "second.png" and table["data"][0][1] > 0.999
    assert all(row[2] == "image" for row in table["data"]) and len(gallery) == len(table["data"])
    # a text finds the same text in the gallery first
    _, table = client.predict("a note about circles", None, None, 2, "text", api_name="/retrieve")
    assert table["data"][0][3] == "a note about circles" and table["data"][0][1] > 0.999
    # audio queries work too
    _, table = client.predict(None, None, handle_file(str(media["tone"])), 1, "audio", api_name="/retrieve")
    assert table["data"][0][3] == "tone.wav"
    client.predict(api_name="/gallery_reset")
    _, table = client.predict(None, handle_file(str(media["second"])), None, 20, "any", api_name="/retrieve")
    assert "second.png" not in {row[3] for row in table["data"]}


def test_fusion_lab_trains_and_its_heads_classify(client, media):
    outputs = client.predict(
        "bundled world", 100, None, "claim", ["concat", "lmf"], 3, 32, "adamw", 0.003, "none", 0.0001, 0, 0, 0, 0, 0,
        api_name="/train_fusion",
    )
    summary, table, *_figures, archive = outputs
    assert "Trained 2 strategies" in summary
    assert [row[0] for row in table["data"]] == ["concat", "lmf"]
    assert archive.endswith(".zip")
    heads = client.predict(api_name="/refresh_heads")
    # each head named by its data, task, strategy and date (the value), its test accuracy beside it (the label);
    # the best head of this run is chosen
    ours = [value for _, value in heads["choices"] if value.startswith("bundled world · claim · ")]
    assert sorted(value.split(" · ")[2] for value in ours) == ["concat", "lmf"] and heads["value"] in ours
    assert all("test accuracy" in label for label, _ in heads["choices"])
    probabilities, contributions, note = client.predict(
        heads["value"], "the red circle is large.", handle_file(str(media["first"])), None,
        api_name="/classify_fusion",
    )
    assert {c["label"] for c in probabilities["confidences"]} == {"true", "false"}
    assert abs(sum(c["confidence"] for c in probabilities["confidences"]) - 1.0) < 1e-3
    assert {row[0] for row in contributions["data"]} <= {"text", "image", "audio"}
    assert "inputs used: text, image" in note


def test_bad_input_gets_a_message_and_the_server_keeps_answering(client, media):
    with pytest.raises(AppError, match="provide an image"):
        client.predict(None, "greedy", 1, 3, 30, 0.9, 1.0, "", 0, api_name="/caption")
    with pytest.raises(AppError, match="at least two distinct labels"):
        client.predict(handle_file(str(media["first"])), "cat", "a photo of a {}.", api_name="/zero_shot")
    with pytest.raises(AppError, match="knows no word of the label"):  # the bundled CLIP reads only the shapes world
        client.predict(handle_file(str(media["first"])), "cat, dog, coffee cup", "a photo of a {}.",
                       api_name="/zero_shot")
    with pytest.raises(AppError, match="exactly one query"):
        client.predict("red", handle_file(str(media["first"])), None, 3, "any", api_name="/retrieve")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("no-such-head", "text", None, None, api_name="/classify_fusion")
    _, table = client.predict(*caption_args(media["first"], "greedy", 2), api_name="/caption")  # adjusted, not refused
    assert len(table["data"]) == 1
    assert "image-text" in client.predict(api_name="/status")
