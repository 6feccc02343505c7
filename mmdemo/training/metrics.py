"""Classification metrics: accuracy, macro-F1, AUROC and the confusion matrix.

All functions take torch tensors: ``targets`` ``[N]`` class indices (entries < 0 are unlabelled
and ignored), ``predictions`` ``[N]`` class indices, ``probabilities`` ``[N, C]``.
Conventions (the same as scikit-learn's defaults):

- macro-F1 averages the per-class F1 over classes that occur in the targets or the predictions; a
  class with no true and no predicted positive has no F1 and is left out.
- AUROC is the binary AUROC of class 1 for two classes, and otherwise the unweighted mean of the
  one-vs-rest AUROCs of the classes that have both positive and negative samples; ties count
  half (Mann-Whitney). It is NaN when no class qualifies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ClassificationMetrics:
    """Metrics of one task on one set of samples.

    Attributes:
        accuracy: fraction of correct predictions.
        macro_f1: macro-averaged F1 (see the module docstring).
        auroc: AUROC (NaN when undefined).
        confusion: ``[C, C]`` counts, rows = true class, columns = predicted class.
        labels: class names (rows/columns of ``confusion``).
        n: number of labelled samples scored.
    """

    accuracy: float
    macro_f1: float
    auroc: float
    confusion: list[list[int]]
    labels: list[str]
    n: int

    def to_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "auroc": None if math.isnan(self.auroc) else self.auroc,
            "confusion": self.confusion,
            "labels": self.labels,
            "n": self.n,
        }


def _labelled(targets: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    keep = targets >= 0
    return (targets[keep], *(other[keep] for other in others))


def accuracy(targets: Tensor, predictions: Tensor) -> float:
    """Fraction of labelled samples whose prediction equals the target (NaN with none)."""
    targets, predictions = _labelled(targets, predictions)
    if len(targets) == 0:
        return float("nan")
    return float((targets == predictions).float().mean())


def confusion_matrix(targets: Tensor, predictions: Tensor, n_classes: int) -> Tensor:
    """``[C, C]`` long tensor of counts; rows = true class, columns = predicted class."""
    targets, predictions = _labelled(targets, predictions)
    flat = targets.long() * n_classes + predictions.long()  # [N] index into the flattened matrix
    return torch.bincount(flat, minlength=n_classes * n_classes).view(n_classes, n_classes)


def macro_f1(targets: Tensor, predictions: Tensor, n_classes: int) -> float:
    """Macro-averaged F1 over the classes present in targets or predictions (NaN with none)."""
    matrix = confusion_matrix(targets, predictions, n_classes).double()
    true_positive = matrix.diag()
    actual = matrix.sum(dim=1)
    predicted = matrix.sum(dim=0)
    used = (actual + predicted) > 0
    if not used.any():
        return float("nan")
    f1 = 2 * true_positive / (actual + predicted).clamp_min(1)  # F1 = 2TP / (2TP + FP + FN)
    return float(f1[used].mean())


def binary_auroc(positive: Tensor, scores: Tensor) -> float:
    """AUROC of ``scores`` for the bool labels ``positive`` (NaN without both classes)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(scores.double())
    # Mann-Whitney U: (sum of positive ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: Tensor) -> Tensor:
    """1-based ranks with ties given their average rank."""
    _, inverse, counts = torch.unique(values, sorted=True, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, dim=0).double()  # rank of the last member of each tie group
    average = ends - (counts.double() - 1) / 2  # mean of ranks ends - counts + 1 .. ends
    return average[inverse]


def auroc(targets: Tensor, probabilities: Tensor) -> float:
    """Binary or macro one-vs-rest AUROC (see the module docstring)."""
    targets, probabilities = _labelled(targets, probabilities)
    n_classes = probabilities.shape[1]
    if n_classes == 2:
        return binary_auroc(targets == 1, probabilities[:, 1])
    scores = [binary_auroc(targets == c, probabilities[:, c]) for c in range(n_classes)]
    defined = [score for score in scores if not math.isnan(score)]
    return sum(defined) / len(defined) if defined else float("nan")


def classification_metrics(targets: Tensor, probabilities: Tensor, labels: list[str]) -> ClassificationMetrics:
    """All metrics for one task from targets ``[N]`` and class probabilities ``[N, C]``."""
    predictions = probabilities.argmax(dim=1)
    n_classes = len(labels)
    return ClassificationMetrics(
        accuracy=accuracy(targets, predictions),
        macro_f1=macro_f1(targets, predictions, n_classes),
        auroc=auroc(targets, probabilities),
        confusion=confusion_matrix(targets, predictions, n_classes).tolist(),
        labels=list(labels),
        n=int((targets >= 0).sum()),
    )
