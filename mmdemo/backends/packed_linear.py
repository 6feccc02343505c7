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

A ViT's patch embedding is a convolution whose stride equals its kernel: every patch is seen once,
so it is one matrix product over the flattened patches. :class:`PackedPatchEmbedding` runs it so
(a reshape, then a packed linear); oneDNN's bfloat16 convolution took 80 ms for 64 CLIP images
and 44 ms for one BLIP image where the product takes 32 and 9 (issue 7 probe). BLIP's vision tower and
cross-attention use them (:mod:`~mmdemo.backends.bfloat16_vision`); CLIP's towers run through OpenVINO
instead (:mod:`mmdemo.runtimes`), which was faster with AMX and without.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def packing_available() -> bool:
    """True when this torch build packs and runs bfloat16 linears through oneDNN correctly
    (callers fall back to autocast otherwise)."""
    try:
        weight = torch.randn(24, 16).to(torch.bfloat16)
        bias = torch.randn(24).to(torch.bfloat16)
        x = torch.randn(5, 16).to(torch.bfloat16)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 5)
        got = torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")
    except (RuntimeError, AttributeError, NotImplementedError) as err:
        logger.info("Packed bfloat16 linears are not available here (%s)", err)
        return False
    return bool(torch.allclose(got.float(), F.linear(x, weight, bias).float(), atol=0.05, rtol=0.02))


class PackedBFloat16Linear(nn.Module):
    """An inference-only replacement for ``nn.Linear``: bfloat16 in, bfloat16 out (or
    ``out_dtype``, for a layer inside a float32 model).
    """

    def __init__(self, linear: nn.Linear, batch_hint: int = 256, out_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.out_dtype = out_dtype
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().to(torch.bfloat16)
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint)
        self.packed_bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)  # [..., in] -> [N, in]
        out = torch.ops.mkldnn._linear_pointwise(rows, self.packed_weight, self.packed_bias, "none", [], "")
        if self.out_dtype is not None:
            out = out.to(self.out_dtype)
        return out.reshape(*x.shape[:-1], self.out_features)  # [N, out] -> [..., out]

    def extra_repr(self) -> str:
        out = "" if self.out_dtype is None else f", {str(self.out_dtype).removeprefix('torch.')} out"
        return f"in_features={self.in_features}, out_features={self.out_features}, bfloat16 packed{out}"


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
