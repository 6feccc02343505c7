"""The Fusion Lab tab: train several fusion strategies on one split and compare them.

The endpoint's parameters reach the handler by name (``inputs_kwargs``) and become one
:class:`LabRequest`; the handler returns each output by its component.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from gradio.events import Dependency

from mmdemo.evaluation.compare import Comparison
from mmdemo.evaluation.interactive import CURVES, TaskFigures, task_figures
from mmdemo.evaluation.seeds import SeedStudy
from mmdemo.fusion.registry import list_fusions
from mmdemo.lab import LAB_SEEDS, LAB_TRAIN_DEFAULTS, LAB_WORLD_SAMPLES, LabRun, prepare_data, run_lab, world_manifest
from mmdemo.training.catalog import head_name
from mmdemo.training.optim import OPTIMIZERS, SCHEDULES
from mmdemo.training.sources import world_models
from mmdemo.training.trainer import TrainConfig
from mmdemo.world.tasks import TASKS
from webapp.common import require, result_table, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings

BUNDLED_WORLD, UPLOAD = "bundled world", "upload"
DEFAULT_STRATEGIES = ["concat", "late", "gmu", "lmf", "attention"]
TABLE_HEADERS = ["strategy", "task", "accuracy", "macro-F1", "AUROC", "parameters", "seconds", "best epoch"]
SEED_TABLE_HEADERS = ["rank", "strategy", "task", "accuracy", "std", "95% interval", "macro-F1", "overlaps best",
                      "at chance", "parameters", "train s", "inference ms/sample", "peak memory KiB"]
WORLD_LABELS = list(TASKS)  # the bundled world's label columns
LABELS_LABEL = "Label columns (comma-separated; empty: all)"
WORLD_PLACEHOLDER = f"the bundled world's: {', '.join(WORLD_LABELS)}"
UPLOAD_PLACEHOLDER = "the label columns of your manifest (empty: every column that is not text, image or audio)"
WORLD_PROGRESS_STEPS = 100  # the world's generation reports about this many steps
PLOT_HEIGHT = 300


@dataclass(frozen=True)
class LabRequest:
    """One Fusion Lab run as the page asks for it.

    Attributes:
        source: ``"bundled world"`` (generated on the fly) or ``"upload"``.
        samples: how many bundled-world samples to generate.
        upload: the uploaded manifest or zip (None: nothing uploaded).
        label_columns: the manifest's label columns to train on (None: all).
        strategies: the fusion strategies to train and compare.
        config: the training settings every strategy uses.
        seeds: how many seeds every strategy (and baseline) is trained with.
        baselines: also train one single-modality baseline per modality.
    """

    source: str
    samples: int
    upload: str | None
    label_columns: list[str] | None
    strategies: list[str]
    config: TrainConfig
    seeds: int = LAB_SEEDS
    baselines: bool = True

    @classmethod
    def from_inputs(cls, *, source: str, samples: float, upload: str | None, labels: str, strategies: list[str],
                    epochs: float, batch_size: float, optimizer: str, lr: float, schedule: str,
                    weight_decay: float, l1: float, feature_noise: float, modality_dropout: float,
                    patience: float, seed: float, seeds: float = LAB_SEEDS, baselines: bool = True) -> LabRequest:
        """The request from the tab's input values, by the names the endpoint gives them (the
        settings the tab does not show, e.g. the monitor, are the Lab's defaults)."""
        config = replace(
            LAB_TRAIN_DEFAULTS,
            epochs=int(epochs), batch_size=int(batch_size), optimizer=optimizer, lr=float(lr),
            schedule=schedule, weight_decay=float(weight_decay), l1=float(l1),
            feature_noise=float(feature_noise), modality_dropout=float(modality_dropout),
            patience=int(patience), seed=int(seed),
        )
        label_columns = [c.strip() for c in (labels or "").split(",") if c.strip()] or None
        return cls(source, int(samples), upload, label_columns, list(strategies or []), config,
                   int(seeds), bool(baselines))


