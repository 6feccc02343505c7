"""OpenVINO for one torch module taking tensors: convert it, compile it for the CPU, run it.

The one converter of the project: the backends' towers (:mod:`mmdemo.runtimes.lazy`) and the
benchmark's OpenVINO peers (:mod:`mmdemo.bench.runtimes`) both use it. OpenVINO is imported inside
the functions (it takes ~0.15 s), never at import.

Precision: ``INFERENCE_PRECISION_HINT`` ``bf16`` where the CPU plugin reports ``BF16`` in its
``OPTIMIZATION_CAPABILITIES`` (AMX / AVX-512-BF16; ``OV_CPU_MAX_ISA=AVX2`` removes it) and the
model's dtype is bfloat16, else ``f32``. The converted model keeps float32 weights; the hint
decides the arithmetic at compile time.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

Run = Callable[..., torch.Tensor]  # tensors in the module's input order -> float32 output [N, D]
PRECISIONS = ("f32", "bf16")


def missing_reason() -> str | None:
    """Why OpenVINO cannot be used here (not installed), or None; does not import it."""
    try:
        found = importlib.util.find_spec("openvino")
    except (ImportError, ValueError) as err:
        return f"OpenVINO cannot be imported ({err})"
    return None if found is not None else "OpenVINO is not installed (pip install -r requirements.txt)"


@lru_cache(maxsize=1)
def core() -> Any:
    """The process's ``openvino.Core``."""
    import openvino

    return openvino.Core()


def version() -> str:
    """OpenVINO's version (part of the converted models' cache key)."""
    import openvino

    return openvino.__version__


def has_bfloat16() -> bool:
    """True when OpenVINO's CPU plugin reports bfloat16 support here."""
    return "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def precision_for(dtype: torch.dtype) -> str:
    """``bf16`` for a bfloat16 model where the CPU plugin has it, else ``f32``."""
    return "bf16" if dtype == torch.bfloat16 and has_bfloat16() else "f32"


def convert(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> Any:
    """``openvino.convert_model`` of ``module`` (traced on ``example``; every dimension stays dynamic)."""
    import openvino

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notices about Python conditions on shapes
        return openvino.convert_model(module.eval(), example_input=example)


def save(model: Any, xml_path: Path) -> None:
    """Write ``model`` as OpenVINO IR: ``xml_path`` and the ``.bin`` beside it, float32 weights kept."""
    import openvino

    openvino.save_model(model, str(xml_path), compress_to_fp16=False)


def read(xml_path: Path) -> Any:
    """The IR at ``xml_path`` (and its ``.bin``); raises RuntimeError when either is unreadable."""
    return core().read_model(str(xml_path))


def compile_model(model: Any, precision: str) -> Run:
    """Compile ``model`` for the CPU at ``precision`` (:data:`PRECISIONS`), on torch's thread count;
    the returned function takes torch tensors and returns float32 torch features. Each call has its
    own infer request, so threads may call it at once."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown OpenVINO precision {precision!r}; valid: {list(PRECISIONS)}")
    config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": torch.get_num_threads()}
    compiled = core().compile_model(model, "CPU", config)

    def run(*tensors: torch.Tensor) -> torch.Tensor:
        request = compiled.create_infer_request()
        out = request.infer([tensor.numpy() for tensor in tensors])[0]
        return torch.from_numpy(np.array(out, dtype=np.float32))  # a copy: the request's buffer goes with it

    return run
