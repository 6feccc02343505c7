"""Model backends: how each family is loaded and run.

Each backend module offers ``load(spec, device, dtype, speedups=()) -> LoadedModel`` and the
encode functions of its role; ``speedups`` names load-time speed-ups from
:data:`mmdemo.loading.SPEEDUPS` (a backend applies those it knows and records them in
``extras["speedups"]``). :func:`load_backend` dispatches on ``spec.backend``; nothing outside this package and
:mod:`mmdemo.loading` touches a model's internals.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from mmdemo.loading import LoadedModel
from mmdemo.registry import ModelSpec


def backend_module(backend: str):
    """The module that implements ``backend`` (imported lazily: they pull in heavy libraries)."""
    if backend == "clip":
        from mmdemo.backends import clip_backend as module
    elif backend == "open_clip":
        from mmdemo.backends import open_clip_backend as module
    elif backend in ("blip-caption", "blip-vqa"):
        from mmdemo.backends import blip_backend as module
    elif backend in ("wav2vec2", "wav2vec2-ctc"):
        from mmdemo.backends import wav2vec2_backend as module
    # -- offline preset --
    elif backend == "conse":
        from mmdemo.backends import conse_backend as module
    elif backend in ("conse-caption", "conse-vqa"):
        from mmdemo.backends import label_backend as module
    elif backend == "faster-whisper":
        from mmdemo.backends import whisper_backend as module
    # -- end offline preset --
    else:  # the registry validates backends, so this is a programming error
        raise ValueError(f"No backend module for {backend!r}")
    return module


def load_backend(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    return backend_module(spec.backend).load(spec, device, dtype, speedups)


def text_autocast(loaded: LoadedModel) -> AbstractContextManager:
    """The context for an image-text model's text tower: float32 when ``text-float32`` applies."""
    if "text-float32" in loaded.extras.get("speedups", ()):
        return nullcontext()
    return loaded.autocast()
