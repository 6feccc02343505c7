"""Messages a person reads say what is wrong in their terms: no "Input 0:" prefixes for a single
input, places in a list counted from 1, a too-long template named as the template with its limit."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile
from PIL import Image

from mmdemo import encoders
from mmdemo.classify import zero_shot_classify
from mmdemo.errors import MediaError
from mmdemo.media import MediaLimits
from mmdemo.retrieval import RetrievalIndex
from mmdemo.retrieval.embedder import default_embedder

INTERNAL_PREFIX = re.compile(r"\b[Ii]nput \d+:")


def test_one_bad_input_is_reported_without_an_index(tiny_models, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(MediaError) as single:
        encoders.embed_images([fake], model=tiny_models.clip, use_cache=False)
    assert not INTERNAL_PREFIX.search(str(single.value)) and "not an image" in str(single.value)
    with pytest.raises(MediaError) as skipped:
        encoders.embed_images([fake], model=tiny_models.clip, use_cache=False, skip_errors=True)
    assert str(skipped.value) == str(single.value)  # the reason itself, not "None of the inputs ..."


def test_places_in_a_list_are_counted_from_one(tiny_models, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(MediaError, match=r"^None of the 2 inputs could be used: Item 1 of 2: .*; Item 2 of 2: "):
        encoders.embed_images([fake, fake], model=tiny_models.clip, use_cache=False, skip_errors=True)


def test_a_long_clip_says_its_length_and_limit_without_a_prefix(tiny_models, tmp_path):
    clip = tmp_path / "long.wav"
    soundfile.write(clip, np.zeros(16_000 * 3, dtype=np.float32), 16_000)
    with pytest.raises(MediaError) as err:
        encoders.embed_audio([clip], model=tiny_models.audio, limits=MediaLimits(max_audio_seconds=2), use_cache=False)
    assert str(err.value).startswith("Audio 'long.wav' is 3.0 s long, over the limit of 2"), str(err.value)


def test_a_skipped_upload_gives_its_reason_plainly(tiny_models, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    index = RetrievalIndex(embedder=default_embedder({"image": tiny_models.clip}, use_cache=False))
    report = index.add_files([fake])
    (skipped,) = report.failed
    assert "None of the inputs" not in skipped.reason and not INTERNAL_PREFIX.search(skipped.reason)
    assert "not an image" in skipped.reason


def test_a_too_long_template_is_named_as_the_template_with_its_limit(tiny_models):
    image = Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8))
    template = "a {}" + "." * 260_000
    with pytest.raises(MediaError, match=r"^The prompt template is 260,004 characters long, over the limit of 10,000"):
        zero_shot_classify(image, "red, blue", template, model=tiny_models.clip, limits=MediaLimits(max_text_chars=10_000))
