"""Draw a :class:`~mmdemo.world.scenes.Scene` as a PIL image, plainly or in a varied style.

Plain rendering (:func:`render_scene` without a style) is the world's own look: a square canvas,
filled shapes in the six reference colours, drawn at ``supersample`` times the output size and
scaled down with a box filter (smooth anti-aliased edges). The bundled models see 96x96 images.

A :class:`RenderStyle` (drawn by :func:`sample_style`) varies what a drawing program varies and
nothing a label talks about: the canvas size and aspect ratio, filled or outlined shapes and the
line width, anti-aliased or hard edges, each shape's exact colour within a range around its named
colour (:data:`COLOUR_RANGES`), a slight blur, pixel noise and JPEG artefacts. Shape centres and
radii are fractions of the canvas (x of its width, y of its height, radii of its shorter side),
so a shape's column (left/middle/right third) is the same on every canvas.

Model input policy (:func:`to_model_input`): an image of any size is resized to the model's square
input *without cropping or padding*: the aspect ratio is not kept, so the thirds of the picture
are the thirds the model sees (a padded or cropped picture would move shapes between columns). The
bundled processors do exactly this (``resize`` to height x width, no centre crop); pretraining
renders styled canvases of aspect ratio 1:1.6 to 1.6:1 and resizes them the same way.
"""

from __future__ import annotations

import colorsys
import io
import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mmdemo.world.scenes import COLOURS, POSITIONS, Scene, Shape

DEFAULT_SIZE = 96
RADIUS = {"small": 0.08, "large": 0.13}  # fraction of the canvas side (the plain world's sizes)
STAR_INNER = 0.45  # inner radius of the star, fraction of the outer radius
MAX_ASPECT = 1.6  # styled canvases are at most this elongated
RESAMPLE = Image.Resampling.BICUBIC  # what the bundled processors resize with

# Hue ranges (degrees), and the least saturation and value, of what each colour name covers in
# styled renderings: the usual renditions of the name (web, office and paint-program colours),
# with gaps between neighbours so every label stays exact.
COLOUR_RANGES: dict[str, tuple[float, float, float, float]] = {
    "red": (-15.0, 8.0, 0.65, 0.55),
    "orange": (22.0, 40.0, 0.7, 0.8),
    "yellow": (48.0, 62.0, 0.7, 0.8),
    "green": (95.0, 150.0, 0.55, 0.4),
    "blue": (205.0, 245.0, 0.55, 0.5),
    "purple": (268.0, 305.0, 0.45, 0.4),
}


@dataclass(frozen=True)
class RenderStyle:
    """How a drawing looks, beyond what the scene says (see the module docstring).

    Attributes:
        width, height: canvas size in pixels.
        outline: line width of outlined shapes as a fraction of the canvas's shorter side; 0 fills them.
        antialias: smooth edges (drawn 3x larger and scaled down) or hard ones.
        blur: Gaussian blur radius in pixels (0: none).
        noise: standard deviation of added pixel noise, in 0..255 levels (0: none).
        jpeg_quality: save and reload as JPEG at this quality (None: no JPEG).
        colour_seed: seeds each shape's exact colour within its name's range (None: the reference
            colours of :data:`~mmdemo.world.scenes.COLOURS`).
    """

    width: int = DEFAULT_SIZE
    height: int = DEFAULT_SIZE
    outline: float = 0.0
    antialias: bool = True
    blur: float = 0.0
    noise: float = 0.0
    jpeg_quality: int | None = None
    colour_seed: int | None = None


def sample_style(rng: np.random.Generator) -> RenderStyle:
    """A random style: canvas 64-256 px a side (aspect 1:1.6 to 1.6:1), a third outlined, half hard-edged,
    some blur, noise and JPEG, colours anywhere in their ranges."""
    side = float(rng.uniform(64, 256))
    aspect = float(np.exp(rng.uniform(-np.log(MAX_ASPECT), np.log(MAX_ASPECT))))
    width, height = int(round(side * math.sqrt(aspect))), int(round(side / math.sqrt(aspect)))
    return RenderStyle(
        width=max(48, width),
        height=max(48, height),
        outline=float(rng.uniform(0.015, 0.05)) if rng.random() < 0.3 else 0.0,
        antialias=bool(rng.random() < 0.5),
        blur=float(rng.uniform(0.3, 1.5)) if rng.random() < 0.3 else 0.0,
        noise=float(rng.uniform(2.0, 12.0)) if rng.random() < 0.3 else 0.0,
        jpeg_quality=int(rng.integers(25, 90)) if rng.random() < 0.3 else None,
        colour_seed=int(rng.integers(2**31)),
    )


