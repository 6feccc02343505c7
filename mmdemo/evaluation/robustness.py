"""Robustness curves: test accuracy as one modality is corrupted or goes missing.

Two corruptions, each applied to one modality at a time, on the scored samples only:

- ``"noise"``: Gaussian noise added to the modality's embeddings, its std ``level`` times the
  features' std (the standard deviation of all that modality's present embedding values on the
  scored samples), so a level of 1 adds noise as large as the signal's spread;
- ``"missing"``: each sample loses the modality with probability ``level`` (its mask is cleared,
  the head then treats it as absent, exactly like a sample without it).

The noise and the masks come from a generator seeded with ``seed`` (the same draws for every
strategy, so curves are paired). A head that does not read a modality (a baseline over another
modality) has a flat curve for it: its inputs do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from mmdemo.errors import ConfigError
from mmdemo.evaluation.evaluate import evaluate_model
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.training.dataset import FeatureSet

CORRUPTIONS = ("noise", "missing")
NOISE_LEVELS = (0.0, 0.5, 1.0, 2.0)
MISSING_RATES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class RobustnessPoint:
    """Accuracy of one head on one task with one modality corrupted at one level."""

    strategy: str
    modality: str
    corruption: str
    level: float
    task: str
    accuracy: float

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def corrupt(features: FeatureSet, modality: str, corruption: str, level: float, *, seed: int = 0) -> FeatureSet:
    """A copy of ``features`` with ``modality`` corrupted (see the module docstring)."""
    if corruption not in CORRUPTIONS:
        raise ConfigError(f"unknown corruption {corruption!r}; valid: {', '.join(CORRUPTIONS)}")
    if modality not in features.embeddings:
        raise ConfigError(f"the features have no modality {modality!r}; they have {', '.join(features.modalities)}")
    if level < 0 or (corruption == "missing" and level > 1):
        raise ConfigError(f"{corruption} level must be in [0, {'1' if corruption == 'missing' else 'inf'}), got {level!r}")
    if level == 0:
        return features
    generator = torch.Generator().manual_seed(seed)
    values, mask = features.embeddings[modality], features.masks[modality]
    if corruption == "noise":
        present = values[mask]
        std = float(present.std()) if present.numel() > 1 else 0.0
        noisy = values + level * std * torch.randn(values.shape, generator=generator)
        return replace(features, embeddings={**features.embeddings, modality: noisy})
    dropped = torch.rand(mask.shape, generator=generator) < level
    return replace(features, masks={**features.masks, modality: mask & ~dropped})


def robustness_curves(
    models: dict[str, FusionClassifier],
    features: FeatureSet,
    indices: Tensor,
    *,
    noise_levels: tuple[float, ...] = NOISE_LEVELS,
    missing_rates: tuple[float, ...] = MISSING_RATES,
    seed: int = 0,
) -> list[RobustnessPoint]:
    """Accuracy of every named model on the samples at ``indices`` with each modality of
    ``features`` corrupted by each corruption at each level."""
    scored = features.subset(indices)
    everything = torch.arange(len(scored))
    points: list[RobustnessPoint] = []
    for modality in features.modalities:
        for corruption, levels in (("noise", noise_levels), ("missing", missing_rates)):
            for level in levels:
                corrupted = corrupt(scored, modality, corruption, level, seed=seed)
                for name, model in models.items():
                    evaluation = evaluate_model(model, corrupted, everything)
                    points += [RobustnessPoint(name, modality, corruption, float(level), task, m.accuracy)
                               for task, m in evaluation.metrics.items()]
    return points