def comparison_table(comparison: Comparison) -> list[list[Any]]:
    """One row per strategy and task, in :data:`TABLE_HEADERS` order (NaN AUROC shown empty)."""
    return [[r.strategy, r.task, round(r.accuracy, 4), round(r.macro_f1, 4),
             None if r.auroc != r.auroc else round(r.auroc, 4), r.n_parameters,
             None if r.train_seconds is None else round(r.train_seconds, 2), r.best_epoch]
            for r in comparison.rows()]


def _rounded(value: float, digits: int = 4) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def seed_table(study: SeedStudy) -> list[list[Any]]:
    """The ranked multi-seed rows (strategies and baselines, per task), in :data:`SEED_TABLE_HEADERS` order."""
    costs = {c.strategy: c for c in study.complexity}
    rows = []
    for task in study.tasks:
        for row in study.ranking(task):
            accuracy, cost = row.summaries["accuracy"], costs.get(row.strategy)
            interval = "" if math.isnan(accuracy.low) else f"[{accuracy.low:.3f}, {accuracy.high:.3f}]"
            rows.append([row.rank, f"{row.strategy} (baseline)" if row.baseline else row.strategy, task,
                         _rounded(accuracy.mean), _rounded(accuracy.std), interval,
                         _rounded(row.summaries["macro_f1"].mean), "yes" if row.overlaps_best else "no",
                         "yes" if row.at_chance else "no",
                         cost.n_parameters if cost else None, round(cost.train_seconds, 2) if cost else None,
                         round(cost.inference_ms_per_sample, 4) if cost else None,
                         round(cost.peak_memory_bytes / 1024) if cost else None])
    return rows


