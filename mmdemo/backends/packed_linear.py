"""Linear layers with bfloat16 weights pre-packed for oneDNN (AMX) on CPU.

Under autocast, every ``nn.Linear`` call casts its float32 weight to bfloat16 and oneDNN then
reorders it into its blocked AMX layout, at every call. :class:`PackedBFloat16Linear` does both
once, at load time, and calls oneDNN's linear directly (``torch.ops.mkldnn._linear_pointwise``,
the kernel inductor uses for frozen CPU models). The arithmetic is autocast's (bfloat16 inputs and
weights, float32 accumulation, bfloat16 output), so results match autocast to rounding; the
packed weights also take half the memory of float32 ones. Packed layers are for inference only:
they hold no parameters (no gradients, nothing in ``state_dict``).

The ops are internal to PyTorch, so :func:`packing_available` probes them once and every caller
falls back to plain autocast when they are missing or disagree with ``F.linear``.

oneDNN can also apply an activation to a product's output while it is still in cache (a post-op).
:func:`fuse_quick_gelu` uses its ``swish`` (``y * sigmoid(y)``) for CLIP's quick-GELU
(``x * sigmoid(1.702 x)``): with ``y = 1.702 x``, ``x * sigmoid(1.702 x) = swish(y) / 1.702``, so the
first MLP product's weights and bias are scaled by 1.702 and the second's weights by 1 / 1.702.

A ViT's patch embedding is a convolution whose stride equals its kernel: every patch is seen once,
so it is one matrix product over the flattened patches. :class:`PackedPatchEmbedding` runs it so
(a reshape, then a packed linear); oneDNN's bfloat16 convolution took 80 ms for 64 CLIP images
and 44 ms for one BLIP image where the product takes 32 and 9 (issue 7 probe).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)


FUSED_ACTIVATIONS = {"none": lambda y: y, "swish": F.silu}  # oneDNN post-op -> its float reference


@lru_cache(maxsize=None)
def _probe(activation: str) -> bool:
    """True when oneDNN packs and runs a bfloat16 linear with this fused activation correctly."""
    try:
        weight = torch.randn(24, 16).to(torch.bfloat16)
        bias = torch.randn(24).to(torch.bfloat16)
        x = torch.randn(5, 16).to(torch.bfloat16)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 5)
        got = torch.ops.mkldnn._linear_pointwise(x, packed, bias, activation, [], "")
    except (RuntimeError, AttributeError, NotImplementedError) as err:
        logger.info("Packed bfloat16 linears with activation %r are not available here (%s)", activation, err)
        return False
    expected = FUSED_ACTIVATIONS[activation](F.linear(x, weight, bias).float())
    return bool(torch.allclose(got.float(), expected, atol=0.05, rtol=0.02))


def packing_available() -> bool:
    """True when this torch build packs and runs bfloat16 linears through oneDNN correctly
    (callers fall back to autocast otherwise)."""
    return _probe("none")


def swish_available() -> bool:
    """True when oneDNN's packed linear with a fused swish matches ``F.silu(F.linear(...))``
    (quick-GELU stays a separate op otherwise)."""
    return packing_available() and _probe("swish")


class PackedBFloat16Linear(nn.Module):
    """An inference-only replacement for ``nn.Linear``: bfloat16 in, bfloat16 out (or
    ``out_dtype``, for a layer inside a float32 model).

    ``activation``: ``"none"``, or ``"swish"`` applied to the output inside the product.
    """

    def __init__(
        self, linear: nn.Linear, batch_hint: int = 256, activation: str = "none", out_dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        if activation not in FUSED_ACTIVATIONS:
            raise ValueError(f"Unknown fused activation {activation!r}; valid: {list(FUSED_ACTIVATIONS)}")
        self.activation, self.out_dtype = activation, out_dtype
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().to(torch.bfloat16)
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint)
        self.packed_bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)  # [..., in] -> [N, in]
        out = torch.ops.mkldnn._linear_pointwise(rows, self.packed_weight, self.packed_bias, self.activation, [], "")
        if self.out_dtype is not None:
            out = out.to(self.out_dtype)
        return out.reshape(*x.shape[:-1], self.out_features)  # [N, out] -> [..., out]

    def extra_repr(self) -> str:
        fused = "" if self.activation == "none" else f", fused {self.activation}"
        out = "" if self.out_dtype is None else f", {str(self.out_dtype).removeprefix('torch.')} out"
        return f"in_features={self.in_features}, out_features={self.out_features}, bfloat16 packed{fused}{out}"


def replace_modules(module: nn.Module, matches: Callable[[nn.Module], bool], replace: Callable[[nn.Module], nn.Module]) -> int:
    """Swap every submodule of ``module`` that ``matches`` for ``replace(submodule)``, in place
    (the replacement is not searched again); returns how many were swapped."""
    count = 0
    for name, child in module.named_children():
        if matches(child):
            setattr(module, name, replace(child))
            count += 1
        else:
            count += replace_modules(child, matches, replace)
    return count


def pack_linears(module: nn.Module, batch_hint: int = 256) -> int:
    """Replace every ``nn.Linear`` inside ``module`` (in place); returns how many were replaced."""
    return replace_modules(module, lambda m: isinstance(m, nn.Linear), lambda m: PackedBFloat16Linear(m, batch_hint))


QUICK_GELU_SCALE = 1.702


@torch.no_grad()
def fuse_quick_gelu(module: nn.Module, batch_hint: int = 256) -> int:
    """Fold every quick-GELU MLP (``fc1`` -> ``QuickGELUActivation`` -> ``fc2``) inside ``module``
    into a packed ``fc1`` with a fused swish and a rescaled ``fc2`` (an ``nn.Linear``, packed later
    like the others). Returns how many MLPs were fused; 0 where the fused swish is unavailable.
    """
    from transformers.activations import QuickGELUActivation

    if not swish_available():
        return 0
    count = 0
    for mlp in module.modules():
        if not isinstance(getattr(mlp, "activation_fn", None), QuickGELUActivation):
            continue
        fc1, fc2 = getattr(mlp, "fc1", None), getattr(mlp, "fc2", None)
        if not (isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear)):
            continue
        scaled = nn.Linear(fc1.in_features, fc1.out_features, bias=fc1.bias is not None)
        scaled.weight.copy_(fc1.weight.float() * QUICK_GELU_SCALE)
        if fc1.bias is not None:
            scaled.bias.copy_(fc1.bias.float() * QUICK_GELU_SCALE)
        fc2.weight.copy_(fc2.weight / QUICK_GELU_SCALE)
        mlp.fc1 = PackedBFloat16Linear(scaled, batch_hint, activation="swish")
        mlp.activation_fn = nn.Identity()
        count += 1
    return count


class PackedPatchEmbedding(nn.Module):
    """An inference-only replacement for a patch-embedding ``nn.Conv2d`` (stride == kernel, no
    padding): bfloat16 in, bfloat16 out, the convolution's output layout [B, D, H/p, W/p]."""

    def __init__(self, conv: nn.Conv2d, batch_hint: int = 256) -> None:
        super().__init__()
        if not is_patch_conv(conv):
            raise ValueError(f"Not a patch embedding (stride == kernel, no padding, no groups): {conv}")
        self.patch = conv.kernel_size[0]
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        linear = nn.Linear(conv.in_channels * self.patch**2, conv.out_channels, bias=conv.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(conv.weight.reshape(conv.out_channels, -1))  # [D, C, p, p] -> [D, C*p*p]
            if conv.bias is not None:
                linear.bias.copy_(conv.bias)
        self.linear = PackedBFloat16Linear(linear, batch_hint)
        # transformers' ViT embeddings cast pixels to ``patch_embedding.weight.dtype``: keep a weight.
        self.register_buffer("weight", conv.weight.detach().to(torch.bfloat16), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        b, c, h, w = pixels.shape
        p, rows, cols = self.patch, h // self.patch, w // self.patch
        pixels = pixels[:, :, : rows * p, : cols * p]  # like the convolution: a partial last patch is dropped
        patches = pixels.reshape(b, c, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5)  # [B, C, H, W] -> [B, rows, cols, C, p, p]
        out = self.linear(patches.reshape(b * rows * cols, c * p * p))  # [B*rows*cols, C*p*p] -> [B*rows*cols, D]
        return out.reshape(b, rows, cols, self.out_channels).permute(0, 3, 1, 2)  # -> [B, D, rows, cols]

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, patch={self.patch}, bfloat16 packed"


def is_patch_conv(conv: nn.Module) -> bool:
    """True for a 2-d convolution that embeds non-overlapping square patches."""
    return (
        isinstance(conv, nn.Conv2d) and conv.kernel_size[0] == conv.kernel_size[1]
        and tuple(conv.stride) == tuple(conv.kernel_size) and conv.padding in ((0, 0), "valid")
        and conv.groups == 1 and tuple(conv.dilation) == (1, 1)
    )


def pack_patch_embeddings(module: nn.Module, batch_hint: int = 256) -> int:
    """Replace every patch-embedding convolution inside ``module`` (in place); returns how many."""
    return replace_modules(module, is_patch_conv, lambda conv: PackedPatchEmbedding(conv, batch_hint))
