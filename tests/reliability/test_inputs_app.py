"""Every generated bad or unusual input sent through ``gradio_client`` to the launched app.

An input that must work returns a result. One that must fail comes back as an error whose
message says what is wrong (the same message mmdemo gives, not gradio's internals, a traceback or
a server path), and the server answers the next request normally.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.inputs.make_inputs import cases
from tests.reliability.endpoints import (
    call_audio,
    call_image,
    call_text,
    call_train,
    fill_gallery,
    server_answers,
)
from tests.reliability.helpers import leaked_internals, peak_rss_mb, reset_peak_rss, rss_mb

# Where the app answers before mmdemo sees the input, its own (equally clear) wording counts too.
APP_MESSAGES = {
    "text_empty": r"empty|Please provide a question",
    "text_whitespace": r"empty|Please provide a question",
}


@pytest.fixture(scope="module")
def client(shared_app) -> Client:
    return Client(shared_app.url, verbose=False, analytics_enabled=False)


def _assert_refused(case, app, call, visitor_text=""):
    with pytest.raises(AppError) as caught:
        call()
    message = str(caught.value)
    pattern = APP_MESSAGES.get(case.name, case.message)
    assert re.search(pattern, message), f"{case.name}: unclear message {message!r}"
    leaks = leaked_internals(message, app, visitor_text)
    assert not leaks, f"{case.name}: message leaks {leaks}"


def _message_text(content) -> str:
    """A chatbot message's text (gradio gives a string or a list of typed parts)."""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _assert_label_result(result):
    assert result["label"] in {"red", "blue"}
    total = sum(item["confidence"] for item in result["confidences"])
    assert total == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("case", cases("image"), ids=lambda c: c.name)
def test_image_through_the_api(case, shared_app, client, bad_inputs):
    path = bad_inputs[case.name]
    if case.expect == "error":
        _assert_refused(case, shared_app, lambda: call_image(client, path))
        assert server_answers(client)
    else:
        _assert_label_result(call_image(client, path))


@pytest.mark.parametrize("case", cases("text"), ids=lambda c: c.name)
def test_text_through_the_api(case, shared_app, client, bad_inputs):
    text = bad_inputs[case.name].read_text(encoding="utf-8")
    image = bad_inputs["image_1x1"]
    if case.expect == "error":
        _assert_refused(case, shared_app, lambda: call_text(client, text, image))
        assert server_answers(client)
    else:
        answer, confidence, history = call_text(client, text, image)
        assert answer.strip() and 0.0 <= confidence <= 1.0
        assert _message_text(history[0]["content"]) == " ".join(text.split())


@pytest.fixture(scope="module")
def gallery_client(shared_app, bad_inputs) -> Client:
    """A client whose session has a gallery (retrieval needs something to search)."""
    client = Client(shared_app.url, verbose=False, analytics_enabled=False)
    assert "Gallery: " in fill_gallery(client, bad_inputs["image_1x1"])
    return client


@pytest.mark.parametrize("case", cases("audio"), ids=lambda c: c.name)
def test_audio_through_the_api(case, shared_app, gallery_client, bad_inputs):
    path = bad_inputs[case.name]
    if case.expect == "error":
        _assert_refused(case, shared_app, lambda: call_audio(gallery_client, path))
        assert server_answers(gallery_client)
    else:
        gallery, table, *_ = call_audio(gallery_client, path)
        rows = table["data"] if isinstance(table, dict) else table
        scores = [row[1] for row in rows]
        assert len(rows) == 3 and {row[2] for row in rows} <= {"image", "text", "audio"}
        assert scores == sorted(scores, reverse=True)


def _with_its_files(manifest: Path, folder: Path) -> Path:
    """A manifest zipped with the images beside it, as a visitor uploads a data set."""
    archive = folder / f"{manifest.stem}.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(manifest, f"data/{manifest.name}")
        for image in ("red.png", "blue.png"):
            handle.write(manifest.parent / image, f"data/{image}")
    return archive


@pytest.mark.parametrize("case", cases("manifest") + cases("archive"), ids=lambda c: c.name)
def test_data_set_through_the_fusion_lab(case, shared_app, client, bad_inputs, tmp_path):
    path = bad_inputs[case.name]
    written = ""
    if case.kind == "manifest":
        written = path.read_text(encoding="utf-8")  # paths the visitor wrote may be quoted back
        path = _with_its_files(path, tmp_path)
    if case.expect == "error":
        _assert_refused(case, shared_app, lambda: call_train(client, path), written)
        assert server_answers(client)
    else:
        summary, table, *_ = call_train(client, path)
        assert summary.startswith("Trained 1 strategy on")
        rows = table["data"] if isinstance(table, dict) else table
        assert [row[0] for row in rows] == ["concat"]


def test_pixel_limit_is_checked_before_anything_decodes_the_upload(shared_app, client, bad_inputs):
    """A 7.8 KB PNG declaring 64 Mpx must be refused from its header: decoding it (as gradio's
    own image preprocessing does) costs 64-192 MB and seconds of CPU per request."""
    call_image(client, bad_inputs["image_1x1"])  # warm: models loaded, caches filled
    baseline = rss_mb(shared_app.pid)
    reset_peak_rss(shared_app.pid)
    with pytest.raises(AppError, match="pixels, over the limit"):
        call_image(client, bad_inputs["image_over_pixel_limit"])
    growth = peak_rss_mb(shared_app.pid) - baseline
    assert growth < 48, f"refusing the 64-Mpx image raised the server's peak memory by {growth:.0f} MB"


def test_server_survives_every_bad_input_in_a_row(shared_app, client, bad_inputs):
    """All refused images and texts back to back, then normal results: nothing is left broken."""
    for case in cases("image", expect="error"):
        with pytest.raises(AppError):
            call_image(client, bad_inputs[case.name])
    for case in cases("text", expect="error"):
        with pytest.raises(AppError):
            call_text(client, bad_inputs[case.name].read_text(encoding="utf-8"), bad_inputs["image_1x1"])
    _assert_label_result(call_image(client, bad_inputs["image_palette"]))
    assert server_answers(client)
