"""Deterministic benchmark inputs drawn from the bundled shapes world.

Pictures of coloured shapes (rendered larger than any model's input, so preprocessing resizes them
as it would a photo), short prompts (descriptions of one-shape scenes, e.g. "a small red circle on
the left.": 8-9 tokens, like a search query or a zero-shot prompt), questions about the pictures,
and 16 kHz clips of scene sounds. The same seed gives the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mmdemo.bench.config import LABEL_BANK
from mmdemo.world.render import render_scene
from mmdemo.world.scenes import COLOUR_NAMES, KINDS, Scene, sample_scene
from mmdemo.world.sound import SAMPLE_RATE, synthesize
from mmdemo.world.text import ask, describe

IMAGE_SIDE = 320  # pixels: above CLIP's 224 and below BLIP's 384, so both resize


@dataclass
class BenchInputs:
    """Everything one benchmark run feeds the models.

    Attributes:
        images: RGB pictures of scenes.
        prompts: short descriptions of one-shape scenes (text embedding).
        labels: zero-shot class names, ``"<colour> <shape>"``.
        label_bank: a large zero-shot label bank (:func:`label_bank`) for the top-1 agreement check.
        textures: photo-like pictures (:func:`textures`) for the embedding fidelity checks.
        questions: one question per image (VQA).
        clips: float32 mono audio at 16 kHz.
        sample_rate: the clips' rate.
    """

    images: list[Image.Image]
    prompts: list[str]
    labels: list[str]
    questions: list[str]
    clips: list[np.ndarray]
    sample_rate: int = SAMPLE_RATE
    label_bank: list[str] = field(default_factory=list)
    textures: list[Image.Image] = field(default_factory=list)


TEXTURE_STRENGTH = 0.1
"""How far :func:`textures` strays from mid-grey: at 0.1 seeded CLIP towers put them at a mean
pairwise cosine of ~0.95 (ViT-B/32 0.949, ViT-L/14 0.942), the spread the centred-cosine bars
were set on (issue 15: 0.94-0.97). At 1.0 they spread to ~0.76 and every path passes easily."""


def textures(n: int, seed: int = 0, side: int = IMAGE_SIDE, strength: float = TEXTURE_STRENGTH) -> list[Image.Image]:
    """``n`` photo-like pictures: a random colour near mid-grey with a smooth random texture of
    random contrast (8 x 8 noise upsampled bicubically), ``strength`` scaling both.

    A random-weight image tower maps the shapes-world pictures (white backgrounds, small shapes)
    to nearly one point (mean pairwise cosine ~0.998 for CLIP ViT-B/32), so centring leaves
    mostly rounding noise there (even plain bfloat16 autocast scores a centred cosine of ~0.990);
    these spread out to the chosen degree.
    """
    rng = np.random.default_rng(seed + 1)
    pictures = []
    for _ in range(n):
        base = 128 + strength * (rng.integers(0, 256, (1, 1, 3)) - 128) * np.ones((8, 8, 3))
        noise = rng.normal(0.0, strength * rng.uniform(10, 80), (8, 8, 3))
        small = np.clip(base + noise, 0, 255).astype(np.uint8)
        pictures.append(Image.fromarray(small).resize((side, side), Image.BICUBIC))
    return pictures


def label_bank(size: int) -> list[str]:
    """``size`` distinct labels: the world's ``"<colour> <shape>"`` names, then ImageNet-1k's
    class names (a zero-shot check over a few labels is passed by chance; over hundreds, a
    small error moves the top-1 of images whose best labels are close)."""
    from mmdemo.backends.imagenet_labels import class_names

    names = [f"{colour} {kind}" for colour in COLOUR_NAMES for kind in KINDS]
    names += [name for name in dict.fromkeys(class_names()) if name not in names]
    if not 1 <= size <= len(names):
        raise ValueError(f"label bank size must be 1..{len(names)}, got {size}")
    return names[:size]


def _scenes(rng: np.random.Generator, n: int, count: int | None = None) -> list[Scene]:
    return [sample_scene(rng, count) for _ in range(n)]


def make_inputs(
    *, images: int, prompts: int, clips: int, audio_seconds: float, seed: int = 0, labels: int = LABEL_BANK
) -> BenchInputs:
    """``images`` pictures with one question each, ``prompts`` prompts, ``clips`` audio clips and a
    bank of ``labels`` zero-shot labels."""
    rng = np.random.default_rng(seed)
    pictured = _scenes(rng, images)
    return BenchInputs(
        images=[render_scene(scene, size=IMAGE_SIDE) for scene in pictured],
        prompts=[describe(scene) for scene in _scenes(rng, prompts, count=1)],
        labels=[f"{colour} {kind}" for colour in COLOUR_NAMES for kind in KINDS],
        questions=[ask(scene, rng).question for scene in pictured],
        clips=[synthesize(scene, rng, seconds=audio_seconds) for scene in _scenes(rng, clips)],
        label_bank=label_bank(labels),
        textures=textures(images, seed),
    )
