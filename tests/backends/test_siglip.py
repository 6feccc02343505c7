"""SigLIP / SigLIP 2 (``siglip`` backend) from hub-like folders: embeddings as transformers computes
them, and zero-shot scores as SigLIP defines them: independent sigmoid probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmdemo
from mmdemo import registry
from mmdemo.loading import get_model
from mmdemo.registry import spec_from_reference

IMAGE = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)


@pytest.fixture(params=["siglip", "siglip2"])
def folder(request, hub_like):
    return str(getattr(hub_like, request.param))


def test_registry_names_and_folders_take_the_siglip_backend(folder):
    assert registry.get_model_spec("siglip-base-patch16-224").checkpoint == "google/siglip-base-patch16-224"
    assert registry.get_model_spec("siglip2-base-patch16-224").checkpoint == "google/siglip2-base-patch16-224"
    assert spec_from_reference("image-text", folder).backend == "siglip"
    assert spec_from_reference("image-text", "google/siglip-so400m-patch14-384").backend == "siglip"  # not cached


def test_embeddings_match_transformers_and_not_the_batch(folder):
    from transformers import AutoModel, AutoProcessor

    texts = ["a red circle", "two blue squares on the left"]
    ours_text = mmdemo.embed_texts(texts, model=folder, use_cache=False).embeddings
    alone = mmdemo.embed_texts(texts[:1], model=folder, use_cache=False).embeddings
    ours_image = mmdemo.embed_images([IMAGE], model=folder, use_cache=False).embeddings
    model, processor = AutoModel.from_pretrained(folder).eval(), AutoProcessor.from_pretrained(folder)
    with torch.inference_mode():
        inputs = processor(text=texts, padding="max_length", max_length=model.config.text_config.max_position_embeddings, return_tensors="pt")
        text = model.get_text_features(**{k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")})
        image = model.get_image_features(**processor.image_processor(images=[IMAGE], return_tensors="pt"))
    text = text if isinstance(text, torch.Tensor) else text.pooler_output
    image = image if isinstance(image, torch.Tensor) else image.pooler_output
    # auto dtype: bfloat16 autocast on CPUs with fast bfloat16, hence the tolerance
    assert torch.allclose(ours_text, F.normalize(text, dim=-1), atol=3e-2)
    assert torch.allclose(ours_image, F.normalize(image, dim=-1), atol=3e-2)
    assert torch.allclose(alone[0], ours_text[0], atol=1e-3)


def test_zero_shot_reports_independent_sigmoid_probabilities(folder):
    labels = ["red", "blue", "circle"]
    result = mmdemo.zero_shot_classify(IMAGE, labels, model=folder)
    assert result.activation == "sigmoid" and result.template == "This is a photo of {}."
    loaded = get_model(folder, "image-text")
    image = mmdemo.embed_images([IMAGE], model=folder).embeddings
    texts = mmdemo.embed_texts([result.template.format(label) for label in labels], model=folder).embeddings
    scale, bias = float(loaded.model.logit_scale.detach().exp()), float(loaded.model.logit_bias.detach())
    expected = torch.sigmoid(scale * (image @ texts.T)[0] + bias)
    assert result.probabilities == pytest.approx(expected.tolist(), abs=1e-6)
    fewer = mmdemo.zero_shot_classify(IMAGE, labels[:2], model=folder)
    assert fewer.probabilities == pytest.approx(result.probabilities[:2], abs=1e-6)  # no softmax
    assert abs(sum(result.probabilities) - 1.0) > 1e-3


def test_clip_zero_shot_still_says_softmax(tiny_models):
    result = mmdemo.zero_shot_classify(IMAGE, ["red", "blue"], model=tiny_models.clip)
    assert result.activation == "softmax" and result.template == "a photo of a {}."
    assert sum(result.probabilities) == pytest.approx(1.0, abs=1e-5)
