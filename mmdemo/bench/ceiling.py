"""A ceiling for image embedding: the CLIP image tower's matrix products alone, timed beside it.

Most of a torch bfloat16 path's image time is the tower's Linear layers (packed for oneDNN).
:func:`tower_products` runs the encoder layers' products (the same shapes, packed kernels and
batches, the last layer for the class token only, which is all an embedding reads) on stand-in
activations, with nothing else:
no attention, layer norm, patch embedding, projection, preprocessing or Python between them. It
is, if anything, optimistic: one weight per shape serves every layer, so weights stay warmer in
cache than the real tower's twelve. Timed in the same loop as the baseline, its speed-up over the
baseline bounds what a path with these products can reach on this machine at that moment.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mmdemo.backends.packed_linear import PackedBFloat16Linear, packing_available


def _tokens(vision_config) -> int:
    """Patches plus the class token."""
    return (vision_config.image_size // vision_config.patch_size) ** 2 + 1


def tower_products(vision_config, images: int, batch_size: int, seed: int = 0) -> Callable[[], None] | None:
    """A callable running the products of ``images`` images through a ViT tower of
    ``vision_config`` in batches of ``batch_size``; None where packed bfloat16 linears are unavailable.

    Per layer: query, key, value and output projections (hidden -> hidden) and the MLP
    (hidden -> intermediate -> hidden), as in transformers' CLIP encoder layer, over every token;
    in the last layer only keys and values read every token, the rest one row per image.
    """
    if not packing_available():
        return None
    generator = torch.Generator().manual_seed(seed)
    hidden, inner = vision_config.hidden_size, vision_config.intermediate_size
    shapes = [(hidden, hidden)] * 4 + [(hidden, inner), (inner, hidden)]  # (in, out) per product of a layer
    layers = {}
    for fan_in, fan_out in set(shapes):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.normal_(0, fan_in**-0.5, generator=generator)
        layers[(fan_in, fan_out)] = PackedBFloat16Linear(linear)
    batches = [min(batch_size, images - start) for start in range(0, images, batch_size)]
    rows = {size: (size * _tokens(vision_config), size) for size in set(batches)}  # all tokens, class tokens
    inputs = {  # [rows, in] per row count and input width
        (count, fan_in): torch.randn(count, fan_in, generator=generator).to(torch.bfloat16)
        for size in set(batches) for count in rows[size] for fan_in in (hidden, inner)
    }
    last_layer_rows = ("class", "all", "all", "class", "class", "class")  # query, key, value, output, fc1, fc2

    @torch.inference_mode()
    def run() -> None:
        for size in batches:
            every, classes = rows[size]
            for _ in range(vision_config.num_hidden_layers - 1):
                for fan_in, fan_out in shapes:
                    layers[(fan_in, fan_out)](inputs[(every, fan_in)])
            for (fan_in, fan_out), which in zip(shapes, last_layer_rows):
                layers[(fan_in, fan_out)](inputs[(every if which == "all" else classes, fan_in)])

    return run
