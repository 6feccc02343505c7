"""Single-modality baselines: a head trained on one modality alone, with the fused heads' budget.

A baseline is not a fused head with inputs removed: it is a fresh classifier over that modality
only (the ``concat`` architecture with one input, i.e. an MLP on the modality's embedding, the
same width, epochs, optimiser, schedule and seed as the fused strategies), trained on the same
split. Its name is ``only_<modality>`` (e.g. ``only_image``).
"""

from __future__ import annotations

from dataclasses import replace

from mmdemo.errors import ConfigError
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.split import DataSplit
from mmdemo.training.trainer import ProgressCallback, TrainConfig, TrainResult, train_head

BASELINE_PREFIX = "only_"
BASELINE_ARCHITECTURE = "concat"


def baseline_name(modality: str) -> str:
    """``only_<modality>``: how tables and summaries name the baseline over ``modality``."""
    return f"{BASELINE_PREFIX}{modality}"


def is_baseline(name: str) -> bool:
    return name.startswith(BASELINE_PREFIX)


def single_modality(features: FeatureSet, modality: str) -> FeatureSet:
    """``features`` with only ``modality`` kept (same samples, targets and order)."""
    if modality not in features.embeddings:
        raise ConfigError(f"the features have no modality {modality!r}; they have {', '.join(features.modalities)}")
    return replace(
        features,
        embeddings={modality: features.embeddings[modality]},
        masks={modality: features.masks[modality]},
        encoders={k: v for k, v in features.encoders.items() if k == modality},
    )


def train_baseline(
    features: FeatureSet,
    modality: str,
    config: TrainConfig | None = None,
    *,
    split: DataSplit | None = None,
    progress: ProgressCallback | None = None,
    strategy_index: int = 0,
    n_strategies: int = 1,
) -> TrainResult:
    """Train the baseline over ``modality`` alone; its result's ``strategy`` is its baseline name
    (the model inside is a ``concat`` classifier over that one modality)."""
    result = train_head(single_modality(features, modality), BASELINE_ARCHITECTURE, config, split=split,
                        progress=progress, strategy_index=strategy_index, n_strategies=n_strategies,
                        label=baseline_name(modality))
    return replace(result, strategy=baseline_name(modality))
