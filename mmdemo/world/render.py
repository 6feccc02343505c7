"""Draw a :class:`~mmdemo.world.scenes.Scene` as a PIL image.

Shapes are drawn at ``supersample`` times the output size and scaled down with a box filter, which
gives smooth anti-aliased edges. The bundled models see 96x96 images; any other size renders the
same scene at that resolution (the processors resize it to what the model expects).
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from mmdemo.world.scenes import COLOURS, POSITIONS, Scene, Shape

DEFAULT_SIZE = 96
RADIUS = {"small": 0.08, "large": 0.13}  # fraction of the canvas side
STAR_INNER = 0.45  # inner radius of the star, fraction of the outer radius


def shape_centre(shape: Shape) -> tuple[float, float]:
    """Centre of ``shape`` in canvas fractions (x to the right, y down)."""
    column = POSITIONS.index(shape.position)
    return (column + 0.5) / len(POSITIONS) + shape.dx, 0.5 + shape.dy


def _polygon(cx: float, cy: float, radii: list[float], angle: float) -> list[tuple[float, float]]:
    """Vertices evenly spaced in angle, starting straight up, rotated by ``angle`` degrees."""
    points = []
    for i, radius in enumerate(radii):
        theta = math.radians(angle) + 2 * math.pi * i / len(radii) - math.pi / 2
        points.append((cx + radius * math.cos(theta), cy + radius * math.sin(theta)))
    return points


def _draw_shape(draw: ImageDraw.ImageDraw, shape: Shape, side: int) -> None:
    cx, cy = (v * side for v in shape_centre(shape))
    r = RADIUS[shape.size] * side
    fill = COLOURS[shape.colour]
    if shape.kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape.kind == "square":
        # A square of the same area as the circle would be 1.77 r^2; half-side 0.89 r.
        draw.polygon(_polygon(cx, cy, [r * 1.26] * 4, shape.angle + 45.0), fill=fill)
    elif shape.kind == "triangle":
        draw.polygon(_polygon(cx, cy, [r * 1.25] * 3, shape.angle), fill=fill)
    elif shape.kind == "star":
        radii = [r * 1.25 if i % 2 == 0 else r * 1.25 * STAR_INNER for i in range(10)]
        draw.polygon(_polygon(cx, cy, radii, shape.angle), fill=fill)
    else:  # Shape validates kinds, so this is a programming error.
        raise ValueError(f"Cannot draw shape kind {shape.kind!r}")


def render_scene(scene: Scene, size: int = DEFAULT_SIZE, supersample: int = 4) -> Image.Image:
    """The scene as an RGB image of ``size`` x ``size`` pixels."""
    if size < 8:
        raise ValueError(f"Image size must be at least 8 pixels, got {size}")
    if supersample < 1:
        raise ValueError(f"supersample must be at least 1, got {supersample}")
    side = size * supersample
    canvas = Image.new("RGB", (side, side), tuple(scene.background))
    draw = ImageDraw.Draw(canvas)
    for shape in scene.shapes:
        _draw_shape(draw, shape, side)
    if supersample == 1:
        return canvas
    return canvas.resize((size, size), Image.Resampling.BOX)
