"""The model cache and the runtime policy: which device, dtype and load-time speed-ups.

``get_model(name)`` loads a registered model on first use and returns the same
:class:`~mmdemo.backends.base.LoadedModel` afterwards. Two threads asking for the same model at
once load it once: each model has its own lock, so loading one model never blocks requests for
another. How a model is loaded, and where its weights come from, is its backend's business
(:mod:`mmdemo.backends`); this module decides only the device, the dtype and whether load-time
speed-ups are allowed, asking the backend what it prefers and which of its speed-ups apply.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from mmdemo.backends import backend_module, load_backend
from mmdemo.backends.base import LoadedModel
from mmdemo.errors import ModelUnavailableError, UnknownModelError
from mmdemo.registry import ModelSpec, resolve_spec
from mmdemo.runtimes import OPENVINO, RUNTIME_CHOICES

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")

# Names that moved out of this module, still importable from it for callers outside this branch
# (app.py imports choose_preset and is_available_offline from here); the integrator moves them.
_MOVED = {
    "choose_preset": "mmdemo.presets",
    "PresetChoice": "mmdemo.presets",
    "is_available_offline": "mmdemo.backends",
}


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------- device and dtype


@dataclass
class RuntimeSettings:
    """Process-wide choices, overridable by the CLI, the app's flags or environment variables.

    Attributes:
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``
            (env ``MMDEMO_DEVICE``).
        dtype: ``"auto"`` follows each spec's policy; ``"float32"`` switches every fast path off;
            ``"bfloat16"``/``"float16"`` force autocast (env ``MMDEMO_DTYPE``).
        runtime: ``"auto"`` (OpenVINO for the CLIP towers where the policy gives it), ``"torch"``
            or ``"openvino"`` (env ``MMDEMO_RUNTIME``; see :mod:`mmdemo.runtimes`).
    """

    device: str = field(default_factory=lambda: os.environ.get("MMDEMO_DEVICE", "auto"))
    dtype: str = field(default_factory=lambda: os.environ.get("MMDEMO_DTYPE", "auto"))
    runtime: str = field(default_factory=lambda: os.environ.get("MMDEMO_RUNTIME", "auto"))


SETTINGS = RuntimeSettings()


def configure_runtime(device: str | None = None, dtype: str | None = None, runtime: str | None = None) -> RuntimeSettings:
    """Change the device, dtype or inference runtime used by models loaded from now on."""
    if device is not None:
        if device not in DEVICES:
            raise UnknownModelError(f"Unknown device {device!r}; valid devices: {list(DEVICES)}")
        SETTINGS.device = device
    if dtype is not None:
        valid = ("auto", "float32", "bfloat16", "float16")
        if dtype not in valid:
            raise UnknownModelError(f"Unknown dtype {dtype!r}; valid dtypes: {list(valid)}")
        SETTINGS.dtype = dtype
    if runtime is not None:
        check_runtime(runtime)
        SETTINGS.runtime = runtime
    return SETTINGS


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`~mmdemo.runtimes.RUNTIME_CHOICES`, else UnknownModelError."""
    if runtime not in RUNTIME_CHOICES:
        raise UnknownModelError(f"Unknown runtime {runtime!r}; valid runtimes: {list(RUNTIME_CHOICES)}")
    return runtime


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


BFLOAT16_ISAS = ("ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX",
                 "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2")  # ONEDNN_MAX_CPU_ISA values that keep bfloat16 units


@lru_cache(maxsize=1)
def cpu_has_fast_bfloat16() -> bool:
    """True when the CPU has bfloat16 matrix units (AMX) or AVX-512-BF16 instructions, and oneDNN
    may use them (``ONEDNN_MAX_CPU_ISA`` capped below AVX-512-BF16, as the benchmark's ``--isa avx2``
    sets it, stands in for a CPU without them)."""
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper() not in BFLOAT16_ISAS:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(spec: ModelSpec, device: torch.device, override: str | None = None) -> torch.dtype:
    """The compute dtype for ``spec`` on ``device``.

    Policy for ``auto`` (measured by ``python -m mmdemo bench``), by the backend's ``GENERATIVE``
    preference: embedding backends (CLIP, OpenCLIP, wav2vec2) compute under bfloat16 autocast on
    CUDA and on CPUs with AMX/AVX-512-BF16; generative ones (BLIP) take float16 on CUDA and stay
    float32 on CPU, where autocast was measured slower (their CPU speed-ups are load-time changes
    to the model instead: see :func:`resolve_speedups`).
    """
    choice = _dtype_choice(spec, override)
    if choice == "auto":
        generative = backend_module(spec.backend).GENERATIVE
        if device.type == "cuda":
            choice = "float16" if generative else "bfloat16"
        elif not generative and cpu_has_fast_bfloat16():
            choice = "bfloat16"
        else:
            choice = "float32"
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[choice]


def _dtype_choice(spec: ModelSpec, override: str | None) -> str:
    """The dtype policy in force: the explicit override, else the process setting, else the spec's."""
    return override or (SETTINGS.dtype if SETTINGS.dtype != "auto" else spec.dtype)


def resolve_speedups(spec: ModelSpec, device: torch.device, override: str | None = None) -> tuple[str, ...]:
    """The load-time speed-ups (beyond the compute dtype) for ``spec`` on ``device``.

    The policy: only the ``auto`` dtype policy on a CPU with AMX/AVX-512-BF16 (where they were
    measured faster and faithful) gets any, and then the backend names those of its ``SPEEDUPS``
    that apply (its ``speedups_for``; :func:`mmdemo.backends.all_speedups` lists them all).
    ``float32`` (the switch that turns fast paths off) or an explicit dtype gets none.
    bfloat16 autocast over the whole of ``generate`` is not used: it re-casts the decoder's
    weights at every token.
    """
    runtime = resolve_runtime(spec, device, override)
    if _dtype_choice(spec, override) != "auto" or device.type != "cpu" or not cpu_has_fast_bfloat16():
        return runtime
    return (*backend_module(spec.backend).speedups_for(spec, device), *runtime)


def resolve_runtime(spec: ModelSpec, device: torch.device, override: str | None = None) -> tuple[str, ...]:
    """``("openvino",)`` when ``spec``'s towers run through OpenVINO, else ``()`` (torch).

    The policy (measured by ``python -m mmdemo bench --runtimes ov-bf16,ov-fp32``, with AMX and
    with ``--isa avx2``: OpenVINO was faster than mmdemo's torch paths on both, within the
    fidelity bars): ``auto`` gives it to every backend that declares ``RUNTIMES`` on the CPU under
    the ``auto`` dtype policy (an explicit dtype, above all ``float32``, keeps torch); ``openvino``
    gives it on the CPU whatever the dtype; ``torch`` never."""
    choice = check_runtime(SETTINGS.runtime)
    runtimes = getattr(backend_module(spec.backend), "RUNTIMES", ())
    if choice == "torch" or device.type != "cpu" or OPENVINO not in runtimes:
        return ()
    if choice == "auto" and _dtype_choice(spec, override) != "auto":
        return ()
    if choice == "auto" and getattr(backend_module(spec.backend), "RUNTIME_NEEDS_FAST_BFLOAT16", False) and not cpu_has_fast_bfloat16():
        return ()  # measured faster in bfloat16 only (wav2vec2: a tie in float32)
    return (OPENVINO,)


# ------------------------------------------------------------------------------ loaded models


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