def plural(count: int, noun: str) -> str:
    """``"1 strategy"``, ``"2 strategies"``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def run_summary(run: LabRun, task: str | None = None) -> str:
    """What was trained, on what, how fast, which strategy won on ``task`` (default: the first),
    and the rows that were skipped."""
    comparison = run.comparison
    task = task or comparison.tasks[0]
    tasks = f"task **{task}**" + (f" of {len(comparison.tasks)}: {', '.join(comparison.tasks)}"
                                  if len(comparison.tasks) > 1 else "")
    summary = (f"Trained {plural(len(run.heads), 'strategy')} on {comparison.n_samples} {comparison.subset} samples "
               f"scored ({tasks}) in {run.seconds:.1f} s. Best macro-F1: **{comparison.best(task)}**.")
    study = run.study
    if study is not None:
        summary += (f"\n\nAcross {plural(len(study.seeds), 'seed')} (mean, std and 95 % t-interval; paired t-test on "
                    "the per-seed accuracy differences): " + study.verdict(task))
        warnings = [line for line in study.chance_warnings() if f" on {task} (" in line]
        if warnings:
            summary += "\n\n" + "\n".join(f"- {line}" for line in warnings)
    if run.bad_rows:
        shown = "; ".join(str(bad) for bad in run.bad_rows[:10])
        summary += f"\n\nSkipped {len(run.bad_rows)} bad row(s): {shown}"
    return summary


@dataclass
class LabView:
    """What the page shows of a finished run, per task, kept in the visitor's session (a ``gr.State``)
    so that choosing another task or strategy redraws without training again."""

    tasks: list[str]
    strategies: list[str]
    summaries: dict[str, str]
    figures: dict[str, TaskFigures]

    @classmethod
    def of(cls, run: LabRun) -> LabView:
        tasks = run.comparison.tasks
        return cls(tasks, [r.strategy for r in run.comparison.strategies],
                   {task: run_summary(run, task) for task in tasks},
                   {task: task_figures(run.comparison, run.study, task) for task in tasks})


def data_name(request: LabRequest) -> str:
    """How the report, the summary and the heads' names call the data: ``"bundled world"`` or the
    uploaded file's own name (never the server's temporary path)."""
    if request.source == BUNDLED_WORLD:
        return BUNDLED_WORLD
    return Path(request.upload).name if request.upload else UPLOAD


def labels_box(source: str) -> gr.Textbox:
    """The label-columns box for a data choice: the bundled world's columns offered, or the upload's."""
    return gr.Textbox(placeholder=WORLD_PLACEHOLDER if source == BUNDLED_WORLD else UPLOAD_PLACEHOLDER)


def uploaded(upload: str | None) -> tuple[gr.Radio, gr.Textbox]:
    """A file was uploaded: the data choice switches to it."""
    source = UPLOAD if upload else BUNDLED_WORLD
    return gr.Radio(value=source), labels_box(source)


@dataclass(eq=False)  # hashed by identity, like gradio's components
class FusionLabTab:
    """The tab's outputs, the visitor's trained heads (a ``gr.State``), the handler and its event."""

    settings: AppSettings
    session_heads: gr.State
    view: gr.State
    summary: gr.Markdown
    task: gr.Dropdown
    table: gr.Dataframe
    seed_table: gr.Dataframe
    curves: dict[str, gr.LinePlot]  # curve title (CURVES) -> its plot
    bars: gr.BarPlot
    confusion: gr.BarPlot
    ablation: gr.LinePlot
    map_strategy: gr.Dropdown
    fused: gr.ScatterPlot
    corrupted: gr.Dropdown
    noise_plot: gr.LinePlot
    missing_plot: gr.LinePlot
    download: gr.File
    trained: Dependency | None = None  # the training event, for what should follow it (set by build)

    @user_errors
    def train_fusion_lab(self, progress: gr.Progress = gr.Progress(), *,
                         session_heads: dict[str, str] | None = None, upload: Any = None,
                         **inputs: Any) -> dict[gr.Component, Any]:
        """Train the chosen strategies on one split and compare them (``upload``: optional, so that
        gradio_client callers of the bundled world may leave it out)."""
        request = LabRequest.from_inputs(upload=upload, **inputs)
        if not request.strategies:
            raise gr.Error("Choose at least one fusion strategy.", print_exception=False)
        runs_dir = self.settings.runs_dir
        workdir = runs_dir / uuid.uuid4().hex[:12]
        progress(0.0, desc="preparing data")
        models = None  # an upload: the active preset's models
        if request.source == BUNDLED_WORLD:
            step = max(request.samples // WORLD_PROGRESS_STEPS, 1)

            def on_sample(done: int, total: int) -> None:
                if done % step == 0 or done == total:
                    progress((done, total), desc="generating the bundled world (once per size and seed)",
                             unit="samples")

            manifest = world_manifest(runs_dir / "worlds", request.samples, seed=request.config.seed, progress=on_sample)
            models = world_models()  # the bundled world is embedded by the models that know it
        else:
            require(request.upload, "a manifest (.csv / .jsonl) or a .zip of one with its files")
            manifest = prepare_data(request.upload, workdir)
        run = run_lab(manifest, request.strategies, request.config, out_dir=workdir / "run",
                      label_columns=request.label_columns, models=models, seeds=request.seeds, baselines=request.baselines,
                      progress=lambda event: progress(event.fraction, desc=event.message), source_name=data_name(request))
        view = LabView.of(run)
        when = datetime.now()
        new_heads = {head_name(data_name(request), view.tasks, strategy, when): str(folder)
                     for strategy, folder in run.heads.items()}
        return {
            **self.show(view, view.tasks[0]),
            **self.clear_task_legends(),  # drawn anew by draw_task_legends, with this run's classes
            self.task: gr.Dropdown(choices=view.tasks, value=view.tasks[0], interactive=len(view.tasks) > 1),
            self.table: comparison_table(run.comparison),
            self.seed_table: seed_table(run.study),
            self.download: str(run.archive),
            self.session_heads: {**(session_heads or {}), **new_heads},
            self.view: view,
        }

    def show(self, view: LabView | None, task: str, strategy: str | None = None,
             modality: str | None = None) -> dict[gr.Component, Any]:
        """The summary and every figure of ``task`` (the PCA map of ``strategy`` and the robustness
        curves of ``modality``, default the first of each)."""
        if view is None or task not in view.figures:
            return {}
        figures = view.figures[task]
        strategy = strategy if strategy in view.strategies else view.strategies[0]
        return {
            self.summary: view.summaries[task],
            **{plot: figures.curves[title] for title, plot in self.curves.items()},
            self.bars: gr.BarPlot(value=figures.metrics, title=f"{task}: mean test accuracy over seeds "
                                  "(hover: std, 95 % interval, macro-F1)"),
            self.confusion: self.confusion_plot(figures),
            self.ablation: gr.LinePlot(value=figures.ablation, title=f"{task}: accuracy with modalities removed"),
            **self.show_map(view, task, strategy),
            **self.show_robustness(view, task, modality),
        }

    def show_map(self, view: LabView | None, task: str, strategy: str) -> dict[gr.Component, Any]:
        """The PCA map of one strategy's fused vectors on ``task``."""
        if view is None or task not in view.figures or strategy not in view.strategies:
            return {}
        figures = view.figures[task]
        first, second = figures.explained[strategy]
        return {
            self.map_strategy: gr.Dropdown(choices=view.strategies, value=strategy),
            self.fused: gr.ScatterPlot(value=figures.fused_of(strategy), x_title=f"PC1 ({first:.0%})",
                                       y_title=f"PC2 ({second:.0%})",
                                       title=f"{strategy}: PCA of the fused vectors, colour = {task}"),
        }

    def show_robustness(self, view: LabView | None, task: str, modality: str | None) -> dict[gr.Component, Any]:
        """The robustness curves of every strategy on ``task`` with ``modality`` corrupted."""
        if view is None or task not in view.figures or not view.figures[task].modalities:
            return {}
        figures = view.figures[task]
        modality = modality if modality in figures.modalities else figures.modalities[0]
        return {
            self.corrupted: gr.Dropdown(choices=figures.modalities, value=modality),
            self.noise_plot: gr.LinePlot(value=figures.robustness_of("noise", modality),
                                         title=f"{task}: {modality} features with Gaussian noise"),
            self.missing_plot: gr.LinePlot(value=figures.robustness_of("missing", modality),
                                           title=f"{task}: {modality} missing from a share of the samples"),
        }

    @staticmethod
    def confusion_plot(figures: TaskFigures) -> gr.BarPlot:
        return gr.BarPlot(value=figures.confusion, color_title=figures.confusion_title,
                          title=f"{figures.task}: test samples of each strategy by true and predicted class")

    def draw_task_legends(self, task: str, strategy: str, view: LabView | None) -> dict[gr.Component, Any]:
        """The charts coloured by the task's classes, drawn after a run (which leaves them empty)."""
        if view is None or task not in view.figures:
            return {}
        return {self.confusion: self.confusion_plot(view.figures[task]), **self.show_map(view, task, strategy)}

    def clear_task_legends(self) -> dict[gr.Component, Any]:
        """Empty the charts coloured by the task's classes (see :func:`build`)."""
        return {self.confusion: None, self.fused: None}

    def choose_task(self, task: str, strategy: str, modality: str, view: LabView | None) -> dict[gr.Component, Any]:
        """Another task of a multi-task run: its summary and figures."""
        return self.show(view, task, strategy, modality)

    def choose_strategy(self, strategy: str, task: str, view: LabView | None) -> dict[gr.Component, Any]:
        """Another strategy's PCA map."""
        return self.show_map(view, task, strategy)

    def choose_modality(self, modality: str, task: str, view: LabView | None) -> dict[gr.Component, Any]:
        """The robustness curves with another modality corrupted."""
        return self.show_robustness(view, task, modality)


