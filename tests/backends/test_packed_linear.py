from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmdemo import loading
from mmdemo.backends.packed_linear import PackedBFloat16Linear, pack_linears, packing_available

pytestmark = pytest.mark.skipif(not packing_available(), reason="this torch build cannot pack bfloat16 linears")


@pytest.mark.parametrize("shape", [(1, 16), (2, 16), (2, 3, 16)])
@pytest.mark.parametrize("bias", [True, False])
def test_packed_linear_matches_bfloat16_linear(shape, bias):
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 24, bias=bias)
    x = torch.randn(*shape)
    packed = PackedBFloat16Linear(linear)
    expected = F.linear(x.bfloat16(), linear.weight.bfloat16(), None if linear.bias is None else linear.bias.bfloat16())
    got = packed(x)
    assert got.dtype == torch.bfloat16 and got.shape == (*shape[:-1], 24)
    torch.testing.assert_close(got.float(), expected.float(), atol=0.02, rtol=0.02)
    assert list(packed.parameters()) == []  # inference only
    assert "packed" in repr(packed)


def test_pack_linears_replaces_nested_layers():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(8, 4)))
    x = torch.randn(3, 8)
    expected = model(x)
    assert pack_linears(model) == 2
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert F.cosine_similarity(model(x).float().flatten(), expected.flatten(), dim=0) > 0.999


def test_clip_image_tower_is_packed_under_the_auto_policy(tiny_models, monkeypatch):
    from mmdemo.encoders import embed_images
    from mmdemo.registry import get_model_spec, register_model, unregister_model

    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: True)
    auto = register_model(replace(get_model_spec(tiny_models.clip), name="tiny-clip-packed", dtype="auto"))
    try:
        loaded = loading.get_model(auto.name, "image-text")
        assert loaded.extras["speedups"] == ("text-float32", "image-packed-bfloat16")
        assert isinstance(loaded.model.visual_projection, PackedBFloat16Linear)
        assert not any(isinstance(m, torch.nn.Linear) for m in loaded.model.vision_model.modules())
        images = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (30, 30, 3), dtype=np.uint8)) for i in range(2)]
        reference = embed_images(images, model=tiny_models.clip, use_cache=False).embeddings  # float32
        fast = embed_images(images, model=auto.name, use_cache=False).embeddings
        assert fast.dtype == torch.float32 and (fast * reference).sum(dim=-1).min() > 0.999
    finally:
        unregister_model(auto.name)