def sample_colour(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """An RGB colour within the range of colour ``name`` (:data:`COLOUR_RANGES`)."""
    low, high, saturation, value = COLOUR_RANGES[name]
    hue = (float(rng.uniform(low, high)) % 360.0) / 360.0
    rgb = colorsys.hsv_to_rgb(hue, float(rng.uniform(saturation, 1.0)), float(rng.uniform(value, 1.0)))
    return tuple(int(round(255 * c)) for c in rgb)  # type: ignore[return-value]


def shape_centre(shape: Shape) -> tuple[float, float]:
    """Centre of ``shape`` in canvas fractions (x to the right, y down)."""
    column = POSITIONS.index(shape.position)
    return (column + 0.5) / len(POSITIONS) + shape.dx, 0.5 + shape.dy


def shape_radius(shape: Shape) -> float:
    """Radius of ``shape`` as a fraction of the canvas's shorter side."""
    return shape.radius if shape.radius is not None else RADIUS[shape.size]


def _polygon(cx: float, cy: float, radii: list[float], angle: float) -> list[tuple[float, float]]:
    """Vertices evenly spaced in angle, starting straight up, rotated by ``angle`` degrees."""
    points = []
    for i, radius in enumerate(radii):
        theta = math.radians(angle) + 2 * math.pi * i / len(radii) - math.pi / 2
        points.append((cx + radius * math.cos(theta), cy + radius * math.sin(theta)))
    return points


def _outline(shape: Shape, width: int, height: int) -> list[tuple[float, float]] | tuple[float, ...]:
    """The circle's bounding box or the polygon's vertices, in pixels."""
    fx, fy = shape_centre(shape)
    cx, cy = fx * width, fy * height
    r = shape_radius(shape) * min(width, height)
    if shape.kind == "circle":
        return (cx - r, cy - r, cx + r, cy + r)
    if shape.kind == "square":
        # A square of the same area as the circle would be 1.77 r^2; half-side 0.89 r.
        return _polygon(cx, cy, [r * 1.26] * 4, shape.angle + 45.0)
    if shape.kind == "triangle":
        return _polygon(cx, cy, [r * 1.25] * 3, shape.angle)
    if shape.kind == "star":
        return _polygon(cx, cy, [r * 1.25 if i % 2 == 0 else r * 1.25 * STAR_INNER for i in range(10)], shape.angle)
    raise ValueError(f"Cannot draw shape kind {shape.kind!r}")  # Shape validates kinds


def _draw_shape(draw: ImageDraw.ImageDraw, shape: Shape, width: int, height: int, fill, line: int) -> None:
    points = _outline(shape, width, height)
    if shape.kind == "circle":
        draw.ellipse(points, fill=None if line else fill, outline=fill if line else None, width=line or 1)
    elif line:
        draw.polygon(points, outline=fill, width=line)
    else:
        draw.polygon(points, fill=fill)


def _draw(scene: Scene, width: int, height: int, style: RenderStyle) -> Image.Image:
    canvas = Image.new("RGB", (width, height), tuple(scene.background))
    draw = ImageDraw.Draw(canvas)
    colours = np.random.default_rng(style.colour_seed) if style.colour_seed is not None else None
    line = max(1, int(round(style.outline * min(width, height)))) if style.outline > 0 else 0
    for shape in scene.shapes:
        fill = sample_colour(shape.colour, colours) if colours is not None else COLOURS[shape.colour]
        _draw_shape(draw, shape, width, height, fill, line)
    return canvas


def render_scene(
    scene: Scene, size: int = DEFAULT_SIZE, supersample: int = 4, style: RenderStyle | None = None
) -> Image.Image:
    """The scene as an RGB image: ``size`` x ``size`` pixels, or the style's canvas when a style is given."""
    if size < 8:
        raise ValueError(f"Image size must be at least 8 pixels, got {size}")
    if supersample < 1:
        raise ValueError(f"supersample must be at least 1, got {supersample}")
    if style is None:
        side = size * supersample
        canvas = _draw(scene, side, side, RenderStyle(side, side))
        return canvas if supersample == 1 else canvas.resize((size, size), Image.Resampling.BOX)
    width, height = style.width, style.height
    factor = 3 if style.antialias else 1
    image = _draw(scene, width * factor, height * factor, replace(style, width=width * factor, height=height * factor))
    if factor > 1:
        image = image.resize((width, height), Image.Resampling.BOX)
    if style.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    if style.noise > 0:
        noise_rng = np.random.default_rng(style.colour_seed)
        pixels = np.asarray(image, dtype=np.float32) + noise_rng.normal(0.0, style.noise, (height, width, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if style.jpeg_quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=style.jpeg_quality)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return image


def to_model_input(image: Image.Image, side: int = DEFAULT_SIZE) -> Image.Image:
    """``image`` as the bundled models see it: resized to ``side`` x ``side``, no crop, no padding."""
    image = image.convert("RGB")
    return image if image.size == (side, side) else image.resize((side, side), RESAMPLE)
