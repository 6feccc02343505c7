"""The data of a comparison's interactive figures: tidy tables (pandas DataFrames) that the app's
native plots (``gr.LinePlot``, ``gr.BarPlot``, ``gr.ScatterPlot``) draw with hover values, zoom and
legend toggles, per task.

:mod:`mmdemo.evaluation.plots` draws the same comparisons as static PNGs for the report and the
download; this module only reshapes what the comparison and the multi-seed study already hold
(no new numbers), one function per figure, and :func:`task_figures` gathers them for one task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mmdemo.errors import ConfigError
from mmdemo.evaluation.compare import Comparison
from mmdemo.evaluation.seeds import SeedStudy

CURVES = {"train_loss": "training loss", "val_loss": "validation loss", "val_accuracy": "validation accuracy"}
MAX_CELLS_CLASSES = 3  # up to this many classes every confusion cell is a segment; above, right / wrong per class
# (a native plot's legend is one row: beyond about ten short entries it is cut off)
METRIC_COLUMNS = ["strategy", "accuracy", "kind", "std", "95% low", "95% high", "macro-F1", "seeds"]
CONFUSION_COLUMNS = ["strategy", "count", "cell"]
FUSED_COLUMNS = ["PC1", "PC2", "label", "strategy"]
ABLATION_COLUMNS = ["condition", "accuracy", "strategy"]
ROBUSTNESS_COLUMNS = ["level", "accuracy", "strategy", "modality"]


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


def learning_curve_frames(comparison: Comparison) -> dict[str, pd.DataFrame]:
    """Curve title (:data:`CURVES`) -> ``[epoch, value, strategy]``: one line per strategy (the
    histories are shared by all tasks: validation accuracy is their mean)."""
    frames = {}
    for field_name, title in CURVES.items():
        records = [{"epoch": record.epoch, "value": round(float(getattr(record, field_name)), 5), "strategy": report.strategy}
                   for report in comparison.strategies for record in report.history
                   if getattr(record, field_name) is not None]
        frames[title] = pd.DataFrame(records, columns=["epoch", "value", "strategy"])
    return frames


def metric_frame(comparison: Comparison, study: SeedStudy | None, task: str) -> pd.DataFrame:
    """Mean accuracy per strategy and baseline on ``task``, best first, with the std, the 95 %
    t-interval and macro-F1 over seeds (from ``study``; without one, the comparison's single scores)."""
    if study is None:
        records = [{"strategy": row.strategy, "accuracy": _number(row.accuracy), "kind": "fusion", "std": None,
                    "95% low": None, "95% high": None, "macro-F1": _number(row.macro_f1), "seeds": 1}
                   for row in comparison.rows() if row.task == task]
        return pd.DataFrame(records, columns=METRIC_COLUMNS)
    records = []
    for row in study.ranking(task):
        accuracy = row.summaries["accuracy"]
        records.append({"strategy": row.strategy, "accuracy": _number(accuracy.mean),
                        "kind": "baseline" if row.baseline else "fusion", "std": _number(accuracy.std),
                        "95% low": _number(accuracy.low), "95% high": _number(accuracy.high),
                        "macro-F1": _number(row.summaries["macro_f1"].mean), "seeds": accuracy.n})
    return pd.DataFrame(records, columns=METRIC_COLUMNS)


def confusion_title(comparison: Comparison, task: str) -> str:
    """What a segment of :func:`confusion_frame` means (its legend's title)."""
    if len(comparison.label_names[task]) <= MAX_CELLS_CLASSES:
        return "true class → predicted class"
    return "true class: ✓ predicted right, ✗ wrong"


def confusion_frame(comparison: Comparison, task: str) -> pd.DataFrame:
    """One stacked bar per strategy: its scored samples split by (true, predicted) class, every cell
    up to :data:`MAX_CELLS_CLASSES` classes, else right / wrong per true class (see :func:`confusion_title`)."""
    labels = comparison.label_names[task]
    records = []
    for report in comparison.strategies:
        matrix = report.evaluation.metrics[task].confusion
        for i, row in enumerate(matrix):
            if len(labels) <= MAX_CELLS_CLASSES:
                records += [{"strategy": report.strategy, "count": int(count), "cell": f"{labels[i]} → {labels[j]}"}
                            for j, count in enumerate(row)]
            else:
                right = int(row[i])
                records += [{"strategy": report.strategy, "count": right, "cell": f"{labels[i]} ✓"},
                            {"strategy": report.strategy, "count": int(sum(row)) - right, "cell": f"{labels[i]} ✗"}]
    return pd.DataFrame(records, columns=CONFUSION_COLUMNS)


def fused_frame(comparison: Comparison, task: str) -> pd.DataFrame:
    """Every strategy's fused vectors on its 2-D PCA map, labelled by the true ``task`` class
    ("unlabelled" where the sample has none); filter by ``strategy`` to draw one map."""
    labels = comparison.label_names[task]
    records = []
    for report in comparison.strategies:
        points = report.projection.points.tolist()
        targets = report.evaluation.targets[task].tolist()
        records += [{"PC1": round(x, 4), "PC2": round(y, 4), "label": labels[t] if t >= 0 else "unlabelled",
                     "strategy": report.strategy} for (x, y), t in zip(points, targets)]
    return pd.DataFrame(records, columns=FUSED_COLUMNS)


def ablation_frame(comparison: Comparison, task: str) -> pd.DataFrame:
    """Accuracy of each strategy with all modalities and with each one removed (or kept alone)."""
    records = [{"condition": row.condition, "accuracy": _number(row.accuracy), "strategy": report.strategy}
               for report in comparison.strategies for row in report.ablation.for_task(task)]
    return pd.DataFrame(records, columns=ABLATION_COLUMNS)


def robustness_frame(study: SeedStudy | None, corruption: str, task: str) -> pd.DataFrame:
    """Accuracy on ``task`` (mean over seeds) per corruption level of each strategy and corrupted
    modality (filter by ``modality`` to draw one curve per strategy)."""
    points = [] if study is None else study.aggregated_robustness()
    records = [{"level": p.level, "accuracy": round(p.accuracy, 4), "strategy": p.strategy, "modality": p.modality}
               for p in points if p.corruption == corruption and p.task == task]
    return pd.DataFrame(records, columns=ROBUSTNESS_COLUMNS)


@dataclass
class TaskFigures:
    """The interactive figures' data of one task.

    Attributes:
        task: the task drawn.
        curves: curve title -> learning curves (shared by every task).
        metrics: mean accuracy per strategy with its seed interval (:func:`metric_frame`).
        confusion: the confusion cells per strategy (:func:`confusion_frame`); ``confusion_title``
            says what a cell is.
        fused: every strategy's PCA map (:func:`fused_frame`).
        explained: strategy -> share of variance of PC1 and PC2.
        ablation: :func:`ablation_frame`.
        noise, missing: robustness curves (:func:`robustness_frame`).
        modalities: the corrupted modalities of the robustness curves.
    """

    task: str
    curves: dict[str, pd.DataFrame]
    metrics: pd.DataFrame
    confusion: pd.DataFrame
    confusion_title: str
    fused: pd.DataFrame
    explained: dict[str, tuple[float, float]]
    ablation: pd.DataFrame
    noise: pd.DataFrame
    missing: pd.DataFrame

    @property
    def modalities(self) -> list[str]:
        return list(dict.fromkeys([*self.noise["modality"], *self.missing["modality"]]))

    def fused_of(self, strategy: str) -> pd.DataFrame:
        """The PCA map of one strategy."""
        return self.fused[self.fused["strategy"] == strategy].reset_index(drop=True)

    def robustness_of(self, corruption: str, modality: str) -> pd.DataFrame:
        """The ``"noise"`` or ``"missing"`` curves of every strategy with ``modality`` corrupted."""
        frame = self.noise if corruption == "noise" else self.missing
        return frame[frame["modality"] == modality].reset_index(drop=True)


def task_figures(comparison: Comparison, study: SeedStudy | None, task: str) -> TaskFigures:
    """Every interactive figure's data for ``task`` (ConfigError naming the tasks when unknown)."""
    if task not in comparison.label_names:
        raise ConfigError(f"unknown task {task!r}; valid: {', '.join(comparison.tasks)}")
    return TaskFigures(
        task=task,
        curves=learning_curve_frames(comparison),
        metrics=metric_frame(comparison, study, task),
        confusion=confusion_frame(comparison, task),
        confusion_title=confusion_title(comparison, task),
        fused=fused_frame(comparison, task),
        explained={report.strategy: report.projection.explained for report in comparison.strategies},
        ablation=ablation_frame(comparison, task),
        noise=robustness_frame(study, "noise", task),
        missing=robustness_frame(study, "missing", task),
    )
