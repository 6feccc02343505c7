"""`python app.py` with no arguments on a machine without the hub: the offline preset, said on the
page, on real photos (assets/examples/photos)."""

from __future__ import annotations

from gradio_client import Client, handle_file

from tests.app.conftest import PHOTOS

EVERYDAY = "cat, dog, coffee cup, rocket, person, car, bird, flower"


def caption_args(image) -> list:
    return [handle_file(str(image)), "greedy", 1, 3, 30, 0.9, 1.0, "", 0]


def test_default_start_without_the_hub_uses_the_offline_preset(offline_app_url):
    client = Client(offline_app_url, verbose=False)
    status = client.predict(api_name="/status")
    header, abilities, roles = status.split("  \n")
    assert header.startswith("**Models: offline preset** (no network to")
    assert header.endswith("the offline preset's packages are installed)")
    assert abilities.startswith("offline preset: real photos (1000 ImageNet classes) and English speech")
    assert "(no BLIP)" in abilities
    assert "`offline-caption` (offline," in roles and "missing" not in roles


def test_real_photos_are_captioned_answered_classified_and_retrieved(offline_app_url):
    client = Client(offline_app_url, verbose=False)
    cat, coffee = PHOTOS / "chelsea.jpg", PHOTOS / "coffee.jpg"
    best, table = client.predict(*caption_args(cat), api_name="/caption")
    assert best.startswith("a photo of a cat (") and table["data"][0][0] == best
    answer, confidence, history = client.predict(handle_file(str(cat)), "what is this?", [], api_name="/answer")
    assert answer.startswith("a cat") and 0 < confidence <= 1
    answer, confidence, history = client.predict(handle_file(str(cat)), "what colour is the sofa?", history,
                                                 api_name="/answer")
    assert answer == "" and confidence is None  # not an answer with a confidence: a notice
    content = history[-1]["content"]  # gradio's messages: a list of {"type": "text", "text": ...}
    notice = content if isinstance(content, str) else " ".join(part["text"] for part in content)
    assert notice.startswith("ℹ️ This offline preset can't answer that") and not notice.endswith("%)")
    result = client.predict(handle_file(str(cat)), EVERYDAY, "a photo of a {}.", api_name="/zero_shot")
    assert result["label"] == "cat"
    client.predict(api_name="/gallery_reset")
    _, table = client.predict("a cup of coffee", None, None, 1, "image", api_name="/retrieve")
    assert table["data"][0][3] == coffee.name
    spoken = PHOTOS.parent / "speech" / "coffee_cup.wav"  # "the coffee cup on the table", by espeak-ng
    _, table = client.predict(None, None, handle_file(str(spoken)), 1, "image", api_name="/retrieve")
    assert table["data"][0][3] == coffee.name  # the speech road: Whisper's transcript, embedded by MiniLM
    # the status line has caught up: the models used above are loaded now
    assert "`offline-caption` (offline, cpu, float32, loaded)" in client.predict(api_name="/status")
