"""Lazy, once-per-process, thread-safe model loading, with the device and dtype policy.

``get_model(name)`` loads a registered model on first use and returns the same
:class:`LoadedModel` afterwards. Two threads asking for the same model at once load it once: each
model has its own lock, so loading one model never blocks requests for another.

Where weights come from, in order:
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
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hub_constants

from mmdemo.errors import ModelUnavailableError, UnknownModelError
from mmdemo.registry import ModelSpec, resolve_spec

logger = logging.getLogger(__name__)

HUB_PROBE_TIMEOUT = float(os.environ.get("MMDEMO_HUB_PROBE_TIMEOUT", "3"))
DEVICES = ("auto", "cpu", "cuda")
GENERATIVE_BACKENDS = ("blip-caption", "blip-vqa")


# ---------------------------------------------------------------------------- device and dtype


@dataclass
class RuntimeSettings:
    """Process-wide choices, overridable by the CLI, the app's flags or environment variables.

    Attributes:
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``
            (env ``MMDEMO_DEVICE``).
        dtype: ``"auto"`` follows each spec's policy; ``"float32"`` switches every fast path off;
            ``"bfloat16"``/``"float16"`` force autocast (env ``MMDEMO_DTYPE``).
    """

    device: str = field(default_factory=lambda: os.environ.get("MMDEMO_DEVICE", "auto"))
    dtype: str = field(default_factory=lambda: os.environ.get("MMDEMO_DTYPE", "auto"))


SETTINGS = RuntimeSettings()


def configure_runtime(device: str | None = None, dtype: str | None = None) -> RuntimeSettings:
    """Change the device or dtype used by models loaded from now on."""
    if device is not None:
        if device not in DEVICES:
            raise UnknownModelError(f"Unknown device {device!r}; valid devices: {list(DEVICES)}")
        SETTINGS.device = device
    if dtype is not None:
        valid = ("auto", "float32", "bfloat16", "float16")
        if dtype not in valid:
            raise UnknownModelError(f"Unknown dtype {dtype!r}; valid dtypes: {list(valid)}")
        SETTINGS.dtype = dtype
    return SETTINGS


def resolve_device(device: str | None = None) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    choice = device or SETTINGS.device
    if choice not in DEVICES:
        raise UnknownModelError(f"Unknown device {choice!r}; valid devices: {list(DEVICES)}")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("Device 'cuda' was requested but no CUDA GPU is available")
    return torch.device(choice)


@lru_cache(maxsize=1)
def cpu_has_fast_bfloat16() -> bool:
    """True when the CPU has bfloat16 matrix units (AMX) or AVX-512-BF16 instructions."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(spec: ModelSpec, device: torch.device, override: str | None = None) -> torch.dtype:
    """The compute dtype for ``spec`` on ``device``.

    Policy for ``auto`` (measured by ``python -m mmdemo bench``): embedding models (CLIP, OpenCLIP,
    wav2vec2) compute under bfloat16 autocast on CUDA and on CPUs with AMX/AVX-512-BF16; BLIP
    generation stays float32 on CPU, where autocast was measured slower (its CPU speed-ups are
    load-time changes to the model instead: see :func:`resolve_speedups`).
    """
    choice = _dtype_choice(spec, override)
    if choice == "auto":
        if device.type == "cuda":
            choice = "float16" if spec.backend in GENERATIVE_BACKENDS else "bfloat16"
        elif spec.backend not in GENERATIVE_BACKENDS and cpu_has_fast_bfloat16():
            choice = "bfloat16"
        else:
            choice = "float32"
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[choice]


def _dtype_choice(spec: ModelSpec, override: str | None) -> str:
    """The dtype policy in force: the explicit override, else the process setting, else the spec's."""
    return override or (SETTINGS.dtype if SETTINGS.dtype != "auto" else spec.dtype)


