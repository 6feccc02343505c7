"""BLIP image-text matching through transformers (``BlipForImageTextRetrieval`` + ``BlipProcessor``):
the ``blip-itm`` backend, for re-ranking retrieval hits and captions (:mod:`mmdemo.matching`).

Two scores per (image, text) pair, both from the checkpoint's own heads:

- ``match``: the ITM head's probability that the text describes the image (softmax of its two
  logits; the text encoder reads the image through cross-attention);
- ``similarity``: the ITC cosine between the projected image and text class tokens.

Keeps the backend contract of :mod:`mmdemo.backends`; transformers is imported in :func:`load`.
No load-time speed-ups (none measured yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, from_pretrained, load_checked, no_speedups
from mmdemo.registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

GENERATIVE = False

SPEEDUPS: dict[str, str] = {}

ARCHITECTURES = {"blip-itm": ("BlipForImageTextRetrieval",)}
"""Backend -> the config ``architectures`` it runs."""
MODEL_TYPES = ("blip",)

available_offline = checkpoint_available_offline
speedups_for = no_speedups


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    from transformers import AutoProcessor, BlipForImageTextRetrieval

    model = load_checked(spec, BlipForImageTextRetrieval, ARCHITECTURES[spec.backend], MODEL_TYPES, dtype=torch.float32)
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model.eval().to(device)
    return LoadedModel(spec, model, processor, processor.tokenizer, device, dtype, extras={"speedups": ()})


@dataclass
class PairScore:
    """How well one text matches one image.

    Attributes:
        match: the ITM head's probability that the text describes the image, in [0, 1].
        similarity: the ITC cosine similarity of their projected embeddings, in [-1, 1].
    """

    match: float
    similarity: float


def score_pairs(loaded: LoadedModel, image: Image.Image, texts: list[str]) -> list[PairScore]:
    """The ITM probability and ITC cosine of ``image`` with each of ``texts``; a text's scores do
    not depend on the other texts (each is padded alone)."""
    pixels = loaded.processor(images=image, return_tensors="pt")["pixel_values"].to(loaded.device)
    scores = []
    with torch.inference_mode(), loaded.autocast():
        for text in texts:
            tokens = loaded.tokenizer([text], truncation=True, return_tensors="pt").to(loaded.device)
            inputs = dict(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"], pixel_values=pixels)
            itm = loaded.model(**inputs, use_itm_head=True).itm_score.float()  # [1, 2]
            itc = loaded.model(**inputs, use_itm_head=False).itm_score.float()  # [1, 1]
            scores.append(PairScore(float(torch.softmax(itm, dim=-1)[0, 1]), float(itc.reshape(-1)[0])))
    return scores
