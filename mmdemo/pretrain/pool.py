"""A training pool: scenes precomputed once in memory and shared by every pretraining stage.

The pool holds *pairs*: a sample of the split and a near miss of it (:func:`vary_scene`: one
attribute of one shape changed). Contrastive batches take whole pairs, so every batch is half hard
negatives. Images are kept as uint8 (``[N, 3, H, W]``, 12 KB each at 64x64) and converted per
batch with exactly the arithmetic of the saved image processors (rescale by 1/255, normalise by
the CLIP mean and std; no resize, the pool is rendered at the processors' size). Captions exist at
every :data:`~mmdemo.world.text.DETAILS` level with integer description ids, so a batch can tell
which texts are true of which images. Sounds are synthesised on demand (:meth:`TrainingPool.sounds`).

After the split's samples, a pool may hold *varied* pairs (:func:`build_pool`'s ``varied``): scenes
in a free layout (:func:`~mmdemo.world.scenes.sample_free_scene`: any place in the column, any size
within its band, any rotation, any light tint) drawn in a random :class:`~mmdemo.world.render.RenderStyle`
(canvas size and aspect, outlines, hard edges, blur, noise, JPEG, colour ranges) and resized to
the model input as the processors resize any picture (:func:`~mmdemo.world.render.to_model_input`).
``TrainingPool.varied_from`` is the index of the first one; the audio stage uses the plain ones.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mmdemo.pretrain.configs import IMAGE_MEAN, IMAGE_STD
from mmdemo.world.dataset import SPLITS, WorldConfig, description_split, generate
from mmdemo.world.render import render_scene, sample_style, to_model_input
from mmdemo.world.scenes import Scene, sample_free_scene, vary_scene
from mmdemo.world.sound import synthesize
from mmdemo.world.text import DETAILS, describe, description_key

logger = logging.getLogger(__name__)

_MEAN = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [B, 3, H, W] -> normalised float32 pixel values, as the processors compute them."""
    return (images.float() / 255.0 - _MEAN) / _STD  # [B, 3, H, W]


def image_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL RGB image -> uint8 tensor [3, H, W]."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)  # [H, W, 3] -> [3, H, W]


@dataclass
class TrainingPool:
    """Precomputed scenes of one split, in pairs (item ``2k + 1`` is a near miss of item ``2k``).

    Attributes:
        scenes: the scenes.
        images: uint8 images [N, 3, H, W].
        captions: ``captions[level][i]``: caption of scene i at ``DETAILS[level]``.
        description_ids: int64 [N, len(DETAILS)]; equal ids at a level mean equal captions there.
        config: the world's settings (seed, sizes).
        split: the split the pool was drawn from.
        varied_from: index of the first varied (free-layout, styled) item; ``len(pool)`` when none.
    """

    scenes: list[Scene]
    images: torch.Tensor
    captions: list[list[str]]
    description_ids: torch.Tensor
    config: WorldConfig
    split: str
    varied_from: int | None = None

    def __post_init__(self) -> None:
        if self.varied_from is None:
            self.varied_from = len(self.scenes)

    def __len__(self) -> int:
        return len(self.scenes)

    def pair_batch(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """Indices of ``batch_size // 2`` random whole pairs (each sample next to its near miss)."""
        pairs = rng.choice(len(self) // 2, size=min(batch_size // 2, len(self) // 2), replace=False)
        return np.stack([2 * pairs, 2 * pairs + 1], axis=1).reshape(-1)  # [P, 2] -> [2P]

    def sounds(self, indices) -> list[np.ndarray]:
        """The scenes' own sounds (float32 clips), each from its own random stream."""
        split_id = SPLITS.index(self.split)
        return [
            synthesize(
                self.scenes[int(i)],
                np.random.default_rng([self.config.seed, split_id, int(i), 7]),
                self.config.sample_rate,
                self.config.audio_seconds,
            )
            for i in indices
        ]


def _near_miss(scene: Scene, split: str, rng: np.random.Generator) -> Scene:
    while True:
        other = vary_scene(scene, rng)
        if description_split(other) in (None, split):
            return other


def _varied_pairs(n: int, config: WorldConfig, split: str) -> tuple[list[Scene], list[Image.Image]]:
    """``n // 2`` free-layout scenes and a near miss of each, each drawn in its own random style."""
    scenes: list[Scene] = []
    images: list[Image.Image] = []
    for k in range(n // 2):
        rng = np.random.default_rng([config.seed, SPLITS.index(split), k, 11])
        while True:
            scene = sample_free_scene(rng)
            if description_split(scene) in (None, split):
                break
        for item in (scene, _near_miss(scene, split, rng)):
            scenes.append(item)
            images.append(to_model_input(render_scene(item, style=sample_style(rng)), config.image_size))
    return scenes, images


def build_pool(n: int, config: WorldConfig = WorldConfig(), split: str = "train", varied: int = 0) -> TrainingPool:
    """``n // 2`` samples of ``split`` and a near miss of each (rounded down to whole pairs), rendered;
    then ``varied // 2`` varied pairs (free layouts in random styles)."""
    start = time.perf_counter()
    split_id = SPLITS.index(split) if split in SPLITS else None
    base = generate(split, n // 2, config)
    scenes: list[Scene] = []
    for sample in base:
        rng = np.random.default_rng([config.seed, split_id, sample.index, 5])
        scenes += [sample.scene, _near_miss(sample.scene, split, rng)]
    pictures = [render_scene(s, config.image_size) for s in scenes]
    varied_from = len(scenes)
    if varied > 0:
        more_scenes, more_pictures = _varied_pairs(varied, config, split)
        scenes += more_scenes
        pictures += more_pictures
    images = torch.stack([image_tensor(p) for p in pictures]) if scenes else torch.empty(0, 3, config.image_size, config.image_size, dtype=torch.uint8)
    captions = [[describe(s, detail) for s in scenes] for detail in DETAILS]
    ids = torch.zeros(len(scenes), len(DETAILS), dtype=torch.long)
    for level, detail in enumerate(DETAILS):
        table: dict[tuple, int] = {}
        for i, scene in enumerate(scenes):
            ids[i, level] = table.setdefault(description_key(scene, detail), len(table))
    logger.info("built a pool of %d %s scenes (%d varied) in %.1f s", len(scenes), split, len(scenes) - varied_from, time.perf_counter() - start)
    return TrainingPool(scenes, images, captions, ids, config, split, varied_from)
