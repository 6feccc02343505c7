"""Measure the explanations: how often a map's peak falls on the shape it should, and how long a
map takes on a CLIP ViT-B/32-sized model.

Localisation runs the bundled models on held-out bundled-world scenes (two or three shapes, drawn
from a seed pretraining never used). Every trial has one *target* shape; a trial hits when the
map's peak (:attr:`~mmdemo.explain.result.Explanation.peak`) lies inside the target's box (its
centre plus or minus the renderer's outer radius). The random baseline is the hit rate of a map
that peaks on a shape drawn at random from the scene (about 1/2.5 here). Tasks:

- ``label``: the text "the red circle" for one shape (zero-shot labels);
- ``phrase``: "a large red circle on the left" for one shape (a retrieval query's words);
- ``image-query``: the scene as a retrieval hit for a query image holding only that shape
  (in another row, so only what the shape looks like matches);
- ``caption-colour`` / ``caption-kind``: the colour word and the kind word of each shape's phrase
  in the scene's caption (teacher-forced);
- ``vqa``: the answer to "what colour is the shape on the left?".

``python -m mmdemo explain --benchmark`` prints both tables (a few minutes on two CPU cores).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mmdemo.explain.result import Explanation

HELD_OUT_SEED = 12345  # pretraining draws its scenes from seed 0


@dataclass(frozen=True)
class Localisation:
    """Hit rate of one method on one task, beside the random-shape baseline."""

    task: str
    method: str
    hits: int
    trials: int
    baseline: float

    @property
    def hit_rate(self) -> float:
        return self.hits / max(1, self.trials)


def shape_box(shape, side: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in pixels of ``shape`` drawn on a ``side`` x ``side`` canvas:
    its centre plus or minus the largest vertex radius the renderer uses (1.26 r, the square's)."""
    from mmdemo.world.render import shape_centre, shape_radius

    cx, cy = shape_centre(shape)
    half = 1.26 * shape_radius(shape)
    return ((cx - half) * side, (cy - half) * side, (cx + half) * side, (cy + half) * side)


def peak_inside(explanation: Explanation, shape) -> bool:
    left, top, right, bottom = shape_box(shape, explanation.relevance.shape[1])
    x, y = explanation.peak
    return left <= x <= right and top <= y <= bottom


def held_out_scenes(count: int, seed: int = HELD_OUT_SEED, need_left: bool = False) -> Iterator:
    """``count`` scenes of two or three shapes from ``seed`` (with a shape on the left if asked)."""
    from mmdemo.world.scenes import sample_scene

    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        scene = sample_scene(rng, count=int(rng.integers(2, 4)))
        if need_left and scene.at("left") is None:
            continue
        made += 1
        yield scene


def _targets(task: str, scenes: int, seed: int) -> list[tuple[object, int, str]]:
    """(scene, target index, word or text) per trial of ``task``."""
    from mmdemo.world.text import PLACE

    rng = np.random.default_rng([seed, 1])
    trials = []
    for scene in held_out_scenes(scenes, seed, need_left=task == "vqa"):
        if task in ("caption-colour", "caption-kind"):
            for index, shape in enumerate(scene.shapes):
                trials.append((scene, index, ""))
            continue
        index = 0 if task == "vqa" else int(rng.integers(scene.count))
        shape = scene.shapes[index]
        text = {
            "label": f"the {shape.colour} {shape.kind}",
            "phrase": f"a {shape.size} {shape.colour} {shape.kind} {PLACE[shape.position]}",
            "image-query": "",
            "vqa": "what colour is the shape on the left?",
        }[task]
        trials.append((scene, index, text))
    return trials


def _query_image(scene, index: int, rng: np.random.Generator):
    """A picture of the target shape alone, moved to another row."""
    from mmdemo.world.render import render_scene
    from mmdemo.world.scenes import ROWS, Scene

    shape = scene.shapes[index]
    rows = [(r - (ROWS - 1) / 2) / ROWS for r in range(ROWS)]
    others = [dy for dy in rows if abs(dy - shape.dy) > 0.1]
    moved = replace(shape, dy=float(others[int(rng.integers(len(others)))]))
    return render_scene(Scene(shapes=(moved,), background=scene.background))


