"""Through gradio_client, every endpoint takes only its required inputs: the optional ones have
defaults in the API info (what the UI leaves empty is optional for a client too)."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.app.conftest import EXAMPLES

# endpoint -> its required inputs; every other input has a default
REQUIRED = {
    "/caption": ["image"],
    "/explain_caption": ["image", "caption"],
    "/answer": ["image", "question"],
    "/answer_submit": ["image", "question"],
    "/explain_answer": ["image", "question", "answer"],
    "/zero_shot": ["image"],
    "/explain_label": ["image"],
}
NOT_CALLED = {"/train_fusion"}  # optional inputs checked above, but not called: its defaults train five strategies
# for minutes (tests/app/test_client.py trains through it)
# Called in alphabetical order in one session: each /explain_X runs before its /explain_X_redraw (which then
# redraws the kept map), /explain_hit before any search. Those that need an earlier step or one of several
# inputs say so in a message.
NEEDS_A_STEP = {"/classify_fusion": "give at least one of text, image, audio", "/explain_hit": "Search first",
                "/explain_hit_redraw": "Press Explain first", "/gallery_add": "Upload files or type texts",
                "/retrieve": "exactly one query"}


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def required_values() -> dict[str, object]:
    return {"image": handle_file(str(EXAMPLES / "scene_2.png")), "caption": "red",  # one word: one map
            "question": "what colour is the square?", "answer": "red"}


def test_only_the_inputs_a_person_must_give_are_required(client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    required = {name: [p["parameter_name"] for p in info["parameters"] if not p["parameter_has_default"]]
                for name, info in endpoints.items()}
    assert required == {name: REQUIRED.get(name, []) for name in required}


def test_every_endpoint_answers_with_only_its_required_inputs(client) -> None:
    values = required_values()
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in sorted(set(endpoints) - NOT_CALLED):
        arguments = [values[parameter] for parameter in REQUIRED.get(name, [])]
        if name in NEEDS_A_STEP:
            with pytest.raises(AppError, match=NEEDS_A_STEP[name]):
                client.predict(*arguments, api_name=name)
        else:
            client.predict(*arguments, api_name=name)  # no "No value provided for required argument"
    best, table = client.predict(values["image"], api_name="/caption")
    assert best == "a small red square on the left." and len(table["data"]) == 1
    _, table = client.predict(query_text="a red circle", api_name="/retrieve")
    assert len(table["data"]) == 5  # the default k


def test_decoding_controls_adjust_instead_of_erroring(client) -> None:
    image = required_values()["image"]
    _, table = client.predict(image, strategy="greedy", num_captions=3, api_name="/caption")
    assert len(table["data"]) == 1
    _, table = client.predict(image, strategy="beam", num_captions=5, num_beams=3, api_name="/caption")
    texts = [row[0] for row in table["data"]]
    assert len(texts) == 5 and len(set(texts)) == 5  # five beams searched for five distinct captions
    assert [row[1] for row in table["data"]] == sorted((row[1] for row in table["data"]), reverse=True)


def test_retrieval_rows_show_text_words_and_no_empty_label_column(client) -> None:
    client.predict(api_name="/gallery_reset")
    caption = (EXAMPLES / "caption_3.txt").read_text().strip()
    _, table = client.predict(query_text=caption, k=4, modality="text", api_name="/retrieve")
    assert table["headers"] == ["rank", "score", "modality", "item"]
    for row in table["data"]:
        words, _, name = row[3].rpartition(" (")
        assert name.startswith("caption_") and name.endswith(".txt)")
        assert words.strip("“”") == " ".join(
            (EXAMPLES / name.rstrip(")")).read_text().split()), row  # the file's words, not only its name
