"""The result of every explanation: :class:`Explanation`, a relevance map at the image's size.

Every explainer computes a map over the model's patch grid, then :func:`to_image_map` normalises it
and lays it over the part of the input image the model saw (its processor may centre-crop).

Normalisation of :attr:`Explanation.relevance` (float32, ``H x W`` of the image as loaded by
:func:`mmdemo.media.load_image`): min-max over the patch grid, so the most relevant patch is 1 and
the least relevant 0 (:attr:`Explanation.grid`), upsampled bilinearly between patch centres, then
min-max again over the pixels (pixel centres rarely fall on a patch centre, so an inner peak
patch would otherwise top out below 1): the image's maximum is 1 and its minimum 0; pixels the
model never saw (outside a centre crop) are 0; a map with no relevance anywhere (all patches
equal) is all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmdemo.errors import ConfigError

Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


@dataclass
class Explanation:
    """Why a model scored a target on an image.

    Attributes:
        relevance: float32 ``H x W`` map (normalised as the module docstring says).
        grid: the map over the model's patch grid before upsampling (min-max normalised).
        method: the method that computed it (a name from :data:`mmdemo.explain.METHODS`).
        target: what was explained, in words (``'text "a red circle"'``, ``'word "red"'``, ...).
        score: the number the map explains, computed on the same forward pass: cosine similarity
            (image-text, image-image), log-probability (caption word, answer) or a class logit.
        score_kind: what ``score`` is (``"cosine"``, ``"log-prob"``, ``"logit"``).
        model: the model's registry name (or a description for a bare ``nn.Module``).
        path: which computation produced it (e.g. a float32 eager-attention copy of the checkpoint).
        image: the image the map belongs to (for :meth:`overlay`).
    """

    relevance: np.ndarray
    grid: np.ndarray
    method: str
    target: str
    score: float
    score_kind: str
    model: str
    path: str
    image: Image.Image = field(repr=False)

    @classmethod
    def from_patches(
        cls, patches: torch.Tensor, image: Image.Image, *, box: Box | None = None, score: torch.Tensor,
        method: str, target: str, score_kind: str, model: str, path: str,
    ) -> Explanation:
        """The explanation of ``score`` from relevance over the model's patch grid ``[h, w]``:
        the grid min-max normalised, and upsampled to ``image``'s size (over ``box``, the part of
        the image the model saw; None: all of it)."""
        return cls(
            relevance=to_image_map(patches, image.size, box),
            grid=normalise(patches).cpu().numpy().astype("float32"),
            method=method, target=target, score=float(score.detach()), score_kind=score_kind,
            model=model, path=path, image=image,
        )

    @property
    def peak(self) -> tuple[float, float]:
        """(x, y) in pixels where the map peaks: the centre of the pixels at its maximum.

        Bilinear upsampling holds an edge patch's value flat out to the image's border, so the
        maximum is a plateau there, not a pixel; its centre is where the peak patch's evidence is.
        """
        return peak_of(self.relevance)

    def overlay(self, opacity: float = 0.5, colormap: str = "jet") -> Image.Image:
        """The image with the map drawn over it in ``colormap`` (a matplotlib name) at ``opacity``."""
        return overlay(self.image, self.relevance, opacity=opacity, colormap=colormap)


def peak_of(relevance: np.ndarray) -> tuple[float, float]:
    """(x, y): the centre of the pixels of ``relevance`` within 1e-6 of its maximum."""
    ys, xs = np.nonzero(relevance >= relevance.max() - 1e-6)
    return float(xs.mean()), float(ys.mean())


def overlay(image: Image.Image, relevance: np.ndarray, opacity: float = 0.5, colormap: str = "jet") -> Image.Image:
    """``image`` blended with ``relevance`` (values in [0, 1]) coloured by ``colormap``."""
    if not 0.0 <= opacity <= 1.0:
        raise ConfigError(f"opacity must be between 0 and 1, got {opacity}")
    if colormap not in matplotlib.colormaps:
        raise ConfigError(f"Unknown colormap {colormap!r}; valid: e.g. jet, inferno, viridis, magma, turbo")
    colours = matplotlib.colormaps[colormap](np.clip(relevance, 0.0, 1.0))[..., :3]  # [H, W, 3]
    heat = Image.fromarray((colours * 255).round().astype(np.uint8), "RGB")
    return Image.blend(image.convert("RGB"), heat, opacity)


def check_method(method: str | None, valid: tuple[str, ...], default: str) -> str:
    """``method`` (None: ``default``) when it is one of ``valid``; else a ConfigError listing them."""
    chosen = default if method is None else method
    if chosen not in valid:
        raise ConfigError(f"Unknown explanation method {chosen!r}; valid methods: {list(valid)}")
    return chosen


def normalise(grid: torch.Tensor) -> torch.Tensor:
    """Min-max to [0, 1]; all zeros when the grid is constant (no relevance anywhere)."""
    grid = grid.detach().float()
    low, high = grid.min(), grid.max()
    if not torch.isfinite(high - low) or float(high - low) <= 1e-12 * max(1.0, float(high.abs())):
        return torch.zeros_like(grid)
    return (grid - low) / (high - low)


def to_image_map(grid: torch.Tensor, size: tuple[int, int], box: Box | None = None) -> np.ndarray:
    """The ``[gh, gw]`` patch map as a float32 ``[H, W]`` array for an image of ``size`` (W, H).

    ``box`` is the region of the image the model saw (None: all of it); the map is resized
    bilinearly onto it and the rest stays 0.
    """
    width, height = size
    left, top, right, bottom = box or (0.0, 0.0, float(width), float(height))
    x0, y0 = max(0, int(round(left))), max(0, int(round(top)))
    x1, y1 = min(width, int(round(right))), min(height, int(round(bottom)))
    out = np.zeros((height, width), dtype=np.float32)
    if x1 <= x0 or y1 <= y0:
        return out
    resized = F.interpolate(
        grid.detach().float()[None, None], size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False
    )[0, 0]  # [y1 - y0, x1 - x0]; bilinear is linear, so min-max once afterwards is the grid's min-max too
    out[y0:y1, x0:x1] = normalise(resized).clamp(0.0, 1.0).cpu().numpy()
    return out


def centre_crop_box(size: tuple[int, int], shortest_edge: int, crop: tuple[int, int]) -> Box:
    """The region of an image of ``size`` (W, H) that "resize the shortest edge to
    ``shortest_edge``, then centre-crop ``crop`` (h, w)" keeps, in the image's pixels."""
    width, height = size
    scale = shortest_edge / min(width, height)
    resized_w, resized_h = width * scale, height * scale
    crop_h, crop_w = crop
    left = (resized_w - crop_w) / 2 / scale
    top = (resized_h - crop_h) / 2 / scale
    return (max(0.0, left), max(0.0, top), min(width, left + crop_w / scale), min(height, top + crop_h / scale))
