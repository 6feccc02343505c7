from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmdemo import loading
from mmdemo.backends.packed_linear import (
    PackedBFloat16Linear,
    PackedPatchEmbedding,
    fuse_quick_gelu,
    is_patch_conv,
    pack_linears,
    pack_patch_embeddings,
    packing_available,
    swish_available,
)

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


@pytest.mark.parametrize("batch", [1, 2])
def test_packed_linear_can_return_float32_inside_a_float32_model(batch):
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 24)
    x = torch.randn(batch, 5, 16)  # float32 in, as a float32 text layer gives it
    packed = PackedBFloat16Linear(linear, out_dtype=torch.float32)
    got = packed(x)
    assert got.dtype == torch.float32 and got.shape == (batch, 5, 24) and "float32 out" in repr(packed)
    torch.testing.assert_close(got, linear(x), atol=0.05, rtol=0.02)


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
        assert all(p.dtype == torch.bfloat16 for p in loaded.model.vision_model.parameters())
        assert isinstance(loaded.model.vision_model.embeddings.patch_embedding, PackedPatchEmbedding)
        if swish_available():
            assert all(layer.mlp.fc1.activation == "swish" for layer in loaded.model.vision_model.encoder.layers)
        images = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (30, 30, 3), dtype=np.uint8)) for i in range(2)]
        reference = embed_images(images, model=tiny_models.clip, use_cache=False).embeddings  # float32
        fast = embed_images(images, model=auto.name, use_cache=False).embeddings
        assert fast.dtype == torch.float32 and (fast * reference).sum(dim=-1).min() > 0.999
    finally:
        unregister_model(auto.name)


@pytest.mark.skipif(not swish_available(), reason="this torch build cannot fuse swish into a packed linear")
@pytest.mark.parametrize("batch", [1, 2])
def test_fused_quick_gelu_matches_the_mlp(batch):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=16, hidden_act="quick_gelu")
    tower = CLIPVisionModel(config).eval()
    pixels = torch.randn(batch, 3, 32, 32)
    with torch.no_grad():
        expected = tower(pixel_values=pixels).pooler_output
        assert fuse_quick_gelu(tower) == 2
        mlp = next(m for m in tower.modules() if hasattr(m, "fc1"))
        assert isinstance(mlp.fc1, PackedBFloat16Linear) and mlp.fc1.activation == "swish"
        assert isinstance(mlp.activation_fn, torch.nn.Identity) and "fused swish" in repr(mlp.fc1)
        tower.to(torch.bfloat16)  # the rest of the tower as vision_in_bfloat16 leaves it
        pack_linears(tower)
        got = tower(pixel_values=pixels.bfloat16()).pooler_output.float()
    assert got.shape == expected.shape
    assert F.cosine_similarity(got, expected, dim=-1).min() > 0.9995  # plain swish (no 1.702) gives 0.995


def test_fuse_quick_gelu_leaves_other_activations_alone():
    mlp = torch.nn.Module()
    mlp.fc1, mlp.activation_fn, mlp.fc2 = torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 4)
    assert fuse_quick_gelu(mlp) == 0 and isinstance(mlp.fc1, torch.nn.Linear)


def test_unknown_fused_activation_is_refused():
    with pytest.raises(ValueError, match="valid"):
        PackedBFloat16Linear(torch.nn.Linear(4, 4), activation="relu6")


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("side", [32, 35])  # 35: a partial last patch, dropped as the convolution drops it
def test_packed_patch_embedding_matches_the_convolution(batch, bias, side):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 24, kernel_size=8, stride=8, bias=bias)
    pixels = torch.randn(batch, 3, side, side)
    expected = conv.to(torch.bfloat16)(pixels.bfloat16()).float()  # [B, 24, 4, 4]
    packed = PackedPatchEmbedding(conv)
    got = packed(pixels.bfloat16())
    assert got.dtype == torch.bfloat16 and got.shape == expected.shape == (batch, 24, 4, 4)
    torch.testing.assert_close(got.float(), expected, atol=0.03, rtol=0.02)
    # a patch read in the wrong order (e.g. rows and columns swapped) lands far from the convolution
    assert not torch.allclose(got.float(), expected.transpose(2, 3), atol=0.03)


def test_only_non_overlapping_patch_convolutions_are_packed():
    model = torch.nn.Module()
    model.patches = torch.nn.Conv2d(3, 8, kernel_size=4, stride=4)
    model.overlapping = torch.nn.Conv2d(8, 8, kernel_size=3, stride=1, padding=1)
    assert is_patch_conv(model.patches) and not is_patch_conv(model.overlapping)
    assert pack_patch_embeddings(model) == 1
    assert isinstance(model.patches, PackedPatchEmbedding) and isinstance(model.overlapping, torch.nn.Conv2d)
    with pytest.raises(ValueError, match="Not a patch embedding"):
        PackedPatchEmbedding(torch.nn.Conv2d(3, 8, kernel_size=4, stride=2))
