"""Every api_name of the app, called through gradio_client against `python app.py`."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

EXPECTED_ENDPOINTS = {
    "/caption", "/answer", "/answer_submit", "/clear_history", "/zero_shot", "/classify_fusion",
    "/retrieve", "/gallery_add", "/gallery_reset", "/train_fusion", "/refresh_heads", "/status",
}


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
    for role in ("image-text", "caption", "vqa", "audio"):
        assert f"{role}: `" in status
    assert "cpu" in status and "float32" in status


def test_caption_is_deterministic_and_scored(client, media):
    best, table = client.predict(*caption_args(media["first"]), api_name="/caption")
    again, _ = client.predict(*caption_args(media["first"]), api_name="/caption")
    assert best and best == again
    assert table["data"][0][0] == best and 0 < table["data"][0][1] <= 1
    prefixed, _ = client.predict(*caption_args(media["first"], prefix="a red"), api_name="/caption")
    assert prefixed.startswith("a red")


def test_beam_search_gives_ranked_captions(client, media):
    best, table = client.predict(*caption_args(media["second"], "beam", 3, 4), api_name="/caption")
    scores = [row[1] for row in table["data"]]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True) and table["data"][0][0] == best


def test_answer_keeps_a_history(client, media):
    image = handle_file(str(media["first"]))
    answer, confidence, history = client.predict(image, "what color is it?", [], api_name="/answer")
    assert isinstance(answer, str) and 0 < confidence <= 1
    _, _, history = client.predict(image, "how many shapes?", history, api_name="/answer")
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert client.predict(image, api_name="/clear_history") == []


def test_zero_shot_probabilities_cover_the_labels(client, media):
    result = client.predict(handle_file(str(media["first"])), "red circle, blue square, dog, dog",
                            "a photo of a {}.", api_name="/zero_shot")
    labels = {c["label"] for c in result["confidences"]}
    assert labels == {"red circle", "blue square", "dog"} and result["label"] in labels
    assert abs(sum(c["confidence"] for c in result["confidences"]) - 1.0) < 1e-3


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
    names = [choice[0] for choice in heads["choices"]]
    assert any(name.endswith("/concat") for name in names) and heads["value"].endswith("/lmf")
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
    with pytest.raises(AppError, match="exactly one query"):
        client.predict("red", handle_file(str(media["first"])), None, 3, "any", api_name="/retrieve")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("no-such-head", "text", None, None, api_name="/classify_fusion")
    with pytest.raises(AppError, match="Greedy decoding gives one caption"):
        client.predict(*caption_args(media["first"], "greedy", 2), api_name="/caption")
    assert "image-text" in client.predict(api_name="/status")
