"""Figures of a :class:`~mmdemo.evaluation.compare.Comparison`, drawn with matplotlib's Agg backend.

Every function returns a ``matplotlib.figure.Figure`` attached to an Agg canvas (no pyplot, no
global figure state, safe from worker threads), which Gradio's ``gr.Plot`` displays directly and
:meth:`ComparisonFigures.save` writes as PNG.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmdemo.errors import ConfigError
from mmdemo.storage import atomic_write_bytes


MAX_LEGEND_CLASSES = 12
MAX_ANNOTATED_CLASSES = 12


class ComparisonLike(Protocol):
    """What the figures read of a comparison: :class:`mmdemo.evaluation.compare.Comparison`, whose
    module draws its figures with this one (so this module does not import it).

    ``strategies`` are its :class:`~mmdemo.evaluation.compare.StrategyReport` objects (their
    ``strategy``, ``history``, ``evaluation``, ``ablation`` and ``projection`` are drawn).
    """

    strategies: list[Any]
    label_names: dict[str, list[str]]
    subset: str
    n_samples: int
    projection_method: str

    @property
    def tasks(self) -> list[str]: ...


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on an Agg canvas."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _strategy_grid(comparison: ComparisonLike, max_columns: int = 4) -> tuple[Figure, list[Axes]]:
    """A figure with one panel per strategy (up to ``max_columns`` a row); unused panels hidden."""
    count = len(comparison.strategies)
    columns = min(max_columns, max(1, count))
    rows = math.ceil(count / columns)
    figure = new_figure(3.4 * columns, 3.2 * rows)
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for axis in axes[count:]:
        axis.set_visible(False)
    return figure, axes[:count]


def learning_curves(comparison: ComparisonLike) -> Figure:
    """Training loss, validation loss and validation accuracy per epoch, one line per strategy."""
    figure = new_figure(13, 3.8)
    axes = figure.subplots(1, 3)
    panels = [("train_loss", "training loss"), ("val_loss", "validation loss"), ("val_accuracy", "validation accuracy")]
    for axis, (field_name, title) in zip(axes, panels):
        drawn = False
        for report in comparison.strategies:
            points = [(r.epoch, getattr(r, field_name)) for r in report.history if getattr(r, field_name) is not None]
            if points:
                epochs, values = zip(*points)
                axis.plot(epochs, values, label=report.strategy, marker="." if len(points) < 30 else None)
                drawn = True
        axis.set_title(title)
        axis.set_xlabel("epoch")
        if not drawn:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return figure


def metric_bars(comparison: ComparisonLike, task: str) -> Figure:
    """Accuracy, macro-F1 and AUROC per strategy (grouped bars) on ``task``."""
    metrics = [("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("auroc", "AUROC")]
    names = [report.strategy for report in comparison.strategies]
    figure = new_figure(max(6.0, 1.1 * len(names) + 2), 4)
    axis = figure.subplots()
    width = 0.8 / len(metrics)
    for offset, (key, label) in enumerate(metrics):
        values = [getattr(report.evaluation.metrics[task], key) for report in comparison.strategies]
        positions = [i + (offset - 1) * width for i in range(len(names))]
        bars = axis.bar(positions, [0.0 if math.isnan(v) else v for v in values], width, label=label)
        for bar, value in zip(bars, values):
            text = "n/a" if math.isnan(value) else f"{value:.2f}"
            axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    axis.set_xticks(range(len(names)), names, rotation=20)
    axis.set_ylim(0, 1.08)
    axis.set_title(f"{task}: scores on {comparison.n_samples} {comparison.subset} samples")
    axis.legend(fontsize="small", loc="lower right")
    axis.grid(axis="y", alpha=0.3)
    return figure


def confusion_matrices(comparison: ComparisonLike, task: str) -> Figure:
    """One confusion matrix per strategy (rows: true class, columns: predicted class)."""
    labels = comparison.label_names[task]
    figure, axes = _strategy_grid(comparison)
    ticks = range(len(labels))
    short = [label if len(label) <= 10 else label[:9] + "…" for label in labels]
    for axis, report in zip(axes, comparison.strategies):
        matrix = report.evaluation.metrics[task].confusion
        axis.imshow(matrix, cmap="Blues")
        axis.set_title(f"{report.strategy} (acc {report.evaluation.metrics[task].accuracy:.2f})", fontsize="medium")
        axis.set_xticks(ticks, short, rotation=45, fontsize=7)
        axis.set_yticks(ticks, short, fontsize=7)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        if len(labels) <= MAX_ANNOTATED_CLASSES:
            peak = max(max(row) for row in matrix) or 1
            for i, row in enumerate(matrix):
                for j, count in enumerate(row):
                    colour = "white" if count > peak / 2 else "black"
                    axis.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    return figure


def fused_map(comparison: ComparisonLike, task: str) -> Figure:
    """Each strategy's fused vectors projected to 2-D by PCA, coloured by the true ``task`` label."""
    labels = comparison.label_names[task]
    figure, axes = _strategy_grid(comparison)
    colours = [f"C{i % 10}" for i in range(len(labels))]
    for axis, report in zip(axes, comparison.strategies):
        points = report.projection.points
        targets = report.evaluation.targets[task]
        unlabelled = targets < 0
        if unlabelled.any():
            axis.scatter(points[unlabelled, 0], points[unlabelled, 1], s=6, c="lightgray", label="unlabelled")
        for index, label in enumerate(labels):
            chosen = targets == index
            if chosen.any():
                axis.scatter(points[chosen, 0], points[chosen, 1], s=6, c=colours[index], label=label, alpha=0.75)
        first, second = report.projection.explained
        axis.set_title(report.strategy, fontsize="medium")
        axis.set_xlabel(f"PC1 ({first:.0%})", fontsize=8)
        axis.set_ylabel(f"PC2 ({second:.0%})", fontsize=8)
        axis.tick_params(labelsize=6)
    if len(labels) <= MAX_LEGEND_CLASSES:
        axes[0].legend(fontsize="x-small", markerscale=2)
    figure.suptitle(f"{comparison.projection_method} of fused vectors ({comparison.subset} samples), colour = {task}")
    return figure


