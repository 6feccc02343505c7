"""Model backends: a backend is one model family (CLIP, OpenCLIP, BLIP, wav2vec2), and its module
owns everything known about that family.

:data:`MODULES` maps each of the registry's backend names (:data:`mmdemo.registry.BACKENDS`) to
its module, imported on first use by :func:`backend_module`. A backend module is cheap to import
(torch and :mod:`mmdemo.backends.base` at module level; transformers / open_clip are imported
inside ``load`` and the functions that need them), so the policy in :mod:`mmdemo.loading` can read
its declarations before any model loads.

The contract every backend module keeps:

``SPEEDUPS: dict[str, str]``
    the load-time speed-ups it knows, name -> what it changes (each measured by
    ``python -m mmdemo bench``).
``speedups_for(spec, device) -> tuple[str, ...]``
    which of ``SPEEDUPS`` apply to ``spec`` on ``device``. The policy asks only where it allows
    load-time speed-ups at all (the ``auto`` dtype policy on a CPU with AMX/AVX-512-BF16).
``GENERATIVE: bool``
    the dtype preference: generative models (token-by-token decoding) keep float32 on CPU and
    take float16 on CUDA; embedding models take bfloat16 where it is fast.
``RUNTIMES: tuple[str, ...]`` (optional)
    the inference runtimes its towers can run through (:mod:`mmdemo.runtimes`; CLIP, OpenCLIP, wav2vec2, ConSE:
    ``("openvino",)``); the policy gives one as the speed-up of that name
    (:func:`mmdemo.loading.resolve_runtime`).
``available_offline(spec) -> bool``
    True when ``spec``'s weights load without the network.
``load(spec, device, dtype, speedups=()) -> LoadedModel``
    the model in eval mode on ``device``, with the speed-ups it was given that apply there
    (recorded in ``extras["speedups"]``).

and the entry points of its role, the only way the rest of mmdemo runs a model:

- ``image-text``: ``encode_images(loaded, images)``, ``encode_texts(loaded, texts)`` (unnormalised
  features [N, D]), ``logit_scale(loaded)``, ``ACTIVATION`` (``"softmax"`` over the labels, or
  ``"sigmoid"``: independent per label, then also ``logit_bias(loaded)``) and
  ``DEFAULT_TEMPLATE`` (its zero-shot prompt);
- ``audio``: ``encode_audio(loaded, clips)`` and, for CTC checkpoints, ``transcribe(loaded, clips)``;
- ``caption``: ``generate_captions(loaded, image, prefix, options, seed)``;
- ``vqa``: ``answer_question(loaded, image, question, max_new_tokens)``;
- ``image-text-match``: ``score_pairs(loaded, image, texts)`` (ITM match probability and ITC
  cosine per text).

A transformers backend also declares ``ARCHITECTURES`` (backend name -> the config ``architectures``
it runs) and ``MODEL_TYPES`` (the config ``model_type`` values it runs), and loads through
:func:`mmdemo.backends.base.load_checked`, which refuses any other checkpoint (and any whose
weights would be left at random) with :class:`~mmdemo.errors.IncompatibleCheckpointError`.

The API modules (:mod:`mmdemo.encoders`, :mod:`mmdemo.generate`, :mod:`mmdemo.classify`) run
models only through these and never touch a model's internals (``loaded.model``); the benchmark
(:mod:`mmdemo.bench`) also times the raw model, to compare it with what the API runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from mmdemo.backends.base import LoadedModel
    from mmdemo.registry import ModelSpec

MODULES: dict[str, str] = {
    "clip": "mmdemo.backends.clip_backend",
    "open_clip": "mmdemo.backends.open_clip_backend",
    "siglip": "mmdemo.backends.siglip_backend",
    "blip-caption": "mmdemo.backends.blip_backend",
    "blip-vqa": "mmdemo.backends.blip_backend",
    "blip-itm": "mmdemo.backends.blip_itm_backend",
    "wav2vec2": "mmdemo.backends.wav2vec2_backend",
    "wav2vec2-ctc": "mmdemo.backends.wav2vec2_backend",
    "conse": "mmdemo.backends.conse_backend",
    "conse-caption": "mmdemo.backends.label_backend",
    "conse-vqa": "mmdemo.backends.label_backend",
    "faster-whisper": "mmdemo.backends.whisper_backend",
}


def backend_module(backend: str) -> ModuleType:
    """The module that implements ``backend`` (a registry backend name), imported on first use."""
    if backend not in MODULES:  # the registry validates backends, so this is a programming error
        raise ValueError(f"No backend module for {backend!r}; known: {sorted(MODULES)}")
    return importlib.import_module(MODULES[backend])


def load_backend(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec`` through its backend's ``load``."""
    return backend_module(spec.backend).load(spec, device, dtype, speedups)


def is_available_offline(spec: ModelSpec) -> bool:
    """True when ``spec``'s weights can be loaded without the network (its backend decides)."""
    return backend_module(spec.backend).available_offline(spec)


def all_speedups() -> dict[str, str]:
    """Every backend's load-time speed-ups, name -> description."""
    table: dict[str, str] = {}
    for name in dict.fromkeys(MODULES.values()):
        table.update(importlib.import_module(name).SPEEDUPS)
    return table
