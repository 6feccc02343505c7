"""Runtime peers of the CLIP towers: what a user who needs CPU speed would pick instead of mmdemo.

Each peer converts one float32 tower (a ``torch.nn.Module`` taking tensors: :class:`ImageTower` /
:class:`TextTower`, from :mod:`mmdemo.runtimes.towers`) once, outside the timed runs, and then runs it on the
same processor outputs as the model card's code. Peers:

- ``ort-fp32``: ONNX Runtime, float32 (``torch.onnx.export``, the TorchScript exporter: the
  torch.export-based one needs ``onnxscript``, which is not installed);
- ``ort-int8``: ONNX Runtime after ``onnxruntime.quantization.quantize_dynamic`` (int8 weights);
- ``compile``: ``torch.compile`` (inductor, CPU), float32;
- ``ov-fp32`` / ``ov-bf16``: OpenVINO ``convert_model`` + ``compile_model`` on CPU with
  ``INFERENCE_PRECISION_HINT`` f32 / bf16 (bf16 only where the CPU plugin reports BF16).

A peer whose runtime is not installed (``requirements-runtimes.txt``) or that the CPU cannot run
is reported as skipped with the reason; a conversion that raises is reported as failed.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmdemo.bench.config import RUNTIME_PEERS
from mmdemo.bench.memory import current_rss_mib, peak_rss_mib
from mmdemo.bench.results import RuntimeResult
from mmdemo.runtimes.towers import ClipImageTower as ImageTower  # noqa: F401  (the towers the peers convert)
from mmdemo.runtimes.towers import ClipTextTower as TextTower  # noqa: F401

logger = logging.getLogger(__name__)

DESCRIPTIONS = {
    "ort-fp32": "ONNX Runtime float32",
    "ort-int8": "ONNX Runtime dynamic int8",
    "compile": "torch.compile (inductor) float32",
    "ov-fp32": "OpenVINO float32",
    "ov-bf16": "OpenVINO bfloat16",
}
_MODULES = {"ort-fp32": "onnxruntime", "ort-int8": "onnxruntime.quantization", "compile": "torch._inductor",
            "ov-fp32": "openvino", "ov-bf16": "openvino"}

Run = Callable[..., torch.Tensor]  # tensors in the tower's input order -> float32 features [N, D]


def missing_runtime(peer: str) -> str | None:
    """Why ``peer`` cannot run here (its module is not installed, or no bf16 on this CPU), or None."""
    if peer not in RUNTIME_PEERS:
        raise ValueError(f"Unknown runtime peer {peer!r}; valid: {list(RUNTIME_PEERS)}")
    try:
        importlib.import_module(_MODULES[peer])
        if peer.startswith("ort-"):
            importlib.import_module("onnx")  # torch.onnx.export and quantize_dynamic need it
    except ImportError as err:
        return f"not installed ({err}); pip install -r requirements-runtimes.txt"
    if peer == "ov-bf16":
        import openvino

        if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            return "this CPU has no bfloat16 support in OpenVINO's CPU plugin"
    return None


def _export_onnx(tower: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
        torch.onnx.export(tower, example, str(path), dynamo=False, input_names=list(tower.input_names),
                          output_names=["features"], dynamic_axes=tower.dynamic_axes, opset_version=17)


def _ort_session(path: Path, tower: torch.nn.Module) -> Run:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = tower.input_names

    def run(*tensors: torch.Tensor) -> torch.Tensor:
        feeds = {name: tensor.numpy() for name, tensor in zip(names, tensors)}
        return torch.from_numpy(np.asarray(session.run(None, feeds)[0], dtype=np.float32))

    return run


def _convert(peer: str, tower: torch.nn.Module, example: tuple[torch.Tensor, ...], workdir: Path) -> Run:
    tower = tower.eval()
    if peer in ("ort-fp32", "ort-int8"):
        path = workdir / f"{type(tower).__name__}.onnx"
        _export_onnx(tower, example, path)
        if peer == "ort-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantised = path.with_suffix(".int8.onnx")
            quantize_dynamic(str(path), str(quantised), weight_type=QuantType.QInt8)
            path = quantised
        return _ort_session(path, tower)
    if peer == "compile":
        compiled = torch.compile(tower, backend="inductor", dynamic=True)

        def run(*tensors: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return compiled(*tensors).float()

        run(*example)  # compiling happens on the first call
        return run
    from mmdemo.runtimes import openvino_runtime  # the converter mmdemo's own OpenVINO path uses

    return openvino_runtime.compile_model(openvino_runtime.convert(tower, example), "bf16" if peer == "ov-bf16" else "f32")


@dataclass
class Converted:
    """A converted peer: ``run`` (None unless ``result.status == "ok"``) and its result so far."""

    run: Run | None
    result: RuntimeResult


def convert_peer(peer: str, tower: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> Converted:
    """Convert ``tower`` for ``peer``, timing it and measuring the memory it adds; never raises for
    a missing runtime (skipped) or a failing conversion (failed, logged)."""
    reason = missing_runtime(peer)
    if reason:
        logger.info("runtime peer %s skipped: %s", peer, reason)
        return Converted(None, RuntimeResult(peer, "skipped", reason))
    before = current_rss_mib()
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="mmdemo-runtime-") as workdir:
            run = _convert(peer, tower, example, Path(workdir))
    except (RuntimeError, ValueError, TypeError, OSError, ImportError) as err:  # reported, not hidden
        logger.warning("runtime peer %s failed to convert: %s", peer, err)
        return Converted(None, RuntimeResult(peer, "failed", f"{type(err).__name__}: {str(err)[:300]}"))
    seconds = time.perf_counter() - start
    result = RuntimeResult(peer, "ok", DESCRIPTIONS[peer], conversion_s=seconds,
                           rss_added_mib=current_rss_mib() - before, peak_rss_mib=peak_rss_mib())
    return Converted(run, result)


def batched(run: Run, batches: Callable[[], list[tuple[torch.Tensor, ...]]]) -> Callable[[], torch.Tensor]:
    """A timed case: prepare the batches (the processor runs inside), run each, concatenate."""
    return lambda: torch.cat([run(*batch) for batch in batches()])
