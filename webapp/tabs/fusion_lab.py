"""The Fusion Lab tab: train several fusion strategies on one split and compare them.

The endpoint's parameters reach the handler by name (``inputs_kwargs``) and become one
:class:`LabRequest`; the handler returns each output by its component.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr
import pandas as pd
from gradio.events import Dependency

from mmdemo.evaluation.compare import Comparison
from mmdemo.evaluation.seeds import SeedStudy
from mmdemo.fusion.registry import list_fusions
from mmdemo.lab import LAB_SEEDS, LAB_TRAIN_DEFAULTS, LabRun, prepare_data, run_lab, world_manifest
from mmdemo.training.optim import OPTIMIZERS, SCHEDULES
from mmdemo.training.sources import world_models
from mmdemo.training.trainer import TrainConfig
from webapp.common import require, result_table, user_errors
from webapp.settings import AppSettings

BUNDLED_WORLD, UPLOAD = "bundled world", "upload"
DEFAULT_STRATEGIES = ["concat", "late", "gmu", "lmf", "attention"]
TABLE_HEADERS = ["strategy", "task", "accuracy", "macro-F1", "AUROC", "parameters", "seconds", "best epoch"]
SEED_TABLE_HEADERS = ["rank", "strategy", "task", "accuracy", "std", "95% interval", "macro-F1", "overlaps best",
                      "at chance", "parameters", "train s", "inference ms/sample", "peak memory KiB"]
ROBUSTNESS_COLUMNS = ["level", "accuracy", "curve"]


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


def robustness_frame(study: SeedStudy, corruption: str) -> pd.DataFrame:
    """Accuracy (mean over seeds and tasks) per level, one curve per strategy and corrupted modality."""
    groups: dict[tuple[str, float], list[float]] = {}
    for point in study.aggregated_robustness():
        if point.corruption == corruption:
            groups.setdefault((f"{point.strategy} / {point.modality}", point.level), []).append(point.accuracy)
    records = [{"level": level, "accuracy": sum(v) / len(v), "curve": curve} for (curve, level), v in groups.items()]
    return pd.DataFrame(records, columns=ROBUSTNESS_COLUMNS)


def run_summary(run: LabRun) -> str:
    """What was trained, on what, how fast, which strategy won, and the rows that were skipped."""
    comparison = run.comparison
    task = comparison.tasks[0]
    summary = (f"Trained {len(run.heads)} strategies on {comparison.n_samples} {comparison.subset} samples "
               f"scored (task **{task}**) in {run.seconds:.1f} s. Best macro-F1: **{comparison.best(task)}**.")
    study = run.study
    if study is not None:
        summary += (f"\n\nAcross {len(study.seeds)} seed(s) (mean, std and 95 % t-interval; paired t-test on the "
                    "per-seed accuracy differences): " + " ".join(study.verdict(t) for t in study.tasks))
        warnings = study.chance_warnings()
        if warnings:
            summary += "\n\n" + "\n".join(f"- {line}" for line in warnings)
    if run.bad_rows:
        shown = "; ".join(str(bad) for bad in run.bad_rows[:10])
        summary += f"\n\nSkipped {len(run.bad_rows)} bad row(s): {shown}"
    return summary


@dataclass(eq=False)  # hashed by identity, like gradio's components
class FusionLabTab:
    """The tab's outputs, the visitor's trained heads (a ``gr.State``), the handler and its event."""

    settings: AppSettings
    session_heads: gr.State
    summary: gr.Markdown
    table: gr.Dataframe
    seed_table: gr.Dataframe
    noise_plot: gr.LinePlot
    missing_plot: gr.LinePlot
    curves: gr.Plot
    bars: gr.Plot
    confusion: gr.Plot
    fused: gr.Plot
    ablation: gr.Plot
    download: gr.File
    trained: Dependency | None = None  # the training event, for what should follow it (set by build)

    @user_errors
    def train_fusion_lab(self, progress: gr.Progress = gr.Progress(), *,
                         session_heads: dict[str, str] | None = None, **inputs: Any) -> dict[gr.Component, Any]:
        """Train the chosen strategies on one split and compare them."""
        request = LabRequest.from_inputs(**inputs)
        if not request.strategies:
            raise gr.Error("Choose at least one fusion strategy.", print_exception=False)
        runs_dir = self.settings.runs_dir
        workdir = runs_dir / uuid.uuid4().hex[:12]
        progress(0.0, desc="preparing data")
        models = None  # an upload: the active preset's models
        if request.source == BUNDLED_WORLD:
            manifest = world_manifest(runs_dir / "worlds", request.samples, seed=request.config.seed)
            models = world_models()  # the bundled world is embedded by the models that know it
        else:
            require(request.upload, "a manifest (.csv / .jsonl) or a .zip of one with its files")
            manifest = prepare_data(request.upload, workdir)
        run = run_lab(manifest, request.strategies, request.config, out_dir=workdir / "run",
                      label_columns=request.label_columns, models=models, seeds=request.seeds, baselines=request.baselines,
                      progress=lambda event: progress(event.fraction, desc=event.message))
        figures = run.comparison.figures(run.comparison.tasks[0])
        run_id = workdir.name[:6]
        new_heads = {f"run-{run_id}/{strategy}": str(folder) for strategy, folder in run.heads.items()}
        return {
            self.summary: run_summary(run),
            self.table: comparison_table(run.comparison),
            self.seed_table: seed_table(run.study),
            self.noise_plot: robustness_frame(run.study, "noise"),
            self.missing_plot: robustness_frame(run.study, "missing"),
            self.curves: figures.learning_curves,
            self.bars: figures.metric_bars,
            self.confusion: figures.confusion_matrices,
            self.fused: figures.fused_map,
            self.ablation: figures.ablation,
            self.download: str(run.archive),
            self.session_heads: {**(session_heads or {}), **new_heads},
        }


def build(settings: AppSettings, session_heads: gr.State) -> FusionLabTab:
    """The tab; the heads a run trains are added to ``session_heads`` (name -> folder)."""
    defaults = LAB_TRAIN_DEFAULTS
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio([BUNDLED_WORLD, UPLOAD], value=BUNDLED_WORLD, label="Data")
            samples = gr.Slider(100, 5000, value=1500, step=100, label="Bundled world: samples")
            upload = gr.File(label="Upload: manifest (.csv/.jsonl) or .zip with its files",
                             file_types=[".csv", ".tsv", ".jsonl", ".zip"])
            labels = gr.Textbox(label="Label columns (comma-separated; empty: all)")
            strategies = gr.CheckboxGroup(list_fusions(), value=DEFAULT_STRATEGIES, label="Fusion strategies")
            with gr.Accordion("Training settings", open=False):
                epochs = gr.Slider(1, 200, value=defaults.epochs, step=1, label="Epochs")
                batch_size = gr.Slider(8, 512, value=defaults.batch_size, step=8, label="Batch size")
                optimizer = gr.Dropdown(list(OPTIMIZERS), value=defaults.optimizer, label="Optimizer")
                lr = gr.Number(value=defaults.lr, label="Learning rate")
                schedule = gr.Dropdown(list(SCHEDULES), value=defaults.schedule, label="LR schedule")
                weight_decay = gr.Number(value=defaults.weight_decay, label="Weight decay (L2)")
                l1 = gr.Number(value=defaults.l1, label="L1")
                feature_noise = gr.Slider(0, 1, value=defaults.feature_noise, step=0.05, label="Feature noise")
                modality_dropout = gr.Slider(0, 0.9, value=defaults.modality_dropout, step=0.05,
                                             label="Modality dropout")
                patience = gr.Slider(0, 50, value=defaults.patience, step=1, label="Early-stopping patience (0: off)")
                seed = gr.Number(value=defaults.seed, precision=0, label="Seed")
                seeds = gr.Slider(1, 10, value=LAB_SEEDS, step=1, label="Seeds (seed, seed + 1, ...)")
                baselines = gr.Checkbox(value=True, label="Single-modality baselines")
            train = gr.Button("Train and compare", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="lab-summary")
            table = result_table(TABLE_HEADERS, "Comparison")
            seeds_table = result_table(SEED_TABLE_HEADERS, "Across seeds, with baselines and costs", elem_id="lab-seeds")
            with gr.Row():
                noise_plot = gr.LinePlot(x="level", y="accuracy", color="curve", label="Robustness: feature noise",
                                         x_title="noise std / feature std", y_title="accuracy (mean over tasks)")
                missing_plot = gr.LinePlot(x="level", y="accuracy", color="curve", label="Robustness: missing modality",
                                           x_title="missing rate", y_title="accuracy (mean over tasks)")
            with gr.Row():
                curves = gr.Plot(label="Learning curves", elem_id="lab-curves")
                bars = gr.Plot(label="Metrics")
            with gr.Row():
                confusion = gr.Plot(label="Confusion matrices")
                fused = gr.Plot(label="Fused vectors (PCA)")
            ablation = gr.Plot(label="Modality ablation")
            download = gr.File(label="Trained heads + report (zip)")
    tab = FusionLabTab(settings, session_heads, summary, table, seeds_table, noise_plot, missing_plot, curves, bars, confusion, fused, ablation, download)
    # the endpoint's parameters, in its order: gradio_client callers pass them positionally
    inputs = {
        "source": source, "samples": samples, "upload": upload, "labels": labels, "strategies": strategies,
        "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr, "schedule": schedule,
        "weight_decay": weight_decay, "l1": l1, "feature_noise": feature_noise,
        "modality_dropout": modality_dropout, "patience": patience, "seed": seed,
        "seeds": seeds, "baselines": baselines,  # added later: at the end, so older callers still fit
        "session_heads": session_heads,
    }
    outputs = [summary, table, seeds_table, noise_plot, missing_plot, curves, bars, confusion, fused, ablation, download, session_heads]
    tab.trained = train.click(tab.train_fusion_lab, inputs_kwargs=inputs, outputs=outputs, api_name="train_fusion",
                              concurrency_limit=1, concurrency_id="fusion-lab")
    return tab
