"""Occlusion sensitivity (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks",
ECCV 2014): how much a score drops when a part of the image is painted over.

For each patch of the model's grid, a square window centred on the patch is painted with the
image's background (the per-channel median of its border pixels, so a shape is erased rather than
covered by a grey block); the patch's relevance is ``relu(score(image) - score(image, window
erased))``. It reads only the model's output (no gradients, no attention maps), so the map shows
what the output depends on whatever the architecture; the price is one forward pass per patch,
run as one batch. The window is half the input's side (:data:`WINDOW`), chosen on the bundled
BLIP's held-out scenes and confirmed on 40 scenes of another seed (777; hit rates of caption
colour / caption kind / VQA maps): a quarter of the side 0.42 / 0.71 / 0.65, a third 0.70 / 0.73 /
0.75, half 0.89 / 0.92 / 1.00, two thirds 0.59 / 0.47 / 0.70 (README, "Explanations").
"""

from __future__ import annotations

import torch

WINDOW = 0.5  # the window's side, as a share of the model input's side


def occluded_batch(pixels: torch.Tensor, grid: tuple[int, int], window: float = WINDOW) -> torch.Tensor:
    """``[1 + gh * gw, C, H, W]``: the preprocessed image ``pixels`` ``[1, C, H, W]`` first, then one
    copy per patch (row by row) with the window centred on that patch painted with the background."""
    if pixels.dim() != 4 or pixels.shape[0] != 1:
        raise ValueError(f"pixels must be one image [1, C, H, W], got shape {list(pixels.shape)}")
    if not 0.0 < window <= 1.0:
        raise ValueError(f"window must be a share of the side in (0, 1], got {window}")
    _, channels, height, width = pixels.shape
    rows, cols = grid
    image = pixels[0]
    border = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)  # [C, 2H + 2W]
    background = border.median(dim=1).values[:, None, None]  # [C, 1, 1]
    half_h, half_w = window * height / 2, window * width / 2
    copies = [image]
    for r in range(rows):
        for c in range(cols):
            cy, cx = (r + 0.5) * height / rows, (c + 0.5) * width / cols
            y0, y1 = max(0, round(cy - half_h)), min(height, round(cy + half_h))
            x0, x1 = max(0, round(cx - half_w)), min(width, round(cx + half_w))
            erased = image.clone()
            erased[:, y0:y1, x0:x1] = background
            copies.append(erased)
    return torch.stack(copies)  # [1 + rows * cols, C, H, W]


def occlusion_relevance(scores: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Relevance ``[..., gh, gw]`` from the scores of :func:`occluded_batch`'s images ``[1 + gh * gw, ...]``
    (the whole image's first): how much erasing each patch's window lowered the score."""
    drop = (scores[:1] - scores[1:]).clamp(min=0)  # [gh * gw, ...]
    return drop.movedim(0, -1).reshape(*scores.shape[1:], *grid)
