"""Per-modality ablation: how a trained head scores when each modality is removed.

A modality is removed by masking it out for every sample (the head then uses its placeholder or
masking, exactly as for a sample that lacks the modality). With three or more modalities the
ablation also scores each modality on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from mmdemo.evaluation.evaluate import ModelEvaluation, evaluate_model
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.training.dataset import FeatureSet


@dataclass
class AblationRow:
    """Scores of one task under one condition.

    Attributes:
        condition: ``"all modalities"``, ``"without <m>"`` or ``"only <m>"``.
        removed: the modalities masked out.
        task: the task scored.
        accuracy, macro_f1, auroc: the scores (AUROC NaN when undefined).
        delta_accuracy: accuracy minus the accuracy with all modalities.
    """

    condition: str
    removed: tuple[str, ...]
    task: str
    accuracy: float
    macro_f1: float
    auroc: float
    delta_accuracy: float


@dataclass
class ModalityAblation:
    """All ablation rows of one head (``rows[0..T-1]`` are the full-model rows)."""

    strategy: str
    rows: list[AblationRow]

    def for_task(self, task: str) -> list[AblationRow]:
        return [row for row in self.rows if row.task == task]


def _conditions(modalities: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    conditions = [("all modalities", ())]
    conditions += [(f"without {name}", (name,)) for name in modalities]
    if len(modalities) >= 3:
        conditions += [(f"only {name}", tuple(m for m in modalities if m != name)) for name in modalities]
    return conditions


def modality_ablation(
    model: FusionClassifier,
    features: FeatureSet,
    indices: Tensor | None = None,
    *,
    full: ModelEvaluation | None = None,
) -> ModalityAblation:
    """Score ``model`` with all modalities, without each one, and (3+ modalities) with each alone.

    ``full`` may pass an already computed full-model evaluation of the same samples.
    """
    modalities = [name for name in model.modalities if name in features.embeddings]
    rows: list[AblationRow] = []
    baseline: dict[str, float] = {}
    for condition, removed in _conditions(modalities):
        evaluation = full if (not removed and full is not None) else evaluate_model(model, features, indices, removed=removed)
        for task, metrics in evaluation.metrics.items():
            if not removed:
                baseline[task] = metrics.accuracy
            delta = metrics.accuracy - baseline[task] if not math.isnan(metrics.accuracy) else float("nan")
            rows.append(
                AblationRow(condition, removed, task, metrics.accuracy, metrics.macro_f1, metrics.auroc, delta)
            )
    return ModalityAblation(strategy=model.strategy, rows=rows)
