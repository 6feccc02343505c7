"""A loaded model's towers through an inference runtime (:mod:`mmdemo.runtimes`): the backends' side.

:func:`attach_runtime` gives a :class:`~mmdemo.backends.base.LoadedModel` its
:class:`~mmdemo.runtimes.lazy.RuntimeTowers` (nothing converted yet) when the policy named the
runtime among its speed-ups; :func:`run_tower` is what a backend's ``encode_*`` asks first, running
its torch path when it answers None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from mmdemo.backends.base import LoadedModel
from mmdemo.cache import checkpoint_fingerprint
from mmdemo.runtimes import OPENVINO
from mmdemo.runtimes.lazy import RuntimeTowers
from mmdemo.runtimes.openvino_runtime import missing_reason

logger = logging.getLogger(__name__)


def attach_runtime(
    loaded: LoadedModel, speedups: tuple[str, ...], towers: dict[str, Callable[[], torch.nn.Module]],
    precisions: dict[str, str] | None = None,
) -> None:
    """Give ``loaded`` OpenVINO towers when ``speedups`` names the runtime and it runs on the CPU:
    ``extras["runtime"]`` (a :class:`RuntimeTowers`, nothing converted yet) and the speed-up
    ``"openvino"``. ``precisions`` pins a tower's OpenVINO precision (:attr:`RuntimeTowers.precisions`).
    Where OpenVINO is not installed, one warning says so and torch runs."""
    if OPENVINO not in speedups or loaded.device.type != "cpu":
        return
    reason = missing_reason()
    if reason is not None:
        logger.warning("Model %r runs on torch instead of OpenVINO: %s", loaded.spec.name, reason)
        return

    def drop_runtime(reason: str) -> None:
        loaded.extras["speedups"] = tuple(name for name in loaded.speedups if name != OPENVINO)

    loaded.extras["runtime"] = RuntimeTowers(
        loaded.spec.name, "|".join(checkpoint_fingerprint(loaded.spec)), loaded.dtype, towers, drop_runtime,
        precisions=dict(precisions or {}),
    )
    loaded.extras["speedups"] = (*loaded.speedups, OPENVINO)


def run_tower(loaded: LoadedModel, tower: str, *tensors: torch.Tensor) -> torch.Tensor | None:
    """``tower``'s features through the model's runtime, or None: run the torch path."""
    towers = loaded.extras.get("runtime")
    return None if towers is None else towers.run(tower, *tensors)