TASKS = ("label", "phrase", "image-query", "caption-colour", "caption-kind", "vqa")


def localisation(
    task: str, method: str | None = None, scenes: int = 40, seed: int = HELD_OUT_SEED, model: str | None = None
) -> Localisation:
    """The hit rate of ``method`` (None: the default) on ``task`` over ``scenes`` held-out scenes,
    with the bundled models unless ``model`` is given."""
    from mmdemo import explain
    from mmdemo.errors import ConfigError
    from mmdemo.world.render import render_scene
    from mmdemo.world.scenes import COLOUR_NAMES, KINDS
    from mmdemo.world.text import describe

    if task not in TASKS:
        raise ConfigError(f"Unknown localisation task {task!r}; valid tasks: {list(TASKS)}")
    rng = np.random.default_rng([seed, 2])
    hits = chance = 0
    trials = _targets(task, scenes, seed)
    caption_maps: dict[int, object] = {}
    for scene, index, text in trials:
        image = render_scene(scene)
        target = scene.shapes[index]
        if task in ("label", "phrase"):
            explanation = explain.explain_text(image, text, model=model, method=method)
        elif task == "image-query":
            query = _query_image(scene, index, rng)
            explanation = explain.explain_image_match(image, query, model=model, method=method)
        elif task == "vqa":
            explanation = explain.explain_answer(image, text, model=model, method=method)
        else:  # each shape's phrase has one colour word and one kind word, left to right
            if id(scene) not in caption_maps:
                caption_maps[id(scene)] = explain.explain_caption(image, describe(scene), model=model, method=method)
            result = caption_maps[id(scene)]
            vocabulary = COLOUR_NAMES if task == "caption-colour" else KINDS
            explanation = [w for w, token in zip(result.words, result.tokens) if token in vocabulary][index]
        hits += peak_inside(explanation, target)
        chance += int(rng.integers(scene.count)) == index
    return Localisation(task, explanation.method, hits, len(trials), chance / max(1, len(trials)))


def localisation_table(scenes: int = 40, seed: int = HELD_OUT_SEED) -> list[Localisation]:
    """Every task with every method that applies to it (bundled models)."""
    from mmdemo.explain import BLIP_METHODS, TOWER_METHODS

    rows = []
    for task in TASKS:
        methods = BLIP_METHODS if task.startswith(("caption", "vqa")) else TOWER_METHODS
        rows += [localisation(task, method, scenes, seed) for method in methods]
    return rows


@dataclass(frozen=True)
class MapTiming:
    method: str
    seconds: float  # median of ``repeats`` maps, after one warm-up
    repeats: int
    model: str


def time_clip_maps(models_dir: Path | None = None, repeats: int = 5) -> list[MapTiming]:
    """Seconds per map (text target) on one 224 x 224 image for a CLIP ViT-B/32-sized model.

    The model is CLIP ViT-B/32's default config with seeded random weights, built once by the
    benchmark's builder into ``models_dir`` (default: the benchmark's own folder).
    """
    from PIL import Image

    from mmdemo import explain
    from mmdemo.bench.config import default_models_dir
    from mmdemo.bench.models import _build_once
    from mmdemo.registry import ModelSpec, register_model

    folder = _build_once("clip", Path(models_dir or default_models_dir()) / "base" / "clip", "base")
    spec = ModelSpec(name="explain-bench-clip-vit-b32", backend="clip", checkpoint=str(folder), dtype="float32")
    register_model(spec, replace_existing=True)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8))
    timings = []
    for method in explain.TOWER_METHODS:
        explain.explain_text(image, "a photo", model=spec.name, method=method)  # warm-up (and the load)
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            explain.explain_text(image, "a photo", model=spec.name, method=method)
            seconds.append(time.perf_counter() - start)
        timings.append(MapTiming(method, float(np.median(seconds)), repeats, "CLIP ViT-B/32 (random weights)"))
    return timings


def markdown(rows: list[Localisation]) -> str:
    lines = ["| task | method | hit rate | random shape |", "|---|---|---|---|"]
    lines += [f"| {r.task} | {r.method} | {r.hit_rate:.2f} ({r.hits}/{r.trials}) | {r.baseline:.2f} |" for r in rows]
    return "\n".join(lines)


