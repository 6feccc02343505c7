"""The shared skeleton of the pretraining stages: optimiser, schedule, progress and loss log."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageConfig:
    """Optimisation settings of one pretraining stage.

    Attributes:
        steps: optimiser steps.
        batch_size: samples per step.
        lr: peak learning rate of AdamW.
        warmup: fraction of the steps spent warming the learning rate up linearly.
        weight_decay: AdamW's decoupled weight decay.
        log_every: log the running loss every this many steps (and at the last one).
    """

    steps: int
    batch_size: int = 128
    lr: float = 1e-3
    warmup: float = 0.05
    weight_decay: float = 0.01
    log_every: int = 25

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (contrastive batches need negatives), got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def lr_factor(step: int, steps: int, warmup: float) -> float:
    """Linear warm-up over ``warmup * steps`` steps, then cosine decay to zero at the last step."""
    warm = max(1, int(round(warmup * steps)))
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class StageLog:
    """What a stage did: its name, the loss curve (step, loss), and the seconds it took."""

    name: str
    losses: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.losses[-1][1] if self.losses else float("nan")


def run_stage(
    name: str,
    parameters: Iterable[nn.Parameter],
    config: StageConfig,
    step_loss: Callable[[int], dict[str, torch.Tensor]],
) -> StageLog:
    """Optimise: for each step, ``step_loss(step)`` returns named losses whose sum is minimised.

    Logs the running mean of every named loss every ``config.log_every`` steps with the elapsed
    time and an estimate of the time left.
    """
    params = list(dict.fromkeys(p for p in parameters if p.requires_grad))  # shared towers once
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.steps, config.warmup)
    )
    log = StageLog(name)
    running: dict[str, float] = {}
    seen = 0
    start = time.perf_counter()
    logger.info("%s: %d steps of %d samples", name, config.steps, config.batch_size)
    for step in range(config.steps):
        losses = step_loss(step)
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise RuntimeError(f"{name}: loss became {total.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        for key, value in losses.items():
            running[key] = running.get(key, 0.0) + float(value.detach())
        seen += 1
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            elapsed = time.perf_counter() - start
            means = {key: value / seen for key, value in running.items()}
            log.losses.append((step + 1, sum(means.values())))
            left = elapsed / (step + 1) * (config.steps - step - 1)
            parts = " ".join(f"{key} {value:.4f}" for key, value in means.items())
            logger.info(
                "%s step %d/%d  %s  lr %.2e  %.0f s elapsed, ~%.0f s left",
                name, step + 1, config.steps, parts, schedule.get_last_lr()[0], elapsed, left,
            )
            running, seen = {}, 0
    log.seconds = time.perf_counter() - start
    return log