def build(settings: AppSettings, session_heads: gr.State) -> FusionLabTab:
    """The tab; the heads a run trains are added to ``session_heads`` (name -> folder)."""
    defaults = LAB_TRAIN_DEFAULTS
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio([BUNDLED_WORLD, UPLOAD], value=BUNDLED_WORLD, label=t("Data"), elem_id="lab-source")
            samples = gr.Slider(100, 5000, value=LAB_WORLD_SAMPLES, step=100, label=t("Bundled world: samples"), elem_id="lab-samples")
            upload = gr.File(label=t("Upload: manifest (.csv/.jsonl) or .zip with its files"),
                             file_types=[".csv", ".tsv", ".jsonl", ".zip"], elem_id="lab-upload")
            labels = gr.Textbox("", label=t(LABELS_LABEL), placeholder=WORLD_PLACEHOLDER, elem_id="lab-labels")
            strategies = gr.CheckboxGroup(list_fusions(), value=DEFAULT_STRATEGIES, label=t("Fusion strategies"),
                                          elem_id="lab-strategies")
            with gr.Accordion(t("Training settings"), open=False):
                epochs = gr.Slider(1, 200, value=defaults.epochs, step=1, label=t("Epochs"), elem_id="lab-epochs")
                batch_size = gr.Slider(8, 512, value=defaults.batch_size, step=8, label=t("Batch size"))
                optimizer = gr.Dropdown(list(OPTIMIZERS), value=defaults.optimizer, label=t("Optimizer"))
                lr = gr.Number(value=defaults.lr, label=t("Learning rate"))
                schedule = gr.Dropdown(list(SCHEDULES), value=defaults.schedule, label=t("LR schedule"))
                weight_decay = gr.Number(value=defaults.weight_decay, label=t("Weight decay (L2)"))
                l1 = gr.Number(value=defaults.l1, label="L1")
                feature_noise = gr.Slider(0, 1, value=defaults.feature_noise, step=0.05, label=t("Feature noise"))
                modality_dropout = gr.Slider(0, 0.9, value=defaults.modality_dropout, step=0.05,
                                             label=t("Modality dropout"))
                patience = gr.Slider(0, 50, value=defaults.patience, step=1, label=t("Early-stopping patience (0: off)"))
                seed = gr.Number(value=defaults.seed, precision=0, label=t("Seed"))
                seeds = gr.Slider(1, 10, value=LAB_SEEDS, step=1, label=t("Seeds (seed, seed + 1, ...)"),
                                  elem_id="lab-seed-count")
                baselines = gr.Checkbox(value=True, label=t("Single-modality baselines"))
            train = gr.Button(t("Train and compare"), variant="primary")
        with gr.Column(scale=2):
            status = gr.Markdown(t("Choose the data and the strategies, then **Train and compare**; the figures "
                                 "below are interactive (hover for values, drag to pan, scroll to zoom, "
                                 "click a legend entry to pick a line). The zip holds the same figures as PNG."),
                                 elem_id="lab-status")
            summary = gr.Markdown(elem_id="lab-summary")
            task = gr.Dropdown([], label=t("Task (a multi-task run: choose one)"), interactive=False, elem_id="lab-task")
            table = result_table(TABLE_HEADERS, t("Comparison"))
            seeds_table = result_table(SEED_TABLE_HEADERS, t("Across seeds, with baselines and costs"), elem_id="lab-seeds")
            download = gr.File(label=t("Trained heads + report (zip)"))
    # the figures at the page's full width: a native plot's legend is one row, and the robustness
    # and confusion charts have many entries
    plot = {"height": PLOT_HEIGHT, "buttons": ["fullscreen", "export"]}
    curves = {}
    with gr.Row():
        for title in list(CURVES.values())[:2]:
            curves[title] = gr.LinePlot(x="epoch", y="value", color="strategy", title=f"Learning curves: {title}",
                                        y_title=title, elem_id=f"lab-curve-{title.replace(' ', '-')}", **plot)
    with gr.Row():
        title = list(CURVES.values())[2]
        curves[title] = gr.LinePlot(x="epoch", y="value", color="strategy", title=f"Learning curves: {title}",
                                    y_title=title, y_lim=[0, 1], elem_id=f"lab-curve-{title.replace(' ', '-')}", **plot)
        bars = gr.BarPlot(x="strategy", y="accuracy", color="kind", title="Mean test accuracy over seeds",
                          y_lim=[0, 1], sort="-y", tooltip="all", x_label_angle=-30, elem_id="lab-metrics", **plot)
    confusion = gr.BarPlot(x="strategy", y="count", color="cell", title="Test samples by true and predicted class",
                           y_lim=[0, None], elem_id="lab-confusion", **plot)
    with gr.Row():
        ablation = gr.LinePlot(x="condition", y="accuracy", color="strategy", title="Modality ablation",
                               y_lim=[0, 1], x_label_angle=-30, elem_id="lab-ablation", **(plot | {"height": 380}))
        with gr.Column():
            map_strategy = gr.Dropdown([], label=t("PCA map of strategy"), elem_id="lab-map-strategy")
            fused = gr.ScatterPlot(x="PC1", y="PC2", color="label", title="PCA of the fused vectors",
                                   elem_id="lab-fused", **plot)
    corrupted = gr.Dropdown([], label=t("Robustness: corrupted modality"), elem_id="lab-corrupted")
    with gr.Row():
        noise_plot = gr.LinePlot(x="level", y="accuracy", color="strategy", title="Robustness: feature noise",
                                 x_title="noise std / feature std", y_title="accuracy", y_lim=[0, 1],
                                 elem_id="lab-noise", **plot)
        missing_plot = gr.LinePlot(x="level", y="accuracy", color="strategy", title="Robustness: missing modality",
                                   x_title="missing rate", y_title="accuracy", y_lim=[0, 1],
                                   elem_id="lab-missing", **plot)
    view = gr.State(None)
    tab = FusionLabTab(settings, session_heads, view, summary, task, table, seeds_table, curves, bars, confusion,
                       ablation, map_strategy, fused, corrupted, noise_plot, missing_plot, download)
    # the endpoint's parameters, in its order: gradio_client callers pass them positionally
    inputs = {
        "source": source, "samples": samples, "upload": upload, "labels": labels, "strategies": strategies,
        "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr, "schedule": schedule,
        "weight_decay": weight_decay, "l1": l1, "feature_noise": feature_noise,
        "modality_dropout": modality_dropout, "patience": patience, "seed": seed,
        "seeds": seeds, "baselines": baselines,  # added later: at the end, so older callers still fit
        "session_heads": session_heads,
    }
    # summary first, table second and the zip last of what gradio_client callers receive (states are not sent)
    outputs = [summary, table, seeds_table, task, *curves.values(), bars, confusion, ablation, map_strategy, fused,
               corrupted, noise_plot, missing_plot, download, session_heads, view]
    tab.trained = train.click(tab.train_fusion_lab, inputs_kwargs=inputs, outputs=outputs, api_name="train_fusion",
                              concurrency_limit=1, concurrency_id="fusion-lab",
                              show_progress_on=[status])  # one progress bar (and one error badge), not one per panel
    tab.trained.then(tab.draw_task_legends, [task, map_strategy, view], [confusion, map_strategy, fused],
                     api_visibility="private", show_progress="hidden")
    redraw = [summary, *curves.values(), bars, confusion, ablation, map_strategy, fused, corrupted, noise_plot, missing_plot]
    # a native plot keeps its colour legend when only its data changes: the charts whose classes
    # differ between tasks are emptied first, so that they are drawn anew with the new task's legend
    task.input(tab.clear_task_legends, None, [confusion, fused], api_visibility="private", show_progress="hidden").then(
        tab.choose_task, [task, map_strategy, corrupted, view], redraw, api_visibility="private", show_progress="hidden")
    corrupted.input(tab.choose_modality, [corrupted, task, view], [corrupted, noise_plot, missing_plot],
                    api_visibility="private", show_progress="hidden")
    map_strategy.input(tab.choose_strategy, [map_strategy, task, view], [map_strategy, fused],
                       api_visibility="private", show_progress="hidden")
    upload.upload(uploaded, [upload], [source, labels], api_visibility="private", show_progress="hidden")
    source.input(labels_box, [source], [labels], api_visibility="private", show_progress="hidden")
    return tab
