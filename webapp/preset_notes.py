"""What the page says and offers per preset: what the models know, which controls apply, and the
examples (the bundled shapes world, real photos or both)."""

from __future__ import annotations

from mmdemo import presets, registry
from webapp.common import examples

SHAPES_WORLD_NOTE = (
    "The bundled models know only the bundled shapes world (coloured circles, squares, triangles, stars): "
    "try the examples below; a real photo gets an answer about shapes. Start with `--preset offline` or "
    "`--preset pretrained` for real photos."
)
LABEL_CAPTION_NOTE = "Label-based caption from ImageNet classes (EfficientNet-Lite0), not a caption model."
LABEL_QUESTION_HINT = "Ask 'what is this?' or 'is this a <thing>?'"
LABEL_ANSWER_NOTE = (
    "Answers are built from the recognised ImageNet classes (no BLIP): " + LABEL_QUESTION_HINT
    + "; other questions are answered with a notice."
)
LABEL_BACKENDS = frozenset({"conse-caption", "conse-vqa"})  # captions and answers built from classes
ZERO_SHOT_LABELS = {
    "bundled": "red square, yellow triangle, green circle",
    "real": "cat, dog, coffee cup, rocket, person, car, bird, flower",
}


def shapes_world_only() -> bool:
    """Whether the active preset's models know only the bundled shapes world."""
    return presets.active_preset() == "bundled"


def label_based(role: str) -> bool:
    """Whether ``role``'s default model builds its output from recognised classes (no BLIP)."""
    return registry.get_model_spec(registry.default_model(role)).backend in LABEL_BACKENDS


def example_images(world: list[str], photos: list[str]) -> list[str]:
    """The example files that exist, by preset: the shapes world for ``bundled``, real photos for
    ``offline``, both for the others (``world`` under ``examples/world``, ``photos`` under
    ``examples/photos``)."""
    world_paths = examples(*(f"world/{name}" for name in world))
    photo_paths = examples(*(f"photos/{name}" for name in photos))
    if shapes_world_only():
        return world_paths
    if presets.active_preset() == "offline":
        return photo_paths
    return photo_paths + world_paths


def zero_shot_labels() -> str:
    """The zero-shot tab's starting labels: shapes for the bundled preset, everyday things otherwise."""
    return ZERO_SHOT_LABELS["bundled" if shapes_world_only() else "real"]
