import numpy as np
import pytest
from PIL import Image

from mmdemo import generate
from mmdemo.errors import MediaError
from mmdemo.generate import DecodingConfig


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))


def test_greedy_caption_is_deterministic_and_scored(tiny_models, image):
    first = generate.caption(image, model=tiny_models.caption)
    second = generate.caption(image, model=tiny_models.caption)
    assert len(first.captions) == 1 and first.best == second.best and first.best
    assert 0.0 < first.captions[0].score <= 1.0
    assert first.captions[0].score == pytest.approx(second.captions[0].score)


def test_max_length_bounds_the_caption(tiny_models, image):
    short = generate.caption(image, model=tiny_models.caption, decoding=DecodingConfig(max_new_tokens=3))
    assert len(short.best.split()) <= 3


def test_beam_search_returns_several_ranked_captions(tiny_models, image):
    out = generate.caption(
        image, model=tiny_models.caption,
        decoding=DecodingConfig(strategy="beam", num_beams=4, num_captions=3, max_new_tokens=6),
    )
    scores = [c.score for c in out.captions]
    assert 1 <= len(out.captions) <= 3 and scores == sorted(scores, reverse=True)
    assert len({c.text for c in out.captions}) == len(out.captions)


def test_sampling_is_reproducible_from_its_seed(tiny_models, image):
    config = DecodingConfig(strategy="sample", num_captions=3, max_new_tokens=8, seed=7)
    a = generate.caption(image, model=tiny_models.caption, decoding=config)
    b = generate.caption(image, model=tiny_models.caption, decoding=config)
    assert [c.text for c in a.captions] == [c.text for c in b.captions]


def test_prefix_is_continued(tiny_models, image):
    out = generate.caption(image, model=tiny_models.caption, prefix="a red", decoding=DecodingConfig(max_new_tokens=4))
    assert out.best.startswith("a red") and out.prefix == "a red"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="nucleus"), "valid"),
        (dict(strategy="greedy", num_captions=2), "beam"),
        (dict(strategy="beam", num_beams=2, num_captions=3), "num_beams"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(strategy="sample", top_p=0.0), "top_p"),
    ],
)
def test_bad_decoding_settings_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecodingConfig(**kwargs)


def test_answer_has_text_and_confidence(tiny_models, image):
    out = generate.answer(image, "what color is the shape?", model=tiny_models.vqa)
    again = generate.answer(image, "what color is the shape?", model=tiny_models.vqa)
    assert out.answer and out.answer == again.answer
    assert 0.0 < out.confidence <= 1.0 and out.model == tiny_models.vqa
    with pytest.raises(MediaError, match="question is empty"):
        generate.answer(image, "  ", model=tiny_models.vqa)
