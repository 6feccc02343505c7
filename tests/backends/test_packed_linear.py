import pytest
import torch
import torch.nn.functional as F

from mmdemo.backends.packed_linear import (
    PackedBFloat16Linear,
    PackedPatchEmbedding,
    is_patch_conv,
    pack_linears,
    pack_patch_embeddings,
    packing_available,
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
