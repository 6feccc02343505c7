"""A loaded model's towers through OpenVINO, converted at their first call, torch as the fallback.

:class:`RuntimeTowers` holds one converted tower per name (``"image"``, ``"text"``). The first call
of a tower converts it (or reads it from :class:`~mmdemo.runtimes.model_cache.ConvertedModelCache`)
and compiles it at the precision of :func:`~mmdemo.runtimes.openvino_runtime.precision_for`, or at
the one its backend pins for it in ``precisions`` (ConSE's EfficientNet-Lite0: ``f32``, its logits
missed the fidelity bar in bf16; the IR is the same, so pinning does not change the cache). When
OpenVINO cannot be imported, or a conversion or a run raises, the whole model goes back to torch:
one warning names the model and the reason, :meth:`RuntimeTowers.run` returns None from then on
(the backend then runs its torch path), and ``on_fallback`` lets the backend drop the runtime
from the model's speed-ups (so the embedding cache keys what torch computes as torch's). The
backends attach it to a loaded model through :mod:`mmdemo.backends.runtime` (this package never
imports the backends).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from mmdemo.runtimes import OPENVINO
from mmdemo.runtimes.model_cache import ConvertedModelCache, converted_key

logger = logging.getLogger(__name__)

# What a failing import, conversion, compilation or run of OpenVINO raises (its errors are RuntimeErrors).
RUNTIME_ERRORS = (ImportError, RuntimeError, ValueError, TypeError, OSError)


@dataclass
class RuntimeTowers:
    """The towers of one loaded model, run by OpenVINO.

    Attributes:
        model_name: the registry name, for log lines.
        fingerprint: :func:`mmdemo.cache.checkpoint_fingerprint` of its checkpoint, joined.
        dtype: the model's compute dtype (bfloat16 -> OpenVINO bf16 where the CPU has it).
        towers: tower name -> a function building the torch module to convert.
        on_fallback: called once, with the reason, when the model goes back to torch.
        precisions: tower name -> the OpenVINO precision it compiles at whatever the dtype (a tower
            that misses the fidelity bars in bf16 pins ``f32``); the others follow ``precision``.
        cache: where converted models are kept (None: the default folder, looked up at first use).
        fallback_reason: why the model went back to torch (None while the runtime runs).
        precision: the model's OpenVINO precision (from its dtype), once the first tower is compiled.
    """

    model_name: str
    fingerprint: str
    dtype: torch.dtype
    towers: dict[str, Callable[[], torch.nn.Module]]
    on_fallback: Callable[[str], None] = lambda reason: None
    precisions: dict[str, str] = field(default_factory=dict)
    cache: ConvertedModelCache | None = None
    fallback_reason: str | None = None
    precision: str | None = None
    _runs: dict[str, Callable[..., torch.Tensor]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self, tower: str, *tensors: torch.Tensor) -> torch.Tensor | None:
        """``tower``'s features for ``tensors`` through OpenVINO, or None: run the torch path."""
        if self.fallback_reason is not None:
            return None
        try:
            return self._compiled(tower, tensors)(*tensors)
        except RUNTIME_ERRORS as err:
            first_line = (str(err).strip().splitlines() or [""])[0][:300]
            self._fall_back(f"{type(err).__name__}: {first_line}")
            return None

    def _compiled(self, tower: str, example: tuple[torch.Tensor, ...]) -> Callable[..., torch.Tensor]:
        with self._lock:
            if tower not in self._runs:
                from mmdemo.runtimes import openvino_runtime

                self.precision = self.precision or openvino_runtime.precision_for(self.dtype)
                key = converted_key(self.fingerprint, tower, OPENVINO, openvino_runtime.version())
                module = self.towers[tower]()
                cache = self.cache or ConvertedModelCache()
                label = f"{self.model_name} ({tower} tower)"
                model = cache.load_or_convert(key, lambda: openvino_runtime.convert(module, example), label)
                precision = self.precision_of(tower)
                self._runs[tower] = openvino_runtime.compile_model(model, precision)
                logger.info("%s runs through OpenVINO %s", label, precision)
            return self._runs[tower]

    def precision_of(self, tower: str) -> str:
        """The precision ``tower`` compiles at: its pinned one, else the model's."""
        from mmdemo.runtimes import openvino_runtime

        return self.precisions.get(tower) or self.precision or openvino_runtime.precision_for(self.dtype)

    def _fall_back(self, reason: str) -> None:
        with self._lock:
            if self.fallback_reason is not None:
                return
            self.fallback_reason = reason
            self._runs.clear()
        logger.warning("Model %r runs on torch instead of OpenVINO: %s", self.model_name, reason)
        self.on_fallback(reason)