def ablation_chart(comparison: ComparisonLike, task: str) -> Figure:
    """Accuracy of each strategy with all modalities and with each modality removed."""
    conditions = [row.condition for row in comparison.strategies[0].ablation.for_task(task)]
    figure = new_figure(max(6.0, 1.5 * len(conditions) + 2), 4)
    axis = figure.subplots()
    width = 0.8 / len(comparison.strategies)
    for offset, report in enumerate(comparison.strategies):
        values = {row.condition: row.accuracy for row in report.ablation.for_task(task)}
        positions = [i - 0.4 + (offset + 0.5) * width for i in range(len(conditions))]
        axis.bar(positions, [values.get(c, 0.0) for c in conditions], width, label=report.strategy)
    axis.set_xticks(range(len(conditions)), conditions)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("accuracy")
    axis.set_title(f"{task}: modality ablation")
    axis.legend(fontsize="x-small", ncols=2)
    axis.grid(axis="y", alpha=0.3)
    return figure


@dataclass
class ComparisonFigures:
    """The figures of a comparison for one task (matplotlib Figures the UI can show)."""

    task: str
    learning_curves: Figure
    metric_bars: Figure
    confusion_matrices: Figure
    fused_map: Figure
    ablation: Figure

    def as_dict(self) -> dict[str, Figure]:
        """Figure name -> Figure."""
        return {
            "learning_curves": self.learning_curves,
            "metric_bars": self.metric_bars,
            "confusion_matrices": self.confusion_matrices,
            "fused_map": self.fused_map,
            "ablation": self.ablation,
        }

    def save(self, folder: str | os.PathLike, suffix: str = "", skip: tuple[str, ...] = ()) -> dict[str, Path]:
        """Write each figure (except ``skip``) as ``<name><suffix>.png`` into ``folder``."""
        folder = Path(folder)
        return {
            name: atomic_write_bytes(folder / f"{name}{suffix}.png", figure_png(figure))
            for name, figure in self.as_dict().items()
            if name not in skip
        }


def comparison_figures(comparison: ComparisonLike, task: str | None = None) -> ComparisonFigures:
    """All figures of ``comparison`` for ``task`` (default: the first task)."""
    task = task or comparison.tasks[0]
    if task not in comparison.label_names:
        raise ConfigError(f"unknown task {task!r}; valid: {', '.join(comparison.tasks)}")
    return ComparisonFigures(
        task=task,
        learning_curves=learning_curves(comparison),
        metric_bars=metric_bars(comparison, task),
        confusion_matrices=confusion_matrices(comparison, task),
        fused_map=fused_map(comparison, task),
        ablation=ablation_chart(comparison, task),
    )


def robustness_figure(points: list[Any]) -> Figure:
    """Accuracy (mean over tasks) against the corruption level: one panel per corruption
    (rows: noise, missing) and modality (columns), one line per strategy (baselines dashed).

    ``points`` are :class:`~mmdemo.evaluation.robustness.RobustnessPoint` objects.
    """
    modalities = list(dict.fromkeys(p.modality for p in points))
    corruptions = list(dict.fromkeys(p.corruption for p in points))
    strategies = list(dict.fromkeys(p.strategy for p in points))
    figure = new_figure(3.6 * max(len(modalities), 1), 3.0 * max(len(corruptions), 1))
    axes = figure.subplots(max(len(corruptions), 1), max(len(modalities), 1), squeeze=False)
    for row, corruption in enumerate(corruptions):
        for column, modality in enumerate(modalities):
            axis = axes[row][column]
            for index, strategy in enumerate(strategies):
                chosen = [p for p in points if (p.strategy, p.modality, p.corruption) == (strategy, modality, corruption)]
                by_level: dict[float, list[float]] = {}
                for p in chosen:
                    by_level.setdefault(p.level, []).append(p.accuracy)
                levels = sorted(by_level)
                values = [sum(by_level[x]) / len(by_level[x]) for x in levels]
                axis.plot(levels, values, marker=".", label=strategy, color=f"C{index % 10}",
                          linestyle="--" if strategy.startswith("only_") else "-")
            axis.set_title(f"{modality}: {corruption}", fontsize="medium")
            axis.set_xlabel("noise std / feature std" if corruption == "noise" else "missing rate", fontsize=8)
            axis.set_ylabel("accuracy (mean over tasks)", fontsize=8)
            axis.grid(alpha=0.3)
    if strategies:
        axes[0][0].legend(fontsize="x-small")
    return figure
