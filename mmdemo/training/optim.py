"""Optimisers and learning-rate schedules by name, for :class:`~mmdemo.training.trainer.TrainConfig`.

Schedules are per step (batch) multipliers of the base learning rate:

- ``"none"``: constant.
- ``"step"``: multiplied by ``step_gamma`` every ``step_size`` epochs.
- ``"cosine"``: linear warm-up from ``1/warmup_steps`` to 1 over ``warmup_epochs`` epochs, then a
  cosine decay to ``min_lr_ratio`` at the last step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import torch
from torch import nn

from mmdemo.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("none", "step", "cosine")


class OptimSettings(Protocol):
    """The settings read here; :class:`~mmdemo.training.trainer.TrainConfig` has them (and documents them)."""

    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    schedule: str
    step_size: int
    step_gamma: float
    warmup_epochs: int
    min_lr_ratio: float
    epochs: int


def build_optimizer(parameters: Iterable[nn.Parameter], config: OptimSettings) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` with ``lr``, ``weight_decay`` (L2; decoupled for AdamW)
    and, for SGD and RMSprop, ``momentum``."""
    params = [p for p in parameters if p.requires_grad]
    name = config.optimizer.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise ConfigError(f"unknown optimizer {config.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")


def lr_factor(step: int, *, steps_per_epoch: int, total_steps: int, config: OptimSettings) -> float:
    """Multiplier of the base learning rate at 0-based ``step`` (see the module docstring)."""
    if config.schedule == "none":
        return 1.0
    if config.schedule == "step":
        return config.step_gamma ** ((step // steps_per_epoch) // config.step_size)
    if config.schedule == "cosine":
        warmup = config.warmup_epochs * steps_per_epoch
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup - 1)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine
    raise ConfigError(f"unknown schedule {config.schedule!r}; valid: {', '.join(SCHEDULES)}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimSettings, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR following :func:`lr_factor`; call ``step()`` after each batch."""
    total = steps_per_epoch * config.epochs
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps_per_epoch=steps_per_epoch, total_steps=total, config=config)
    )
