"""What every backend shares: the :class:`LoadedModel` it returns and where its weights come from.

The ground floor of the model stack: it imports nothing of mmdemo but the registry and the errors,
so every backend module, :mod:`mmdemo.loading` and the callers of both can import it.

Where weights come from (:func:`from_pretrained`), in order:

1. a local folder (the spec's checkpoint is a path): loaded directly;
2. the huggingface_hub cache (``local_files_only=True``): no network at all;
3. the hub, only after a TCP probe of the endpoint answers within ``HUB_PROBE_TIMEOUT`` seconds, so
   a machine without network gets a clear :class:`ModelUnavailableError` in seconds, not a hang.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import torch

from mmdemo.errors import IncompatibleCheckpointError, MmdemoError, ModelUnavailableError
from mmdemo.registry import ModelSpec, reference_config

logger = logging.getLogger(__name__)

HUB_PROBE_TIMEOUT = float(os.environ.get("MMDEMO_HUB_PROBE_TIMEOUT", "3"))


# ------------------------------------------------------------------------------ loaded models


@dataclass
class LoadedModel:
    """A model ready to run, with everything needed to feed it.

    Attributes:
        spec: the registry spec it was loaded from.
        model: the ``nn.Module`` in eval mode on ``device`` (weights in float32, except where a
            load-time speed-up in ``extras["speedups"]`` changed them).
        processor: the preprocessing object: a transformers processor / feature extractor, or
            open_clip's image transform.
        tokenizer: the text tokenizer (transformers or open_clip), when the model takes text.
        device: where it runs.
        dtype: the compute dtype; anything but float32 runs under ``torch.autocast``.
        extras: backend-specific parts (the audio projection head, …) and ``"speedups"``: the
            load-time speed-ups applied (see :func:`mmdemo.loading.resolve_speedups`).
        load_seconds: how long loading took.
    """

    spec: ModelSpec
    model: torch.nn.Module
    processor: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    extras: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0
    run_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def speedups(self) -> tuple[str, ...]:
        """The load-time speed-ups applied to this model."""
        return tuple(self.extras.get("speedups", ()))

    def autocast(self) -> AbstractContextManager:
        """The context to run the model in: autocast for reduced precision, else nothing."""
        if self.dtype == torch.float32:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def describe(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        speedups = "".join(f" + {name}" for name in self.speedups)
        return f"{self.spec.name} ({self.spec.preset}) on {self.device.type}, {dtype}{speedups}"


TEXT_FLOAT32 = {
    "text-float32": "the text tower skips autocast and runs in float32 (bfloat16 changed zero-shot top-1 "
    "labels); batching and padding to the longest prompt give text embedding its speed",
}
"""The speed-up both image-text backends (CLIP, OpenCLIP) know, applied by :func:`text_autocast`."""


def text_autocast(loaded: LoadedModel) -> AbstractContextManager:
    """The context for an image-text model's text tower: float32 when ``text-float32`` applies."""
    if "text-float32" in loaded.speedups:
        return nullcontext()
    return loaded.autocast()


