"""Pictures of explanations: overlays side by side, each with a label under it."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from mmdemo.explain.result import Explanation

LABEL_HEIGHT = 16


def overlay_grid(
    explanations: Sequence[Explanation],
    labels: Sequence[str] | None = None,
    *,
    columns: int = 6,
    tile: int = 160,
    opacity: float = 0.5,
    colormap: str = "jet",
    original: Image.Image | None = None,
) -> Image.Image:
    """A grid of overlays ``tile`` pixels wide (labels under each; ``original`` first, if given)."""
    pictures = [original] if original is not None else []
    names = ["image"] if original is not None else []
    pictures += [e.overlay(opacity=opacity, colormap=colormap) for e in explanations]
    names += list(labels) if labels is not None else [e.target for e in explanations]
    columns = max(1, min(columns, len(pictures)))
    rows = (len(pictures) + columns - 1) // columns
    first = pictures[0]
    height = max(1, round(tile * first.height / first.width))
    sheet = Image.new("RGB", (columns * tile, rows * (height + LABEL_HEIGHT)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for index, (picture, name) in enumerate(zip(pictures, names)):
        x, y = (index % columns) * tile, (index // columns) * (height + LABEL_HEIGHT)
        sheet.paste(picture.convert("RGB").resize((tile, height), Image.Resampling.BILINEAR), (x, y))
        draw.text((x + 3, y + height + 2), name[: tile // 6], fill=(0, 0, 0))
    return sheet
