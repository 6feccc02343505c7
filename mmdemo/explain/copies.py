"""The models explanations run on: a float32, eager-attention copy of each checkpoint.

The app's cached models (:func:`mmdemo.loading.get_model`) may run fast paths that hide attention
maps or change weights in place (sdpa attention, bfloat16 packed layers, int8 decoders) or run the towers
through a runtime without gradients (OpenVINO, :mod:`mmdemo.runtimes`). Explaining
needs the attention probabilities and their gradients, so each checkpoint is loaded a second time
through its own backend with no speed-ups, in float32, with eager attention, and kept (once per
process, per device). The shared cached model is never touched. :data:`PATH` says so in every
:class:`~mmdemo.explain.result.Explanation`.
"""

from __future__ import annotations

import logging
import threading

import torch

from mmdemo.loading import LoadedModel, resolve_device
from mmdemo.registry import ModelSpec, resolve_spec

logger = logging.getLogger(__name__)

PATH = "float32 eager-attention copy of {checkpoint} on {device} (no speed-ups)"

_COPIES: dict[tuple[str, str, str], LoadedModel] = {}
_GUARD = threading.Lock()


def eager_copy(model: str | ModelSpec | None, role: str, device: str | None = None) -> LoadedModel:
    """The explanation copy of ``model`` (a ``role`` model; None: the role's default)."""
    spec = resolve_spec(model, role)
    torch_device = resolve_device(device)
    key = (spec.name, spec.checkpoint, str(torch_device))
    with _GUARD:
        cached = _COPIES.get(key)
        if cached is not None:
            return cached
        from mmdemo.backends import load_backend  # heavy imports, only when explaining

        logger.info("Loading a float32 eager copy of %s for explanations", spec.name)
        loaded = load_backend(spec, torch_device, torch.float32, ())
        if spec.backend == "clip":  # transformers CLIP picks sdpa by default; its maps need eager
            loaded.model.set_attn_implementation("eager")
        _COPIES[key] = loaded
        return loaded


def path_of(loaded: LoadedModel) -> str:
    return PATH.format(checkpoint=loaded.spec.checkpoint, device=loaded.device.type)


def forget_copies() -> None:
    """Drop every explanation copy (tests; freeing memory)."""
    with _GUARD:
        _COPIES.clear()
