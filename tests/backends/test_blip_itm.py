"""BLIP image-text matching (``blip-itm``) and :func:`mmdemo.rerank`, from a hub-like folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmdemo
from mmdemo import presets, registry
from mmdemo.errors import MediaError, UnknownModelError

IMAGES = [
    (np.random.default_rng(seed).random((32, 32, 3)) * 255).astype(np.uint8) for seed in range(2)
]
TEXTS = ["a red circle", "two blue squares", "a small yellow star on the left"]


def _reference_scores(folder: str, image: np.ndarray, text: str) -> tuple[float, float]:
    """What transformers' own BlipForImageTextRetrieval says for the pair."""
    from transformers import AutoProcessor, BlipForImageTextRetrieval

    model = BlipForImageTextRetrieval.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    inputs = processor(images=image, text=text, return_tensors="pt")
    with torch.inference_mode():
        itm = model(**inputs, use_itm_head=True).itm_score
        itc = model(**inputs, use_itm_head=False).itm_score
    return float(torch.softmax(itm, dim=-1)[0, 1]), float(itc[0, 0])


def test_rerank_scores_every_pair_as_blip_does_and_ranks_them(hub_like):
    folder = str(hub_like.blip_itm)
    out = mmdemo.rerank(IMAGES, TEXTS, model=folder)
    assert out.model == folder and len(out.scores) == len(IMAGES) * len(TEXTS)
    matches = [score.match for score in out.scores]
    assert matches == sorted(matches, reverse=True)
    assert len({round(m, 6) for m in matches}) > 1  # the scores follow the pair
    for score in out.scores:
        match, similarity = _reference_scores(folder, IMAGES[score.image], TEXTS[score.text_index])
        assert score.text == TEXTS[score.text_index]
        # auto dtype: bfloat16 autocast on CPUs with fast bfloat16
        assert score.match == pytest.approx(match, abs=2e-2)
        assert score.similarity == pytest.approx(similarity, abs=2e-2)
    first = out.for_image(0)
    assert [s.image for s in first] == [0] * len(TEXTS) and first[0].match >= first[-1].match
    single = mmdemo.rerank(IMAGES[0], TEXTS, model=folder)  # one image, not a list
    assert [s.text_index for s in single.scores] == [s.text_index for s in first]


def test_rerank_refuses_bad_input_and_other_heads(hub_like, tiny_models):
    with pytest.raises(MediaError, match="list"):
        mmdemo.rerank(IMAGES[0], "a red circle", model=str(hub_like.blip_itm))
    with pytest.raises(mmdemo.MmdemoError, match="BlipForConditionalGeneration"):
        mmdemo.rerank(IMAGES[0], TEXTS, model=str(tiny_models.folder / "caption"))


def test_the_role_has_a_default_only_in_the_pretrained_preset():
    assert registry.get_model_spec("blip-itm-base-coco").checkpoint == "Salesforce/blip-itm-base-coco"
    assert registry.get_model_spec("blip-itm-base-coco").role == "image-text-match"
    before = presets.active_preset()
    try:
        presets.use_preset("pretrained")
        assert registry.default_model("image-text-match") == "blip-itm-base-coco"
        assert set(registry.default_models()) == set(registry.ROLES)
        presets.use_preset("bundled")
        with pytest.raises(UnknownModelError, match="No default 'image-text-match' model"):
            mmdemo.rerank(IMAGES[0], TEXTS)
    finally:
        presets.use_preset(before)
