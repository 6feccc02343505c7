"""SigLIP and SigLIP 2 through transformers (``SiglipModel`` / ``Siglip2Model`` + their processor):
the ``siglip`` backend.

SigLIP is trained with a sigmoid loss: an image and a text score ``sigmoid(scale * cos + bias)``
each on its own, so zero-shot probabilities are independent per label (:data:`ACTIVATION`), not a
softmax over the labels. Texts are padded to the full context (``padding="max_length"``), as SigLIP
was trained and as its processor documents: its text tower pools the last position.

Keeps the backend contract of :mod:`mmdemo.backends`; transformers is imported in :func:`load`.
No load-time speed-ups (none measured yet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mmdemo.backends.base import (
    LoadedModel,
    check_architecture,
    checkpoint_available_offline,
    from_pretrained,
    load_checked,
    no_speedups,
)
from mmdemo.registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

GENERATIVE = False

SPEEDUPS: dict[str, str] = {}

ARCHITECTURES = {"siglip": ("SiglipModel", "Siglip2Model")}
"""Backend -> the config ``architectures`` this backend runs (SigLIP 2's fixed-resolution checkpoints, e.g.
``google/siglip2-base-patch16-224``, are ``SiglipModel``; its NaFlex ones ``Siglip2Model``)."""
MODEL_TYPES = ("siglip", "siglip2")

ACTIVATION = "sigmoid"
"""Zero-shot scores are independent sigmoid probabilities (SigLIP's loss), one per label."""

DEFAULT_TEMPLATE = "This is a photo of {}."
"""SigLIP's own zero-shot prompt (from its model card)."""

available_offline = checkpoint_available_offline
speedups_for = no_speedups


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec``: ``Siglip2Model`` for a ``siglip2`` config, ``SiglipModel`` otherwise."""
    from transformers import AutoProcessor, Siglip2Model, SiglipModel

    config = check_architecture(spec, ARCHITECTURES[spec.backend], MODEL_TYPES)
    cls = Siglip2Model if (config or {}).get("model_type") == "siglip2" else SiglipModel
    model = load_checked(spec, cls, ARCHITECTURES[spec.backend], MODEL_TYPES, dtype=torch.float32)
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model.eval().to(device)
    return LoadedModel(spec, model, processor, processor.tokenizer, device, dtype, extras={"speedups": ()})


def _features(output: torch.Tensor | object) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def encode_images(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    """Unnormalised image features [N, D] (SigLIP 2 NaFlex: with its patch mask and shapes)."""
    inputs = loaded.processor.image_processor(images=images, return_tensors="pt").to(loaded.device)
    with torch.inference_mode(), loaded.autocast():
        return _features(loaded.model.get_image_features(**inputs)).float()


def text_max_length(loaded: LoadedModel) -> int:
    return int(loaded.model.config.text_config.max_position_embeddings)


def encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    """Unnormalised text features [N, D], every text padded to the context (SigLIP pools the last
    position); longer texts are truncated."""
    tokens = loaded.tokenizer(
        texts, padding="max_length", truncation=True, max_length=text_max_length(loaded), return_tensors="pt"
    ).to(loaded.device)
    inputs = {name: tokens[name] for name in ("input_ids", "attention_mask") if name in tokens}
    with torch.inference_mode(), loaded.autocast():
        return _features(loaded.model.get_text_features(**inputs)).float()


def logit_scale(loaded: LoadedModel) -> float:
    return float(loaded.model.logit_scale.detach().exp())


def logit_bias(loaded: LoadedModel) -> float:
    """The bias of SigLIP's sigmoid: ``sigmoid(logit_scale * cos + logit_bias)``."""
    return float(loaded.model.logit_bias.detach().reshape(-1)[0])
