"""The training program for fusion heads.

:func:`train_heads` trains one :class:`~mmdemo.fusion.classifier.FusionClassifier` per fusion
strategy on the same train/validation/test split of a :class:`~mmdemo.training.dataset.FeatureSet`
and returns a :class:`TrainResult` per strategy: the model (with the weights of its best
validation epoch), the per-epoch history and the settings. A ``progress`` callback receives a
:class:`TrainProgress` after every epoch (the UI maps ``fraction`` to its progress bar; raising
from the callback stops training).

Each strategy's run seeds torch's generator with ``config.seed`` inside ``torch.random.fork_rng``
(initialisation, shuffling, dropout and augmentation are reproducible and the caller's random
state is left untouched), so two runs with the same seed, data and config give identical weights.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdemo.training.metrics import accuracy
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.fusion.config import FusionConfig, check_fields
from mmdemo.errors import ConfigError
from mmdemo.fusion.registry import build_fusion, get_fusion_spec, parse_strategies
from mmdemo.training.augment import add_feature_noise, drop_modalities
from mmdemo.training.dataset import EncoderInfo, FeatureSet
from mmdemo.training.optim import OPTIMIZERS, SCHEDULES, build_optimizer, build_scheduler
from mmdemo.training.split import DataSplit, split_features
from mmdemo.training.threads import torch_threads

logger = logging.getLogger(__name__)

MONITORS = ("val_loss", "val_accuracy")
EVAL_BATCH = 1024


@dataclass
class TrainConfig:
    """Settings of a training run (every strategy of a comparison uses the same ones).

    Attributes:
        epochs: maximum number of passes over the training set (default 30).
        batch_size: samples per optimiser step (default 32).
        optimizer: ``"adam"``, ``"adamw"`` (default), ``"sgd"`` or ``"rmsprop"``.
        lr: base learning rate (default 1e-3).
        weight_decay: L2 regularisation strength passed to the optimiser; AdamW applies it
            decoupled from the gradient (default 1e-4).
        l1: L1 penalty on all weight matrices (parameters with 2+ dims), added to the loss
            (default 0, off).
        momentum: momentum of SGD and RMSprop (default 0.9).
        schedule: learning-rate schedule: ``"none"`` (default), ``"step"`` or ``"cosine"``.
        step_size: epochs between decays of the step schedule (default 10).
        step_gamma: decay factor of the step schedule (default 0.5).
        warmup_epochs: linear warm-up epochs of the cosine schedule (default 1).
        min_lr_ratio: final learning rate of the cosine schedule, as a fraction of ``lr`` (default 0).
        feature_noise: Gaussian noise added to training embeddings, as a fraction of each
            embedding's RMS value (default 0, off; 0.1-0.5 is a useful range).
        modality_dropout: probability of removing each modality from a training sample, never all
            of them, so the head learns to cope with absent inputs (default 0, off).
        patience: stop after this many epochs without a better validation score (default 10;
            0 disables early stopping). Without a validation set it is ignored.
        monitor: validation score that early stopping and best-epoch selection use:
            ``"val_loss"`` (default) or ``"val_accuracy"``.
        restore_best: keep the weights of the best validation epoch (default True).
        grad_clip: clip the gradient norm to this value (default 5.0; 0 disables).
        val_fraction: share of samples held out for validation when no split is given (0.15).
        test_fraction: share of samples held out for testing when no split is given (0.15).
        seed: seed of initialisation, shuffling, dropout, augmentation and the split (default 0).
        threads: torch CPU threads while training (default 1: heads this small train several
            times faster single-threaded, see :mod:`mmdemo.training.threads`); None keeps
            torch's setting. The setting is process-wide and restored when training ends.
        fusion: fusion hyperparameters; ``modalities`` is filled from the features (see
            :class:`~mmdemo.fusion.config.FusionConfig` for its defaults).
        strategy_lr: strategy -> learning rate used instead of ``lr`` for that strategy (default
            empty: every strategy uses ``lr``). A trained head's config records the rate it used.
    """

    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    l1: float = 0.0
    momentum: float = 0.9
    schedule: str = "none"
    step_size: int = 10
    step_gamma: float = 0.5
    warmup_epochs: int = 1
    min_lr_ratio: float = 0.0
    feature_noise: float = 0.0
    modality_dropout: float = 0.0
    patience: int = 10
    monitor: str = "val_loss"
    restore_best: bool = True
    grad_clip: float = 5.0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    threads: int | None = 1
    fusion: FusionConfig = field(default_factory=FusionConfig)
    strategy_lr: dict[str, float] = field(default_factory=dict)

    def lr_for(self, strategy: str) -> float:
        """The learning rate ``strategy`` trains with: its ``strategy_lr`` entry, else ``lr``."""
        return float(self.strategy_lr.get(strategy, self.lr))

    def validate(self) -> TrainConfig:
        """Check the settings; raise ConfigError naming the bad value and the valid choices."""
        if self.optimizer.lower() not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if self.monitor not in MONITORS:
            raise ConfigError(f"unknown monitor {self.monitor!r}; valid: {', '.join(MONITORS)}")
        for name in ("epochs", "batch_size", "step_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("patience", "warmup_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        for name in ("weight_decay", "l1", "momentum", "feature_noise", "grad_clip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("modality_dropout", "min_lr_ratio", "step_gamma"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads must be a positive integer or None, got {self.threads!r}")
        if self.modality_dropout == 1.0:
            raise ConfigError("modality_dropout must be below 1")
        for name, value in self.strategy_lr.items():
            get_fusion_spec(name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigError(f"strategy_lr[{name!r}] must be a positive number, got {value!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the fusion config as a nested dict)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config written by :meth:`to_dict`; unknown keys raise ConfigError."""
        check_fields(cls, data)
        values = dict(data)
        values["fusion"] = FusionConfig.from_dict(values.get("fusion", {}))
        return cls(**values)


