"""CLIP through transformers (``CLIPModel`` + ``CLIPProcessor``): the ``clip`` backend.

Keeps the backend contract of :mod:`mmdemo.backends`; transformers is imported in :func:`load`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mmdemo.backends.base import (
    TEXT_FLOAT32,
    LoadedModel,
    checkpoint_available_offline,
    from_pretrained,
    load_checked,
    text_autocast,
)
from mmdemo.backends.bfloat16_vision import vision_in_bfloat16
from mmdemo.backends.class_token_tower import class_token_features
from mmdemo.backends.packed_linear import PackedBFloat16Linear, packing_available
from mmdemo.registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

GENERATIVE = False

ARCHITECTURES = {"clip": ("CLIPModel",)}
"""Backend -> the config ``architectures`` it runs (a checkpoint naming others is refused)."""
MODEL_TYPES = ("clip",)

ACTIVATION = "softmax"
"""How zero-shot scores become probabilities: a softmax over the labels (CLIP's contrastive loss)."""

DEFAULT_TEMPLATE = "a photo of a {}."

SPEEDUPS = {
    **TEXT_FLOAT32,
    "image-packed-bfloat16": "CLIP's image tower runs in bfloat16 (float32 in and out), its Linear weights "
    "pre-packed for oneDNN and quick-GELU fused into the first MLP product (no re-casting or re-packing "
    "of weights at every call, no autocast); its last layer computes only the class token the embedding reads",
}

available_offline = checkpoint_available_offline


def speedups_for(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """On CPU: ``text-float32`` (the image tower keeps bfloat16 autocast, the text tower does not)
    and ``image-packed-bfloat16``."""
    return ("text-float32", "image-packed-bfloat16") if device.type == "cpu" else ()


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec`` with the speed-ups it was given that apply here.

    ``text-float32`` keeps the text tower out of autocast (:func:`text_autocast`);
    ``image-packed-bfloat16`` runs the image tower in bfloat16 with float32 in and out, its Linear
    layers pre-packed and quick-GELU fused into the first MLP product
    (:mod:`.bfloat16_vision`, :mod:`.packed_linear`), and its last layer computes the class token
    only (:mod:`.class_token_tower`); the image side then needs no autocast.
    """
    from transformers import AutoProcessor, CLIPModel

    model = load_checked(spec, CLIPModel, ARCHITECTURES[spec.backend], MODEL_TYPES, dtype=torch.float32)
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model.eval().to(device)
    applied = tuple(name for name in speedups if name == "text-float32")
    if "image-packed-bfloat16" in speedups and device.type == "cpu" and packing_available():
        vision_in_bfloat16(model, fuse_activations=True)
        model.visual_projection = PackedBFloat16Linear(model.visual_projection)
        applied += ("image-packed-bfloat16",)
    return LoadedModel(spec, model, processor, processor.tokenizer, device, dtype, extras={"speedups": applied})


def _features(output: torch.Tensor | object) -> torch.Tensor:
    # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the projection.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def encode_images(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    """Unnormalised image features [N, D]."""
    pixels = loaded.processor(images=images, return_tensors="pt")["pixel_values"].to(loaded.device)
    if "image-packed-bfloat16" in loaded.speedups:
        with torch.inference_mode():
            return class_token_features(loaded.model, pixels).float()
    with torch.inference_mode(), loaded.autocast():
        return _features(loaded.model.get_image_features(pixel_values=pixels)).float()


def text_max_length(loaded: LoadedModel) -> int:
    limit = loaded.model.config.text_config.max_position_embeddings
    return min(limit, getattr(loaded.tokenizer, "model_max_length", limit) or limit)


def encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    """Unnormalised text features [N, D]; texts longer than the context are truncated."""
    tokens = loaded.tokenizer(
        texts, padding=True, truncation=True, max_length=text_max_length(loaded), return_tensors="pt"
    ).to(loaded.device)
    with torch.inference_mode(), text_autocast(loaded):
        output = loaded.model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        )
        return _features(output).float()


def logit_scale(loaded: LoadedModel) -> float:
    return float(loaded.model.logit_scale.detach().exp().clamp(max=100.0))
