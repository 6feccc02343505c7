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


def write_bundled_figures(folder, seed: int | None = None, tile: int = 144) -> list:
    """The README's figures: maps on one held-out bundled scene (bundled models), as small PNGs.

    ``zero-shot.png``: each shape's label with the default method, then attention rollout for the
    first; ``caption.png``: the colour and kind words of the caption; ``vqa.png``: the answers to
    "what colour is the shape ...?" for each column that holds a shape.
    """
    from pathlib import Path

    from mmdemo import explain
    from mmdemo.explain.benchmark import HELD_OUT_SEED, held_out_scenes
    from mmdemo.presets import use_preset
    from mmdemo.world.render import render_scene
    from mmdemo.world.scenes import COLOUR_NAMES, KINDS
    from mmdemo.world.text import PLACE, describe

    use_preset("bundled")
    scene = next(scene for scene in held_out_scenes(50, seed or HELD_OUT_SEED) if scene.count == 3)
    image = render_scene(scene)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = [f"the {shape.colour} {shape.kind}" for shape in scene.shapes]
    maps = [explain.explain_text(image, label) for label in labels]
    maps.append(explain.explain_text(image, labels[0], method="rollout"))
    names = [*labels, f"{labels[0]} (rollout)"]
    written = [folder / "zero-shot.png", folder / "caption.png", folder / "vqa.png"]
    overlay_grid(maps, names, tile=tile, original=image, columns=5).save(written[0])
    words = explain.explain_caption(image, describe(scene))
    chosen = [(w, t) for w, t in zip(words.words, words.tokens) if t in COLOUR_NAMES or t in KINDS]
    overlay_grid([w for w, _ in chosen], [f'"{t}"' for _, t in chosen], tile=tile, original=image, columns=7).save(written[1])
    questions = [f"what colour is the shape {PLACE[shape.position]}?" for shape in scene.shapes]
    answers = [explain.explain_answer(image, question) for question in questions]
    names = [f"{shape.position} -> {a.target.split(chr(34))[1]}" for shape, a in zip(scene.shapes, answers)]
    overlay_grid(answers, names, tile=tile, original=image, columns=4).save(written[2])
    return written
