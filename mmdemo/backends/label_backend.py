"""The offline preset's label-based caption and VQA "models": no weights of their own.

``conse-caption`` and ``conse-vqa`` read the ImageNet classes of the ConSE model named by
``spec.text_model`` (loaded once, shared with the image-text role); :mod:`mmdemo.label_answers`
turns those classes into captions and answers.
"""

from __future__ import annotations

import torch

from mmdemo.loading import LoadedModel, get_model
from mmdemo.registry import OFFLINE_IMAGE_TEXT, ModelSpec


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    labels = get_model(spec.text_model or OFFLINE_IMAGE_TEXT, "image-text", device=device.type)
    return LoadedModel(
        spec, labels.model, labels.processor, labels.tokenizer, labels.device, labels.dtype,
        extras={"speedups": (), "image_text_model": labels.spec.name},
    )