# Load-time speed-ups (beyond the compute dtype), each measured by ``python -m mmdemo bench``.
SPEEDUPS = {
    "text-float32": "CLIP's text tower skips autocast and runs in float32 (bfloat16 changed zero-shot top-1 "
    "labels); batching and padding to the longest prompt give text embedding its speed",
    "image-packed-bfloat16": "CLIP's image tower runs in bfloat16 (float32 in and out), its Linear weights "
    "pre-packed for oneDNN and quick-GELU fused into the first MLP product (no re-casting or re-packing "
    "of weights at every call, no autocast); its last layer computes only the class token the embedding reads",
    "vision-bfloat16": "BLIP's vision encoder holds bfloat16 weights, pre-packed for oneDNN where possible "
    "(its output is cast back to float32)",
    "cross-attention-bfloat16": "BLIP's text cross-attention computes the keys and values of the image's "
    "tokens with pre-packed bfloat16 products (cast back to float32)",
    "text-int8": "BLIP's text decoder Linear layers are dynamically quantised to int8 (captioning)",
    "time-major-features": "wav2vec2's convolutional feature encoder runs as matrix products on [B, T, C]",
}


def resolve_speedups(spec: ModelSpec, device: torch.device, override: str | None = None) -> tuple[str, ...]:
    """The load-time speed-ups (names from :data:`SPEEDUPS`) for ``spec`` on ``device``.

    Only the ``auto`` policy on a CPU with AMX/AVX-512-BF16 (where they were measured faster and
    faithful) gets any: CLIP gets ``text-float32`` (its image tower keeps bfloat16 autocast, its
    text tower does not) and, through transformers, ``image-packed-bfloat16``; BLIP captioning
    gets ``vision-bfloat16``, ``cross-attention-bfloat16`` and ``text-int8``; BLIP VQA gets
    ``vision-bfloat16`` and ``cross-attention-bfloat16`` (int8 anywhere in its text side, or
    bfloat16 all over it, changed greedy answers in the fidelity check); wav2vec2 gets
    ``time-major-features``. bfloat16 autocast over the whole of
    ``generate`` is not used: it re-casts the decoder's weights at every token. ``float32`` (the
    switch that turns fast paths off) or an explicit dtype gets none.
    """
    if _dtype_choice(spec, override) != "auto" or device.type != "cpu" or not cpu_has_fast_bfloat16():
        return ()
    if spec.backend == "clip":
        return ("text-float32", "image-packed-bfloat16")
    if spec.backend == "open_clip":  # its attention reads out_proj.weight directly: nothing to pack
        return ("text-float32",)
    if spec.backend == "blip-caption":
        return ("vision-bfloat16", "cross-attention-bfloat16", "text-int8")
    if spec.backend == "blip-vqa":
        return ("vision-bfloat16", "cross-attention-bfloat16")
    if spec.backend in ("wav2vec2", "wav2vec2-ctc"):
        return ("time-major-features",)
    return ()


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
        extras: backend-specific parts (the audio projection head, the CTC processor, …) and
            ``"speedups"``: the load-time speed-ups applied (see :func:`resolve_speedups`).
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

    def autocast(self) -> AbstractContextManager:
        """The context to run the model in: autocast for reduced precision, else nothing."""
        if self.dtype == torch.float32:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def describe(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        speedups = "".join(f" + {name}" for name in self.extras.get("speedups", ()))
        return f"{self.spec.name} ({self.spec.preset}) on {self.device.type}, {dtype}{speedups}"


_CACHE: dict[tuple[str, str, str, str], LoadedModel] = {}
_LOCKS: dict[tuple[str, str, str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_LOAD_LOCK = threading.RLock()  # one load at a time: transformers' lazy imports and meta-device init are process-global
LOAD_COUNTS: dict[str, int] = {}


def get_model(
    model: str | ModelSpec | None,
    role: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
) -> LoadedModel:
    """Load (once) and return the model ``model`` of ``role`` (None: the role's default)."""
    spec = resolve_spec(model, role)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(spec, torch_device, dtype)
    speedups = resolve_speedups(spec, torch_device, dtype)
    key = (spec.name, str(torch_device), str(torch_dtype), ",".join(speedups))
    cached = _CACHE.get(key)
    if cached is not None and cached.spec == spec:
        return cached
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        cached = _CACHE.get(key)
        if cached is not None and cached.spec == spec:
            return cached
        start = time.perf_counter()
        with _LOAD_LOCK:
            from mmdemo.backends import load_backend  # imported here: backends import heavy libraries

            logger.info(
                "Loading %s from %s on %s (%s%s)", spec.name, spec.checkpoint, torch_device, torch_dtype,
                "".join(f", {name}" for name in speedups),
            )
            loaded = load_backend(spec, torch_device, torch_dtype, speedups)
        loaded.load_seconds = time.perf_counter() - start
        logger.info("Loaded %s in %.1f s", spec.name, loaded.load_seconds)
        _CACHE[key] = loaded
        LOAD_COUNTS[spec.name] = LOAD_COUNTS.get(spec.name, 0) + 1
        return loaded


def loaded_models() -> list[LoadedModel]:
    """Every model loaded so far in this process."""
    return list(_CACHE.values())


def unload_all() -> None:
    """Forget every loaded model (tests; freeing memory)."""
    with _LOCKS_GUARD:
        _CACHE.clear()
        _LOCKS.clear()


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


def unavailable_message(spec: ModelSpec, reason: str) -> str:
    """The message for weights that cannot be had: the model, where it looked, how to fix it."""
    if spec.preset == "bundled":
        where = f"the local folder {spec.checkpoint}"
        fix = (
            "the bundled checkpoints are not in this checkout; create them with "
            "`python -m mmdemo.world.pretrain`, or use the pretrained preset where the hub is reachable"
        )
    elif spec.is_local:
        where = f"the local folder {spec.checkpoint}"
        fix = "check the path, or point the role at another folder or hub id"
    else:
        where = f"the huggingface_hub cache ({hub_constants.HF_HUB_CACHE}) and {hub_endpoint()}"
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


def is_available_offline(spec: ModelSpec) -> bool:
    """True when ``spec``'s weights can be loaded without the network."""
    if spec.is_local:
        return spec.local_folder.is_dir()
    if spec.backend == "open_clip":
        from mmdemo.backends.open_clip_backend import open_clip_cached

        return open_clip_cached(spec)
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec.checkpoint, "config.json")
    return isinstance(cached, str)


@dataclass
class PresetChoice:
    """Which preset ``auto`` chose, and why (the app shows the reason on the page)."""

    preset: str
    reason: str


def choose_preset(requested: str = "auto") -> PresetChoice:
    """Resolve ``auto``: ``pretrained`` when its checkpoints are cached or the hub answers, else
    ``offline`` when its pip packages are installed, else ``bundled``. Explicit presets are
    returned as they are."""
    from mmdemo.registry import PRESETS, get_model_spec, missing_offline_packages

    if requested != "auto":
        if requested not in PRESETS:
            raise UnknownModelError(
                f"Unknown preset {requested!r}; valid presets: {['auto', *sorted(PRESETS)]}"
            )
        return PresetChoice(requested, "chosen explicitly")
    specs = [get_model_spec(name) for name in PRESETS["pretrained"].values()]
    if all(is_available_offline(spec) for spec in specs):
        return PresetChoice("pretrained", "the pretrained checkpoints are in the local cache")
    if hub_reachable():
        return PresetChoice("pretrained", f"{hub_endpoint()} is reachable; weights download on first use")
    offline = f"no network to {hub_endpoint()} and the pretrained checkpoints are not cached"
    missing = missing_offline_packages()  # offline preset (registry block)
    if not missing:
        return PresetChoice("offline", f"{offline}; the offline preset's packages are installed")
    return PresetChoice("bundled", f"{offline}, and the offline preset needs {', '.join(missing)}")
