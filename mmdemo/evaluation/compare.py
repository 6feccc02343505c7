"""Side-by-side comparison of fusion strategies trained on the same split.

:func:`compare_results` (after :func:`~mmdemo.training.trainer.train_heads`) and
:func:`compare_heads` (for saved heads) score every strategy on the same samples and return a
:class:`Comparison`: named rows for a table, per-strategy evaluations, ablations, mean modality
contributions, training histories, and a 2-D PCA map of each strategy's fused vectors.
:meth:`Comparison.figures` draws the plots (see :mod:`mmdemo.evaluation.plots`);
:func:`mmdemo.evaluation.report.write_report` writes markdown and PNG files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mmdemo.errors import ConfigError, IncompatibleError
from mmdemo.evaluation.ablation import ModalityAblation, modality_ablation
from mmdemo.evaluation.evaluate import ModelEvaluation, evaluate_model, mean_contributions
from mmdemo.evaluation.plots import ComparisonFigures, comparison_figures
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.fusion.registry import get_fusion_spec
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.head import FusionHead
from mmdemo.training.manifest import BadRow
from mmdemo.training.trainer import EpochRecord, TrainConfig, TrainResult

SUBSETS = ("test", "val", "train", "all")
PROJECTION = "PCA"


@dataclass
class Projection2D:
    """A 2-D map of fused vectors: ``points`` ``[n, 2]`` and the share of variance each axis explains."""

    points: Tensor
    explained: tuple[float, float]
    method: str = PROJECTION


def pca_2d(vectors: Tensor) -> Projection2D:
    """Project ``[n, D]`` vectors onto their first two principal components (centred SVD)."""
    centred = vectors.double() - vectors.double().mean(dim=0, keepdim=True)
    if centred.shape[0] < 2:
        return Projection2D(points=torch.zeros(centred.shape[0], 2), explained=(0.0, 0.0))
    _, singular, right = torch.linalg.svd(centred, full_matrices=False)  # right: [k, D]
    components = right[:2].T  # [D, <=2]
    points = centred @ components  # [n, <=2]
    if points.shape[1] < 2:
        points = torch.cat([points, torch.zeros(points.shape[0], 2 - points.shape[1], dtype=points.dtype)], dim=1)
    variance = singular.pow(2)
    total = float(variance.sum()) or 1.0
    explained = [float(v) / total for v in variance[:2]] + [0.0, 0.0]
    return Projection2D(points=points.float(), explained=(explained[0], explained[1]))


@dataclass
class StrategyReport:
    """Everything the comparison knows about one strategy.

    Attributes:
        strategy: registry name; ``title``: human-readable name.
        evaluation: scores and outputs on the compared samples.
        ablation: scores with modalities removed.
        contributions: mean per-modality contribution on the compared samples.
        contribution_kind: ``"gate"``, ``"attention"`` or ``"ablation"``.
        history: per-epoch training history (may be empty for heads saved without it).
        train_seconds: training time (None if unknown).
        best_epoch: epoch whose weights the head holds (None if unknown).
        n_parameters: trainable parameters.
        projection: 2-D map of the fused vectors.
    """

    strategy: str
    title: str
    evaluation: ModelEvaluation
    ablation: ModalityAblation
    contributions: dict[str, float]
    contribution_kind: str
    history: list[EpochRecord]
    train_seconds: float | None
    best_epoch: int | None
    n_parameters: int
    projection: Projection2D


@dataclass
class ComparisonRow:
    """One row of the comparison table (one strategy, one task)."""

    strategy: str
    task: str
    accuracy: float
    macro_f1: float
    auroc: float
    n_parameters: int
    train_seconds: float | None
    best_epoch: int | None


@dataclass
class Comparison:
    """Several strategies scored on the same samples.

    Attributes:
        strategies: one report per strategy, in training order.
        label_names: task -> class names.
        subset: which samples were scored (``"test"``, ``"val"``, ``"train"`` or ``"all"``).
        n_samples: how many samples were scored.
        source: where the features came from.
        bad_rows: manifest rows skipped when building the features.
        train_config: the shared training settings, if known.
        notes: remarks for the report (e.g. a fallback to another subset).
    """

    strategies: list[StrategyReport]
    label_names: dict[str, list[str]]
    subset: str
    n_samples: int
    source: str = ""
    bad_rows: list[BadRow] = field(default_factory=list)
    train_config: TrainConfig | None = None
    notes: list[str] = field(default_factory=list)
    projection_method: str = PROJECTION

    @property
    def tasks(self) -> list[str]:
        return list(self.label_names)

    def rows(self) -> list[ComparisonRow]:
        """Table rows: every strategy for every task."""
        return [
            ComparisonRow(
                strategy=report.strategy,
                task=task,
                accuracy=report.evaluation.metrics[task].accuracy,
                macro_f1=report.evaluation.metrics[task].macro_f1,
                auroc=report.evaluation.metrics[task].auroc,
                n_parameters=report.n_parameters,
                train_seconds=report.train_seconds,
                best_epoch=report.best_epoch,
            )
            for task in self.tasks
            for report in self.strategies
        ]

    def best(self, task: str | None = None, metric: str = "macro_f1") -> str:
        """The strategy with the highest ``metric`` (accuracy, macro_f1, auroc) on ``task``."""
        task = task or self.tasks[0]
        if metric not in ("accuracy", "macro_f1", "auroc"):
            raise ConfigError(f"unknown metric {metric!r}; valid: accuracy, macro_f1, auroc")
        scored = [(getattr(row, metric), row.strategy) for row in self.rows() if row.task == task]
        scored = [(value, name) for value, name in scored if not math.isnan(value)]
        if not scored:
            raise ConfigError(f"no strategy has a defined {metric} on task {task!r}")
        return max(scored, key=lambda pair: pair[0])[1]

    def figures(self, task: str | None = None) -> ComparisonFigures:
        """Matplotlib figures of the comparison (see :class:`~mmdemo.evaluation.plots.ComparisonFigures`)."""
        return comparison_figures(self, task)


def _report(
    model: FusionClassifier,
    features: FeatureSet,
    indices: Tensor,
    *,
    history: list[EpochRecord],
    train_seconds: float | None,
    best_epoch: int | None,
) -> StrategyReport:
    evaluation = evaluate_model(model, features, indices)
    return StrategyReport(
        strategy=model.strategy,
        title=get_fusion_spec(model.strategy).title,
        evaluation=evaluation,
        ablation=modality_ablation(model, features, indices, full=evaluation),
        contributions=mean_contributions(model, features, indices),
        contribution_kind=model.fusion.contribution_kind,
        history=list(history),
        train_seconds=train_seconds,
        best_epoch=best_epoch,
        n_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        projection=pca_2d(evaluation.fused),
    )


def compare_results(results: list[TrainResult], features: FeatureSet, *, subset: str = "test") -> Comparison:
    """Compare trained strategies on one part of their shared split.

    ``subset`` is ``"test"`` (default), ``"val"``, ``"train"`` or ``"all"``; an empty test or
    validation part falls back to the next one (noted in ``Comparison.notes``).
    """
    if not results:
        raise ConfigError("nothing to compare: no training results")
    if subset not in SUBSETS:
        raise ConfigError(f"unknown subset {subset!r}; valid: {', '.join(SUBSETS)}")
    split = results[0].split
    for result in results[1:]:
        if not all(torch.equal(getattr(result.split, part), getattr(split, part)) for part in ("train", "val", "test")):
            raise IncompatibleError(f"{result.strategy} was trained on another split than {results[0].strategy}")
    notes = []
    chosen = subset
    order = {"test": ["test", "val", "train"], "val": ["val", "train"], "train": ["train"], "all": ["all"]}[subset]
    for chosen in order:
        indices = torch.arange(len(features)) if chosen == "all" else getattr(split, chosen)
        if len(indices):
            break
    if chosen != subset:
        notes.append(f"the {subset} part of the split is empty; scores are on the {chosen} part")
    reports = [
        _report(
            result.model, features, indices,
            history=result.history, train_seconds=result.seconds, best_epoch=result.best_epoch,
        )
        for result in results
    ]
    return Comparison(
        strategies=reports,
        label_names=results[0].label_names,
        subset=chosen,
        n_samples=len(indices),
        source=features.source,
        bad_rows=list(features.bad_rows),
        train_config=results[0].config,
        notes=notes,
    )


def compare_heads(
    heads: list[FusionHead], features: FeatureSet, *, indices: Tensor | None = None, subset: str = "all"
) -> Comparison:
    """Compare saved heads on ``features`` (at ``indices``, default all samples).

    The heads must share their tasks and label names (the features' label names must match).
    """
    if not heads:
        raise ConfigError("nothing to compare: no heads")
    for head in heads:
        if head.label_names != features.label_names:
            raise IncompatibleError(
                f"the {head.strategy} head has labels {head.label_names}; the features have {features.label_names}"
            )
    if indices is None:
        indices = torch.arange(len(features))
    reports = [
        _report(
            head.model, features, indices,
            history=head.history, train_seconds=head.train_seconds,
            best_epoch=head.best_epoch,
        )
        for head in heads
    ]
    return Comparison(
        strategies=reports,
        label_names=dict(features.label_names),
        subset=subset,
        n_samples=len(indices),
        source=features.source,
        bad_rows=list(features.bad_rows),
        train_config=heads[0].train_config,
    )