# --------------------------------------------------------------------------- where weights live


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """True when a TCP connection to the hub endpoint opens within ``timeout`` seconds."""
    if hub_offline():
        return False
    parsed = urlparse(hub_endpoint())
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_cache_dir() -> str:
    """The huggingface_hub cache folder (imported late: huggingface_hub is slow to import)."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def unavailable_message(spec: ModelSpec, reason: str) -> str:
    """The message for weights that cannot be had: the model, where it looked, how to fix it."""
    if spec.preset == "bundled":
        where = f"the local folder {spec.checkpoint}"
        fix = (
            "the bundled checkpoints are not in this checkout; create them with "
            "`python -m mmdemo pretrain`, or use the pretrained preset where the hub is reachable"
        )
    elif spec.is_local:
        where = f"the local folder {spec.checkpoint}"
        fix = "check the path, or point the role at another folder or hub id"
    else:
        where = f"the huggingface_hub cache ({hub_cache_dir()}) and {hub_endpoint()}"
        fix = (
            f"connect to the internet once so it downloads, or run "
            f"`hf download {spec.checkpoint}` on a machine with network and copy the cache, "
            "or pass a local folder, or use the bundled models (--preset bundled)"
        )
    return f"Model {spec.name!r} ({spec.checkpoint}) is not available: {reason}. Looked in {where}. Fix: {fix}."


def from_pretrained(spec: ModelSpec, loader: Callable[..., Any], **kwargs: Any) -> Any:
    """Call ``loader(checkpoint, **kwargs)`` (a ``from_pretrained``), local first, hub last."""
    if spec.is_local:
        folder = spec.local_folder
        if not folder.is_dir():
            raise ModelUnavailableError(unavailable_message(spec, "the folder does not exist"))
        try:
            return loader(str(folder), **kwargs)
        except OSError as err:
            raise ModelUnavailableError(unavailable_message(spec, f"the folder is incomplete ({err})")) from err
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(spec.checkpoint)
    except HFValidationError as err:
        raise ModelUnavailableError(
            unavailable_message(spec, f"{spec.checkpoint!r} is neither an existing folder nor a hub id ({err})")
        ) from err
    try:
        return loader(spec.checkpoint, local_files_only=True, **kwargs)
    except OSError:
        logger.info("%s is not in the local cache; trying the hub", spec.checkpoint)
    if not hub_reachable():
        raise ModelUnavailableError(
            unavailable_message(spec, f"it is not cached and {hub_endpoint()} cannot be reached")
        )
    try:
        return loader(spec.checkpoint, **kwargs)
    except OSError as err:
        raise ModelUnavailableError(unavailable_message(spec, f"download failed ({err})")) from err


def hub_file_cached(repo: str, filename: str) -> bool:
    """True when ``filename`` of the hub repo ``repo`` is in the huggingface_hub cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, filename), str)


def no_speedups(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """``speedups_for`` of a backend that has no load-time speed-ups (it runs as its library does)."""
    return ()


def checkpoint_available_offline(spec: ModelSpec) -> bool:
    """The generic offline check, for checkpoints that ``from_pretrained`` loads: the local folder
    exists, or the hub checkpoint's ``config.json`` is in the huggingface_hub cache."""
    if spec.is_local:
        return spec.local_folder.is_dir()
    return hub_file_cached(spec.checkpoint, "config.json")


# ---------------------------------------------------------------------- is it the right checkpoint


def checkpoint_config(spec: ModelSpec) -> dict[str, Any] | None:
    """The checkpoint's ``config.json`` as a dict, read without loading anything (from the local
    folder, or the huggingface_hub cache for a hub id); None when there is none to read."""
    return reference_config(spec.checkpoint)


def config_architectures(config: dict[str, Any] | None) -> tuple[str, ...]:
    """The ``architectures`` a config names (empty when it names none)."""
    found = (config or {}).get("architectures") or ()
    return tuple(str(name) for name in found) if isinstance(found, (list, tuple)) else ()


def _found(config: dict[str, Any] | None) -> str:
    if config is None:
        return "no config.json"
    architectures = config_architectures(config)
    model_type = config.get("model_type", "unknown")
    return f"architectures {list(architectures)} (model_type {model_type!r})" if architectures else f"model_type {model_type!r}"


def incompatible_message(spec: ModelSpec, config: dict[str, Any] | None, expected: Sequence[str], detail: str = "") -> str:
    """The message for a checkpoint the role cannot run: the model, the role, what was found, what fits."""
    tail = f" {detail}" if detail else ""
    return (
        f"Model {spec.name!r} ({spec.checkpoint}) cannot be used for the {spec.role!r} role: its config has "
        f"{_found(config)}; the {spec.role!r} role runs {', '.join(expected)}.{tail} "
        "See the README section 'Which checkpoints work'."
    )


def check_architecture(
    spec: ModelSpec, expected: Sequence[str], model_types: Sequence[str]
) -> dict[str, Any] | None:
    """Refuse, before loading, a checkpoint whose config names another architecture than
    ``expected`` or another ``model_type`` than ``model_types``; returns the config (None when the
    checkpoint has none to read yet: a hub id not cached, checked after loading instead)."""
    config = checkpoint_config(spec)
    if config is None:
        return None
    architectures = config_architectures(config)
    if architectures and not set(architectures) & set(expected):
        raise IncompatibleCheckpointError(incompatible_message(spec, config, expected))
    model_type = config.get("model_type")
    if model_type is not None and model_type not in model_types:
        raise IncompatibleCheckpointError(incompatible_message(spec, config, expected))
    return config


def load_checked(spec: ModelSpec, model_class: Any, expected: Sequence[str], model_types: Sequence[str], **kwargs: Any) -> Any:
    """``model_class.from_pretrained`` for ``spec`` (see :func:`from_pretrained`), refused with
    :class:`IncompatibleCheckpointError` when the checkpoint is another architecture (its config,
    read first) or when any of the model's weights is missing from it or has another shape: no part
    of a model mmdemo runs is ever left at random initialisation."""
    check_architecture(spec, expected, model_types)
    try:
        # ignore_mismatched_sizes: transformers reports weights of another shape instead of raising
        # its own error; they are refused below with the rest.
        model, info = from_pretrained(
            spec, model_class.from_pretrained, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs
        )
    except MmdemoError:
        raise
    except (RuntimeError, ValueError) as err:  # size mismatches, configs of another model type
        raise IncompatibleCheckpointError(
            incompatible_message(spec, checkpoint_config(spec), expected, f"Loading it failed: {str(err)[:300]}")
        ) from err
    missing = sorted(info.get("missing_keys") or ())
    mismatched = sorted(str(item[0] if isinstance(item, (list, tuple)) else item) for item in info.get("mismatched_keys") or ())
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} weights are missing (e.g. {', '.join(missing[:3])})")
        if mismatched:
            parts.append(f"{len(mismatched)} have another shape (e.g. {', '.join(mismatched[:3])})")
        raise IncompatibleCheckpointError(
            incompatible_message(
                spec, checkpoint_config(spec), expected,
                f"Loaded as {model_class.__name__}, {' and '.join(parts)}: they would run at random.",
            )
        )
    return model


