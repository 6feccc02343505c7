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
from mmdemo.registry import ModelSpec
from mmdemo.runtimes import OPENVINO, RUNTIME_SPEEDUPS

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
    **RUNTIME_SPEEDUPS,
}
RUNTIMES = (OPENVINO,)
"""The runtimes its towers can run through (:mod:`mmdemo.runtimes`)."""

available_offline = checkpoint_available_offline


def speedups_for(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """On CPU: ``text-float32`` (the torch image tower keeps bfloat16 autocast, the text tower does
    not); the runtime is the policy's to give (:func:`mmdemo.loading.resolve_speedups`)."""
    return ("text-float32",) if device.type == "cpu" else ()


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec`` with the speed-ups it was given that apply here.

    ``text-float32`` keeps the torch text tower out of autocast (:func:`text_autocast`);
    ``openvino`` runs both towers through OpenVINO (:func:`mmdemo.backends.runtime.attach_runtime`),
    converted at their first encode; the torch model stays loaded (fallback, explanations).
    """
    from transformers import AutoProcessor, CLIPModel

    from mmdemo.backends.runtime import attach_runtime
    from mmdemo.runtimes.towers import ClipImageTower, ClipTextTower

    model = load_checked(spec, CLIPModel, ARCHITECTURES[spec.backend], MODEL_TYPES, dtype=torch.float32)
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model.eval().to(device)
    applied = tuple(name for name in speedups if name == "text-float32")
    loaded = LoadedModel(spec, model, processor, processor.tokenizer, device, dtype, extras={"speedups": applied})
    attach_runtime(loaded, speedups, {"image": lambda: ClipImageTower(model), "text": lambda: ClipTextTower(model)})
    return loaded


def _features(output: torch.Tensor | object) -> torch.Tensor:
    # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the projection.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def encode_images(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    """Unnormalised image features [N, D]."""
    from mmdemo.backends.runtime import run_tower

    pixels = loaded.processor(images=images, return_tensors="pt")["pixel_values"].to(loaded.device)
    features = run_tower(loaded, "image", pixels)
    if features is not None:
        return features
    with torch.inference_mode(), loaded.autocast():
        return _features(loaded.model.get_image_features(pixel_values=pixels)).float()


def text_max_length(loaded: LoadedModel) -> int:
    limit = loaded.model.config.text_config.max_position_embeddings
    return min(limit, getattr(loaded.tokenizer, "model_max_length", limit) or limit)


def encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    """Unnormalised text features [N, D]; texts longer than the context are truncated."""
    from mmdemo.backends.runtime import run_tower

    tokens = loaded.tokenizer(
        texts, padding=True, truncation=True, max_length=text_max_length(loaded), return_tensors="pt"
    ).to(loaded.device)
    features = run_tower(loaded, "text", tokens["input_ids"], tokens["attention_mask"])
    if features is not None:
        return features
    with torch.inference_mode(), text_autocast(loaded):
        output = loaded.model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        )
        return _features(output).float()


def logit_scale(loaded: LoadedModel) -> float:
    return float(loaded.model.logit_scale.detach().exp().clamp(max=100.0))
