"""The comparison report: a markdown file with tables and the figures as PNG files beside it."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from mmdemo.evaluation.compare import Comparison
from mmdemo.evaluation.plots import figure_png, robustness_figure
from mmdemo.evaluation.seeds import SeedStudy, study_markdown
from mmdemo.storage import atomic_write_bytes

REPORT_FILE = "report.md"
FIGURE_TITLES = {
    "learning_curves": "Learning curves",
    "metric_bars": "Scores",
    "confusion_matrices": "Confusion matrices",
    "fused_map": "2-D map of the fused vectors (PCA)",
    "ablation": "Modality ablation",
    "robustness": "Robustness: accuracy as one modality is corrupted (mean over seeds and tasks)",
}


@dataclass
class ReportFiles:
    """Paths of a written report: the markdown file and figure name -> PNG path."""

    markdown: Path
    figures: dict[str, Path]


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def score_table(comparison: Comparison, task: str) -> str:
    """The markdown score table of ``task``: one row per strategy."""
    rows = [
        [row.strategy, _number(row.accuracy), _number(row.macro_f1), _number(row.auroc), str(row.n_parameters),
         _number(row.train_seconds, 1), str(row.best_epoch if row.best_epoch is not None else "n/a")]
        for row in comparison.rows() if row.task == task
    ]
    return "\n".join(_table(["strategy", "accuracy", "macro-F1", "AUROC", "parameters", "train s", "best epoch"], rows))


def comparison_markdown(
    comparison: Comparison,
    figure_files: dict[str, Path] | None = None,
    title: str = "Fusion strategy comparison",
    extra_sections: list[str] | None = None,
    study: SeedStudy | None = None,
) -> str:
    """The report as markdown; ``figure_files`` (name -> path, linked by file name) are embedded and
    ``extra_sections`` (markdown) are added before the skipped-rows list."""
    lines = [f"# {title}", ""]
    lines.append(f"- data: `{comparison.source or 'unknown'}`")
    lines.append(f"- scored on: {comparison.n_samples} {comparison.subset} samples")
    lines.append("- tasks: " + ", ".join(f"{task} ({len(names)} classes)" for task, names in comparison.label_names.items()))
    if comparison.train_config is not None:
        config = comparison.train_config
        lines.append(
            f"- training: {config.optimizer}, lr {config.lr}, batch {config.batch_size}, up to {config.epochs} epochs, "
            f"schedule {config.schedule}, weight decay {config.weight_decay}, L1 {config.l1}, feature noise "
            f"{config.feature_noise}, modality dropout {config.modality_dropout}, patience {config.patience}, seed {config.seed}"
        )
    lines += [f"- note: {note}" for note in comparison.notes]
    if study is not None:
        lines += ["", study_markdown(study)]
        if len(study.seeds) > 1:
            lines += ["", f"The sections below show the heads of the first seed ({study.seeds[0]}), the ones saved."]
    for task in comparison.tasks:
        lines += ["", f"## Scores: {task}", "", score_table(comparison, task)]
        lines += ["", f"Best macro-F1: **{comparison.best(task)}**" if _has_f1(comparison, task) else ""]
        lines += ["", f"### Modality ablation: {task} (accuracy; change vs all modalities)", ""]
        conditions = [row.condition for row in comparison.strategies[0].ablation.for_task(task)]
        rows = []
        for report in comparison.strategies:
            cells = {row.condition: row for row in report.ablation.for_task(task)}
            rows.append([report.strategy] + [
                _number(cells[c].accuracy) + ("" if c == "all modalities" else f" ({cells[c].delta_accuracy:+.3f})")
                for c in conditions
            ])
        lines += _table(["strategy"] + conditions, rows)
    lines += ["", "## Mean modality contributions", ""]
    lines.append(
        "Gate values (GMU) and attention weights (attention) sum to 1 over the present modalities; for the other "
        "strategies a contribution is the drop in the predicted class's probability when the modality is removed."
    )
    lines.append("")
    modalities = list(dict.fromkeys(name for report in comparison.strategies for name in report.contributions))
    rows = [
        [report.strategy, report.contribution_kind] + [_number(report.contributions.get(name)) for name in modalities]
        for report in comparison.strategies
    ]
    lines += _table(["strategy", "kind"] + modalities, rows)
    if figure_files:
        lines += ["", "## Figures"]
        for name, path in figure_files.items():
            base = name.split(":")[0]
            caption = FIGURE_TITLES.get(base, base) + (f" ({name.split(':')[1]})" if ":" in name else "")
            lines += ["", f"### {caption}", "", f"![{caption}]({path.name})"]
        lines += ["", f"The 2-D maps are {comparison.projection_method} projections of each strategy's fused vectors "
                  "(each strategy has its own axes); axis labels give the share of variance explained."]
    for section in extra_sections or []:
        lines += ["", section.strip()]
    if comparison.bad_rows:
        lines += ["", f"## Skipped manifest rows ({len(comparison.bad_rows)})", ""]
        lines += [f"- {bad}" for bad in comparison.bad_rows[:100]]
        if len(comparison.bad_rows) > 100:
            lines.append(f"- ... and {len(comparison.bad_rows) - 100} more")
    return "\n".join(lines).rstrip() + "\n"


def _has_f1(comparison: Comparison, task: str) -> bool:
    return any(not math.isnan(row.macro_f1) for row in comparison.rows() if row.task == task)


def write_report(
    comparison: Comparison,
    folder: str | os.PathLike,
    *,
    title: str = "Fusion strategy comparison",
    extra_sections: list[str] | None = None,
    study: SeedStudy | None = None,
) -> ReportFiles:
    """Write ``report.md`` and the figures (PNG) into ``folder``; with a multi-seed ``study``
    its section (intervals, baselines, tests, costs) comes first and ``robustness.png`` is added.

    With one task figures are ``<name>.png``; with several, each task's are ``<name>_<task>.png``
    (the learning curves, shared by all tasks, once).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figure_files: dict[str, Path] = {}
    several = len(comparison.tasks) > 1
    for index, task in enumerate(comparison.tasks):
        figures = comparison.figures(task)
        if index == 0:  # the learning curves do not depend on the task: written once, without suffix
            figure_files["learning_curves"] = atomic_write_bytes(
                folder / "learning_curves.png", figure_png(figures.learning_curves)
            )
        saved = figures.save(folder, suffix=f"_{task}" if several else "", skip=("learning_curves",))
        figure_files.update({f"{name}:{task}" if several else name: path for name, path in saved.items()})
    if study is not None and study.robustness:
        figure_files["robustness"] = atomic_write_bytes(
            folder / "robustness.png", figure_png(robustness_figure(study.aggregated_robustness()))
        )
    text = comparison_markdown(comparison, figure_files, title, extra_sections, study)
    markdown = atomic_write_bytes(folder / REPORT_FILE, text.encode("utf-8"))
    return ReportFiles(markdown=markdown, figures=figure_files)
