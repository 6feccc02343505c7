"""A training pool: world samples precomputed once in memory and shared by every pretraining stage.

Images are kept as uint8 (``[N, 3, H, W]``, 12 KB each at 64x64) and converted per batch with
exactly the arithmetic of the saved image processors (rescale by 1/255, normalise by the CLIP
mean and std; no resize because the pool is rendered at the processors' size). Captions exist at
every :data:`~mmdemo.world.text.DETAILS` level with integer description ids, so a contrastive batch
can tell which texts are true of which images. Sounds are synthesised on demand (:meth:`sounds`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from mmdemo.world.dataset import WorldConfig, WorldSample, generate
from mmdemo.world.models import IMAGE_MEAN, IMAGE_STD
from mmdemo.world.text import DETAILS, describe, description_key

logger = logging.getLogger(__name__)

_MEAN = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [B, 3, H, W] -> normalised float32 pixel values, as the processors compute them."""
    return (images.float() / 255.0 - _MEAN) / _STD  # [B, 3, H, W]


def image_tensor(image) -> torch.Tensor:
    """A PIL RGB image -> uint8 tensor [3, H, W]."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)  # [H, W, 3] -> [3, H, W]


@dataclass
class TrainingPool:
    """Precomputed samples of one split.

    Attributes:
        samples: the world samples, in index order.
        images: uint8 images [N, 3, H, W].
        captions: ``captions[level][i]``: caption of sample i at ``DETAILS[level]``.
        description_ids: int64 [N, len(DETAILS)]; equal ids at a level mean equal captions there.
    """

    samples: list[WorldSample]
    images: torch.Tensor
    captions: list[list[str]]
    description_ids: torch.Tensor

    def __len__(self) -> int:
        return len(self.samples)

    def sounds(self, indices: list[int] | np.ndarray) -> list[np.ndarray]:
        """The scenes' own sounds (float32 clips) for these sample indices."""
        return [self.samples[int(i)].scene_audio() for i in indices]


def build_pool(n: int, config: WorldConfig = WorldConfig(), split: str = "train") -> TrainingPool:
    """Generate ``n`` samples of ``split`` and render them."""
    start = time.perf_counter()
    samples = generate(split, n, config)
    images = torch.stack([image_tensor(sample.image()) for sample in samples]) if samples else torch.empty(0, 3, config.image_size, config.image_size, dtype=torch.uint8)
    captions = [[describe(s.scene, detail) for s in samples] for detail in DETAILS]
    ids = torch.zeros(n, len(DETAILS), dtype=torch.long)
    for level, detail in enumerate(DETAILS):
        table: dict[tuple, int] = {}
        for i, sample in enumerate(samples):
            ids[i, level] = table.setdefault(description_key(sample.scene, detail), len(table))
    logger.info("built a pool of %d %s samples in %.1f s", n, split, time.perf_counter() - start)
    return TrainingPool(samples=samples, images=images, captions=captions, description_ids=ids)