CLOSED_VOCABULARY_MAX = 5000  # WordPiece vocabularies this small were built from one closed world (the bundled ones)


def unknown_labels(loaded: LoadedModel, labels: Sequence[str]) -> list[str]:
    """The labels the model cannot know: every token is the unknown token (word-level vocabularies)
    or, for a closed WordPiece vocabulary (at most :data:`CLOSED_VOCABULARY_MAX` tokens, like the
    one built from the shapes world for the varied bundled models), no word of the label is a whole token of it:
    such a word only splits into pieces the model never saw as a word. Large hub vocabularies
    (CLIP's BPE, BERT's WordPiece) almost never have any."""
    tokenizer = loaded.tokenizer
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not callable(tokenizer):
        return []
    closed = len(tokenizer) <= CLOSED_VOCABULARY_MAX and _is_wordpiece(tokenizer)
    unknown = []
    for label in labels:
        ids = tokenizer(label, add_special_tokens=False)["input_ids"]
        if ids and all(token == unk for token in ids):
            unknown.append(label)
        elif closed and not any(_whole_token(tokenizer, word, unk) for word in label.split()):
            unknown.append(label)
    return unknown


def _is_wordpiece(tokenizer) -> bool:
    """True for a WordPiece vocabulary (continuation pieces ``##...``), as the bundled world's;
    small SentencePiece or BPE vocabularies (test fixtures, other families) are not held to it."""
    return any(token.startswith("##") for token in tokenizer.get_vocab())


def _whole_token(tokenizer, word: str, unk: int) -> bool:
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    return len(ids) == 1 and ids[0] != unk


def known_words(loaded: LoadedModel, limit: int = 12) -> list[str]:
    """A few words of the model tokenizer's vocabulary (no special tokens, no punctuation), sorted."""
    tokenizer = loaded.tokenizer
    special = set(getattr(tokenizer, "all_special_tokens", ()))
    words = sorted(
        word for word in tokenizer.get_vocab() if word not in special and word.isalpha() and len(word) > 2
    )
    return words[:limit]
