"""Every api_name of the app, called through gradio_client against `python app.py` (bundled models)."""

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


def caption_args(image, strategy="greedy", captions=1, beams=3):
    return (handle_file(str(image)), strategy, captions, beams, 30, 0.9, 1.0, "", 0)


def test_every_event_has_an_api_name(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == EXPECTED_ENDPOINTS


def test_status_names_the_bundled_models(client):
    status = client.predict(api_name="/status")
    assert "bundled preset" in status and "bundled-clip" in status and "bundled-caption" in status


def test_caption_names_shape_and_colour(client, examples):
    for example in examples:
        best, table = client.predict(*caption_args(example.image), api_name="/caption")
        assert example.colour in best and example.kind in best, (best, example.caption)
        assert table["data"][0][0] == best and 0 < table["data"][0][1] <= 1


def test_beam_search_gives_ranked_captions(client, examples):
    best, table = client.predict(*caption_args(examples[0].image, "beam", 3, 4), api_name="/caption")
    scores = [row[1] for row in table["data"]]
    assert len(scores) >= 1 and scores == sorted(scores, reverse=True) and table["data"][0][0] == best


def test_answer_colour_question_with_history(client, examples):
    example = examples[0]
    answer, confidence, history = client.predict(
        handle_file(str(example.image)), f"what color is the {example.kind}?", [], api_name="/answer"
    )
    assert answer == example.colour and 0 < confidence <= 1
    assert [message["role"] for message in history] == ["user", "assistant"]


def test_zero_shot_prefers_the_true_label(client, examples):
    example = examples[0]
    others = [c for c in ("red", "green", "blue", "yellow") if c != example.colour][:2]
    labels = ", ".join([f"{example.colour} {example.kind}"] + [f"{c} {example.kind}" for c in others])
    result = client.predict(handle_file(str(example.image)), labels, "a photo of a {}.", api_name="/zero_shot")
    assert result["label"] == f"{example.colour} {example.kind}"


def test_retrieval_by_text_and_audio(client, examples):
    files = [handle_file(str(e.image)) for e in examples] + [handle_file(str(examples[0].audio))]
    summary = client.predict(files, examples[0].caption, api_name="/gallery_add")
    assert "items" in summary
    gallery, table = client.predict(examples[1].caption, None, None, 3, "image", api_name="/retrieve")
    assert table["data"][0][3] == examples[1].image.name
    assert all(row[2] == "image" for row in table["data"])
    _, table = client.predict(None, None, handle_file(str(examples[2].audio)), 3, "image", api_name="/retrieve")
    assert examples[2].image.name in [row[3] for row in table["data"]]
    client.predict(api_name="/gallery_reset")
    _, table = client.predict(examples[1].caption, None, None, 20, "any", api_name="/retrieve")
    assert not {e.image.name for e in examples} & {row[3] for row in table["data"]}


def test_fusion_lab_trains_and_its_heads_classify(client, examples):
    outputs = client.predict(
        "bundled world", 200, None, "", ["concat", "lmf"], 8, 32, "adamw", 0.003, "none", 0.0001, 0, 0, 0, 0, 0,
        api_name="/train_fusion",
    )
    summary, table, *_figures, archive = outputs
    assert "Trained 2 strategies" in summary
    assert {row[0] for row in table["data"]} == {"concat", "lmf"}
    assert archive.endswith(".zip")
    heads = client.predict(api_name="/refresh_heads")
    names = [choice[0] for choice in heads["choices"]]
    assert any(name.endswith("/lmf") for name in names)
    example = examples[0]
    probabilities, contributions, note = client.predict(
        heads["value"], "the red circle is large.", handle_file(str(example.image)), None,
        api_name="/classify_fusion",
    )
    assert abs(sum(c["confidence"] for c in probabilities["confidences"]) - 1.0) < 1e-3
    assert {row[0] for row in contributions["data"]} <= {"text", "image", "audio"}
    assert "inputs used: text, image" in note


def test_bad_input_gets_a_message_and_the_server_keeps_answering(client, examples):
    with pytest.raises(AppError, match="provide an image"):
        client.predict(None, "greedy", 1, 3, 30, 0.9, 1.0, "", 0, api_name="/caption")
    with pytest.raises(AppError, match="at least two distinct labels"):
        client.predict(handle_file(str(examples[0].image)), "cat", "a photo of a {}.", api_name="/zero_shot")
    with pytest.raises(AppError, match="exactly one query"):
        client.predict("red", handle_file(str(examples[0].image)), None, 3, "any", api_name="/retrieve")
    with pytest.raises(AppError, match="Choose a fusion head"):
        client.predict("no-such-head", "text", None, None, api_name="/classify_fusion")
    assert "bundled" in client.predict(api_name="/status")
