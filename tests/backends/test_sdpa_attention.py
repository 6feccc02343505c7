"""BLIP's vision attention through the fused kernel: same outputs as transformers' eager form."""

from __future__ import annotations

import pytest
import torch
from transformers import BlipVisionConfig
from transformers.models.blip.modeling_blip import BlipAttention, BlipVisionModel

from mmdemo.backends.sdpa_attention import SdpaVisionAttention, use_sdpa_attention

CONFIG = BlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                          image_size=32, patch_size=8)


@pytest.mark.parametrize("batch", [1, 2])
def test_fused_attention_equals_the_eager_module(batch: int) -> None:
    torch.manual_seed(0)
    eager = BlipAttention(CONFIG).eval()
    hidden = torch.randn(batch, 17, 32)
    with torch.no_grad():
        expected, _ = eager(hidden)
        got, probabilities = SdpaVisionAttention(eager)(hidden)
    assert probabilities is None and got.shape == (batch, 17, 32)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_whole_tower_keeps_its_output_and_parameters() -> None:
    torch.manual_seed(0)
    tower = BlipVisionModel(CONFIG).eval()
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = tower(pixel_values=pixels).last_hidden_state
        names = {name for name, _ in tower.named_parameters()}
        assert use_sdpa_attention(tower) == 2
        got = tower(pixel_values=pixels).last_hidden_state
    assert not any(isinstance(m, BlipAttention) for m in tower.modules())
    assert {name for name, _ in tower.named_parameters()} == names  # same weights, same names
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert "fused" in repr(tower.encoder.layers[0].self_attn)
