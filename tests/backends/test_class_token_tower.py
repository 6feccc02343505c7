"""CLIP image features with a class-token-only last layer equal transformers' own."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from mmdemo.backends.class_token_tower import class_token_features


def tiny_clip(layers: int) -> CLIPModel:
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": layers,
                       "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    return CLIPModel(config).eval()


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("layers", [1, 3])
def test_equals_get_image_features(batch: int, layers: int) -> None:
    model = tiny_clip(layers)
    pixels = torch.randn(batch, 3, 32, 32)
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=pixels).pooler_output
        got = class_token_features(model, pixels)
    assert got.shape == expected.shape == (batch, 16)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_every_token_still_feeds_the_class_token() -> None:
    model = tiny_clip(2)
    pixels = torch.randn(1, 3, 32, 32)
    changed = pixels.clone()
    changed[:, :, 24:, 24:] += 1.0  # only the last patch
    with torch.no_grad():
        assert not torch.allclose(class_token_features(model, pixels), class_token_features(model, changed))