@dataclass
class EpochRecord:
    """One epoch of training.

    Attributes:
        epoch: 1-based epoch number.
        train_loss: mean cross-entropy over the training batches (without the L1 term).
        val_loss: mean cross-entropy on the validation set (None without one).
        val_accuracy: validation accuracy averaged over tasks (None without a validation set).
        lr: learning rate at the end of the epoch.
        seconds: wall time of the epoch.
    """

    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainProgress:
    """Sent to the progress callback after each epoch."""

    strategy: str
    strategy_index: int
    n_strategies: int
    epochs: int
    record: EpochRecord

    @property
    def fraction(self) -> float:
        """Overall progress of the whole ``train_heads`` call in [0, 1]."""
        return (self.strategy_index + self.record.epoch / self.epochs) / self.n_strategies

    def describe(self) -> str:
        """One line for logs and progress bars."""
        text = f"{self.strategy} epoch {self.record.epoch}/{self.epochs} train loss {self.record.train_loss:.4f}"
        if self.record.val_loss is not None:
            text += f", val loss {self.record.val_loss:.4f}, val acc {self.record.val_accuracy:.3f}"
        return text


ProgressCallback = Callable[[TrainProgress], None]


@dataclass
class TrainResult:
    """A trained head and how it was trained.

    Attributes:
        strategy: fusion registry name.
        model: the trained classifier, in eval mode (weights of ``best_epoch``).
        config: the settings used, with ``fusion`` as built (modalities and overrides filled in).
        history: one record per epoch run.
        best_epoch: the epoch whose weights the model holds.
        stopped_early: True when early stopping ended the run before ``config.epochs``.
        seconds: total training time.
        split: the sample indices used for training, validation and test.
        label_names: task -> class names.
        encoders: modality -> encoder that produced the features (empty for synthetic data).
    """

    strategy: str
    model: FusionClassifier
    config: TrainConfig
    history: list[EpochRecord]
    best_epoch: int
    stopped_early: bool
    seconds: float
    split: DataSplit
    label_names: dict[str, list[str]]
    encoders: dict[str, EncoderInfo]

    @property
    def n_parameters(self) -> int:
        """Trainable parameters of the model."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @property
    def title(self) -> str:
        return get_fusion_spec(self.strategy).title


def task_loss(logits: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
    """Mean over tasks of the cross-entropy on the labelled samples (targets >= 0)."""
    losses = []
    for task, task_logits in logits.items():
        labelled = targets[task] >= 0
        if labelled.any():
            losses.append(F.cross_entropy(task_logits[labelled], targets[task][labelled]))
    if not losses:
        return next(iter(logits.values())).sum() * 0.0  # no labels in this batch: zero, keeps the graph
    return torch.stack(losses).mean()


@torch.no_grad()
def _validate(model: FusionClassifier, features: FeatureSet, indices: Tensor) -> tuple[float, float]:
    """Validation loss and task-averaged accuracy."""
    model.eval()
    loss_sum, count = 0.0, 0
    predictions: dict[str, list[Tensor]] = {task: [] for task in model.tasks}
    for start in range(0, len(indices), EVAL_BATCH):
        chunk = indices[start : start + EVAL_BATCH]
        embeddings, masks, targets = features.batch(chunk)
        logits = model(embeddings, masks).logits
        loss_sum += float(task_loss(logits, targets)) * len(chunk)
        count += len(chunk)
        for task, task_logits in logits.items():
            predictions[task].append(task_logits.argmax(dim=1))
    scores = [
        accuracy(features.targets[task][indices], torch.cat(predictions[task])) for task in model.tasks
    ]
    defined = [score for score in scores if not math.isnan(score)]
    return loss_sum / count, (sum(defined) / len(defined) if defined else float("nan"))


def _l1_penalty(model: FusionClassifier) -> Tensor:
    return sum(p.abs().sum() for p in model.parameters() if p.requires_grad and p.dim() >= 2)


def config_split(features: FeatureSet, config: TrainConfig) -> DataSplit:
    """The split ``config`` asks for: its validation and test fractions and its seed."""
    return split_features(features, val_fraction=config.val_fraction, test_fraction=config.test_fraction, seed=config.seed)


def train_head(
    features: FeatureSet,
    strategy: str,
    config: TrainConfig | None = None,
    *,
    split: DataSplit | None = None,
    progress: ProgressCallback | None = None,
    strategy_index: int = 0,
    n_strategies: int = 1,
    label: str | None = None,
) -> TrainResult:
    """Train one fusion strategy on ``features`` (see the module docstring).

    Args:
        features: the samples; every task in ``features.targets`` gets a head.
        strategy: a fusion registry name.
        config: settings (default ``TrainConfig()``).
        split: sample indices to use; default: :func:`config_split`.
        progress: called with a :class:`TrainProgress` after every epoch.
        strategy_index, n_strategies: position in a multi-strategy run (for ``fraction``).
        label: the name progress events carry (default ``strategy``; baselines pass theirs).
    """
    config = (config or TrainConfig()).validate()
    get_fusion_spec(strategy)
    config = replace(config, lr=config.lr_for(strategy))
    if split is None:
        split = config_split(features, config)
    started = time.perf_counter()
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        fusion = build_fusion(strategy, replace(config.fusion, modalities=features.dims))
        model = FusionClassifier(fusion, features.tasks, strategy)
        config = replace(config, fusion=fusion.config)
        history, best_epoch, stopped_early = _fit(model, features, split, config, label or strategy, progress,
                                                  strategy_index, n_strategies)
    model.eval()
    seconds = time.perf_counter() - started
    logger.info("trained %s in %.1fs (best epoch %d)", strategy, seconds, best_epoch)
    return TrainResult(
        strategy=strategy,
        model=model,
        config=config,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped_early,
        seconds=seconds,
        split=split,
        label_names={task: list(names) for task, names in features.label_names.items()},
        encoders=dict(features.encoders),
    )


def _fit(
    model: FusionClassifier,
    features: FeatureSet,
    split: DataSplit,
    config: TrainConfig,
    strategy: str,
    progress: ProgressCallback | None,
    strategy_index: int,
    n_strategies: int,
) -> tuple[list[EpochRecord], int, bool]:
    """The epoch loop; returns (history, best epoch, stopped early). Loads the best weights."""
    optimizer = build_optimizer(model.parameters(), config)
    steps_per_epoch = math.ceil(len(split.train) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    # Validation needs labelled samples; without any, the last epoch's weights are kept.
    has_val = any(bool((features.targets[task][split.val] >= 0).any()) for task in model.tasks)
    sign = 1.0 if config.monitor == "val_loss" else -1.0  # lower is better after the sign
    best_score, best_epoch, best_state = math.inf, 0, None
    history: list[EpochRecord] = []
    stopped_early = False
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = split.train[torch.randperm(len(split.train))]
        loss_sum = 0.0
        for start in range(0, len(order), config.batch_size):
            chunk = order[start : start + config.batch_size]
            embeddings, masks, targets = features.batch(chunk)
            embeddings = add_feature_noise(embeddings, config.feature_noise)
            masks = drop_modalities(masks, config.modality_dropout)
            loss = task_loss(model(embeddings, masks).logits, targets)
            total = loss + config.l1 * _l1_penalty(model) if config.l1 > 0 else loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(chunk)
        val_loss, val_accuracy = _validate(model, features, split.val) if has_val else (None, None)
        record = EpochRecord(
            epoch=epoch,
            train_loss=loss_sum / len(order),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=optimizer.param_groups[0]["lr"],
            seconds=time.perf_counter() - epoch_start,
        )
        history.append(record)
        if progress is not None:
            progress(TrainProgress(strategy, strategy_index, n_strategies, config.epochs, record))
        if not has_val:
            best_epoch = epoch
            continue
        score = sign * (val_loss if config.monitor == "val_loss" else val_accuracy)
        if score < best_score:
            best_score, best_epoch = score, epoch
            if config.restore_best:
                best_state = copy.deepcopy(model.state_dict())
        elif config.patience and epoch - best_epoch >= config.patience:
            stopped_early = epoch < config.epochs
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    elif has_val and not config.restore_best:
        best_epoch = history[-1].epoch
    return history, best_epoch, stopped_early


def train_heads(
    features: FeatureSet,
    strategies: str | list[str],
    config: TrainConfig | None = None,
    *,
    split: DataSplit | None = None,
    progress: ProgressCallback | None = None,
) -> list[TrainResult]:
    """Train several strategies (names, or ``"concat,gmu"``, or ``"all"``) on one shared split.

    Returns one TrainResult per strategy, in the order given. See :func:`train_head`.
    """
    names = parse_strategies(strategies)
    config = (config or TrainConfig()).validate()
    if split is None:
        split = config_split(features, config)
    return [
        train_head(features, name, config, split=split, progress=progress, strategy_index=index, n_strategies=len(names))
        for index, name in enumerate(names)
    ]
