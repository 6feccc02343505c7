"""A vision tower in bfloat16 with float32 in and out: the CPU fast path of BLIP's image side.

:func:`vision_in_bfloat16` casts ``model.vision_model`` to bfloat16 and, on CPU where oneDNN can,
pre-packs its Linear layers and runs its patch embedding as one packed product
(:mod:`~mmdemo.backends.packed_linear`); forward hooks cast its inputs to bfloat16 and its outputs
back to float32, so whatever reads the tower sees float32 as before. BLIP's eager attention is
swapped for the fused kernel (:mod:`~mmdemo.backends.sdpa_attention`).
"""

from __future__ import annotations

from typing import Any

import torch

from mmdemo.backends.packed_linear import pack_linears, pack_patch_embeddings, packing_available
from mmdemo.backends.sdpa_attention import use_sdpa_attention


def _cast_floats(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value


def vision_in_bfloat16(model: torch.nn.Module) -> None:
    """Give ``model.vision_model`` bfloat16 weights, with float32 in and out (forward hooks)."""
    vision = model.vision_model
    on_cpu = next(vision.parameters()).device.type == "cpu"
    use_sdpa_attention(vision)
    vision.to(torch.bfloat16)
    if on_cpu and packing_available():
        pack_linears(vision)
        pack_patch_embeddings(vision)

    def cast_inputs(module, args, kwargs):
        args = tuple(_cast_floats(a, torch.bfloat16) for a in args)
        kwargs = {name: _cast_floats(v, torch.bfloat16) for name, v in kwargs.items()}
        return args, kwargs

    def cast_outputs(module, args, output):
        if isinstance(output, tuple) and not hasattr(output, "keys"):
            return tuple(_cast_floats(item, torch.float32) for item in output)
        for name in list(output.keys()):  # a transformers ModelOutput
            output[name] = _cast_floats(output[name], torch.float32)
        return output

    vision.register_forward_pre_hook(cast_inputs, with_kwargs=True)
    vision.register_forward_hook(cast_outputs)
