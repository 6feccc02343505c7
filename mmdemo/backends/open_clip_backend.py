"""CLIP through open_clip (architecture + pretrained tag, ``hf-hub:`` id, or a local folder): the
``open_clip`` backend.

A local folder holds ``open_clip_config.json`` (``{"model_cfg": …, "preprocess_cfg": …}``) and
``open_clip_model.safetensors``: the layout ``open_clip.push_to_hf_hub`` writes, loaded through
open_clip's ``local-dir:`` schema. Keeps the backend contract of :mod:`mmdemo.backends`; open_clip
is imported where it is used (it is slow to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mmdemo.backends.base import (
    TEXT_FLOAT32,
    LoadedModel,
    hub_file_cached,
    hub_reachable,
    text_autocast,
    unavailable_message,
)
from mmdemo.errors import ModelUnavailableError
from mmdemo.registry import ModelSpec
from mmdemo.runtimes import OPENVINO, RUNTIME_SPEEDUPS

if TYPE_CHECKING:
    from PIL import Image

GENERATIVE = False

ACTIVATION = "softmax"
"""Zero-shot probabilities: a softmax over the labels."""

DEFAULT_TEMPLATE = "a photo of a {}."

SPEEDUPS = {
    **TEXT_FLOAT32,
    **RUNTIME_SPEEDUPS,
}
RUNTIMES = (OPENVINO,)
"""The runtimes its towers can run through (:mod:`mmdemo.runtimes`)."""


def speedups_for(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """On CPU: ``text-float32``. Its attention reads ``out_proj.weight`` directly: nothing to pack."""
    return ("text-float32",) if device.type == "cpu" else ()


def _model_name(spec: ModelSpec) -> str:
    if spec.is_local:
        folder = spec.local_folder
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                unavailable_message(spec, "the folder has no open_clip_config.json")
            )
        return f"local-dir:{folder}"
    return spec.checkpoint


def _hub_files(spec: ModelSpec) -> tuple[str, list[str]] | None:
    """(hub repo, candidate weight files) for a pretrained tag or hf-hub id; None if unknown."""
    if spec.checkpoint.startswith("hf-hub:"):
        return spec.checkpoint.removeprefix("hf-hub:"), ["open_clip_config.json"]
    import open_clip

    cfg = open_clip.get_pretrained_cfg(spec.checkpoint, spec.pretrained or "")
    repo = (cfg or {}).get("hf_hub", "").rstrip("/")
    if not repo:
        return None
    return repo, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]


def open_clip_cached(spec: ModelSpec) -> bool:
    """True when the weights are in the huggingface_hub cache."""
    files = _hub_files(spec)
    if files is None:
        return False
    repo, names = files
    return any(hub_file_cached(repo, name) for name in names)


def available_offline(spec: ModelSpec) -> bool:
    """The local folder exists, or the weights of the tag / ``hf-hub:`` id are in the hub cache."""
    if spec.is_local:
        return spec.local_folder.is_dir()
    return open_clip_cached(spec)


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec``; ``text-float32`` keeps the torch text tower out of autocast (:func:`text_autocast`);
    ``openvino`` runs both towers through OpenVINO (:func:`mmdemo.backends.runtime.attach_runtime`)."""
    import open_clip

    from mmdemo.backends.runtime import attach_runtime
    from mmdemo.runtimes.towers import OpenClipImageTower, OpenClipTextTower

    name = _model_name(spec)
    if not spec.is_local and not open_clip_cached(spec) and not hub_reachable():
        raise ModelUnavailableError(
            unavailable_message(spec, "it is not cached and the hub cannot be reached")
        )
    pretrained = None if spec.is_local or name.startswith("hf-hub:") else spec.pretrained
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, RuntimeError) as err:
        raise ModelUnavailableError(unavailable_message(spec, str(err))) from err
    model.eval().to(device)
    applied = tuple(name for name in speedups if name == "text-float32")
    loaded = LoadedModel(spec, model, preprocess, tokenizer, device, dtype, extras={"speedups": applied})
    attach_runtime(loaded, speedups, {"image": lambda: OpenClipImageTower(model), "text": lambda: OpenClipTextTower(model)})
    return loaded


def encode_images(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    from mmdemo.backends.runtime import run_tower

    pixels = torch.stack([loaded.processor(image) for image in images]).to(loaded.device)
    features = run_tower(loaded, "image", pixels)
    if features is not None:
        return features
    with torch.inference_mode(), loaded.autocast():
        return loaded.model.encode_image(pixels).float()


def encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    from mmdemo.backends.runtime import run_tower

    tokens = loaded.tokenizer(texts).to(loaded.device)  # truncates to the context length
    features = run_tower(loaded, "text", tokens)
    if features is not None:
        return features
    with torch.inference_mode(), text_autocast(loaded):
        return loaded.model.encode_text(tokens).float()


def logit_scale(loaded: LoadedModel) -> float:
    return float(loaded.model.logit_scale.detach().exp().clamp(max=100.0))
