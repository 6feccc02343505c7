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
"""

from __future__ import annotations

import logging
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def packing_available() -> bool:
    """True when this torch build packs and runs bfloat16 linears through oneDNN correctly."""
    try:
        weight = torch.randn(24, 16).to(torch.bfloat16)
        bias = torch.randn(24).to(torch.bfloat16)
        x = torch.randn(5, 16).to(torch.bfloat16)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 5)
        got = torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")
    except (RuntimeError, AttributeError, NotImplementedError) as err:
        logger.info("Packed bfloat16 linears are not available here (%s); using autocast", err)
        return False
    return bool(torch.allclose(got.float(), F.linear(x, weight, bias).float(), atol=0.05, rtol=0.02))


class PackedBFloat16Linear(nn.Module):
    """An inference-only replacement for ``nn.Linear``: bfloat16 in, bfloat16 out."""

    def __init__(self, linear: nn.Linear, batch_hint: int = 256) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().to(torch.bfloat16)
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint)
        self.packed_bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)  # [..., in] -> [N, in]
        out = torch.ops.mkldnn._linear_pointwise(rows, self.packed_weight, self.packed_bias, "none", [], "")
        return out.reshape(*x.shape[:-1], self.out_features)  # [N, out] -> [..., out]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bfloat16 packed"


def pack_linears(module: nn.Module, batch_hint: int = 256) -> int:
    """Replace every ``nn.Linear`` inside ``module`` (in place); returns how many were replaced."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, PackedBFloat16Linear(child, batch_hint))
            count += 1
        else:
            count += pack_linears(child, batch_hint)
    return count
