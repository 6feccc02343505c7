"""The Fusion Lab tab: train several fusion strategies on one split and compare them.

The endpoint's parameters reach the handler by name (``inputs_kwargs``) and become one
:class:`LabRequest`; the handler returns each output by its component.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.events import Dependency

from mmdemo.evaluation.compare import Comparison
from mmdemo.fusion.registry import list_fusions
from mmdemo.lab import LabRun, prepare_data, run_lab, world_manifest
from mmdemo.training.optim import OPTIMIZERS, SCHEDULES
from mmdemo.training.trainer import TrainConfig
from webapp.common import require, user_errors
from webapp.settings import AppSettings

BUNDLED_WORLD, UPLOAD = "bundled world", "upload"
DEFAULT_STRATEGIES = ["concat", "late", "gmu", "lmf", "attention"]
TABLE_HEADERS = ["strategy", "task", "accuracy", "macro-F1", "AUROC", "parameters", "seconds", "best epoch"]


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
    """

    source: str
    samples: int
    upload: str | None
    label_columns: list[str] | None
    strategies: list[str]
    config: TrainConfig

    @classmethod
    def from_inputs(cls, *, source: str, samples: float, upload: str | None, labels: str, strategies: list[str],
                    epochs: float, batch_size: float, optimizer: str, lr: float, schedule: str,
                    weight_decay: float, l1: float, feature_noise: float, modality_dropout: float,
                    patience: float, seed: float) -> LabRequest:
        """The request from the tab's input values, by the names the endpoint gives them."""
        config = TrainConfig(
            epochs=int(epochs), batch_size=int(batch_size), optimizer=optimizer, lr=float(lr),
            schedule=schedule, weight_decay=float(weight_decay), l1=float(l1),
            feature_noise=float(feature_noise), modality_dropout=float(modality_dropout),
            patience=int(patience), seed=int(seed),
        )
        label_columns = [c.strip() for c in (labels or "").split(",") if c.strip()] or None
        return cls(source, int(samples), upload, label_columns, list(strategies or []), config)


def comparison_table(comparison: Comparison) -> list[list[Any]]:
    """One row per strategy and task, in :data:`TABLE_HEADERS` order (NaN AUROC shown empty)."""
    return [[r.strategy, r.task, round(r.accuracy, 4), round(r.macro_f1, 4),
             None if r.auroc != r.auroc else round(r.auroc, 4), r.n_parameters,
             None if r.train_seconds is None else round(r.train_seconds, 2), r.best_epoch]
            for r in comparison.rows()]


def run_summary(run: LabRun) -> str:
    """What was trained, on what, how fast, which strategy won, and the rows that were skipped."""
    comparison = run.comparison
    task = comparison.tasks[0]
    summary = (f"Trained {len(run.heads)} strategies on {comparison.n_samples} {comparison.subset} samples "
               f"scored (task **{task}**) in {run.seconds:.1f} s. Best macro-F1: **{comparison.best(task)}**.")
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
        if request.source == BUNDLED_WORLD:
            manifest = world_manifest(runs_dir / "worlds", request.samples, seed=request.config.seed)
        else:
            require(request.upload, "a manifest (.csv / .jsonl) or a .zip of one with its files")
            manifest = prepare_data(request.upload, workdir)
        run = run_lab(manifest, request.strategies, request.config, out_dir=workdir / "run",
                      label_columns=request.label_columns,
                      progress=lambda event: progress(event.fraction, desc=event.message))
        figures = run.comparison.figures(run.comparison.tasks[0])
        run_id = workdir.name[:6]
        new_heads = {f"run-{run_id}/{strategy}": str(folder) for strategy, folder in run.heads.items()}
        return {
            self.summary: run_summary(run),
            self.table: comparison_table(run.comparison),
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
    defaults = TrainConfig()
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
            train = gr.Button("Train and compare", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="lab-summary")
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Comparison", interactive=False)
            with gr.Row():
                curves = gr.Plot(label="Learning curves", elem_id="lab-curves")
                bars = gr.Plot(label="Metrics")
            with gr.Row():
                confusion = gr.Plot(label="Confusion matrices")
                fused = gr.Plot(label="Fused vectors (PCA)")
            ablation = gr.Plot(label="Modality ablation")
            download = gr.File(label="Trained heads + report (zip)")
    tab = FusionLabTab(settings, session_heads, summary, table, curves, bars, confusion, fused, ablation, download)
    # the endpoint's parameters, in its order: gradio_client callers pass them positionally
    inputs = {
        "source": source, "samples": samples, "upload": upload, "labels": labels, "strategies": strategies,
        "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr, "schedule": schedule,
        "weight_decay": weight_decay, "l1": l1, "feature_noise": feature_noise,
        "modality_dropout": modality_dropout, "patience": patience, "seed": seed,
        "session_heads": session_heads,
    }
    outputs = [summary, table, curves, bars, confusion, fused, ablation, download, session_heads]
    tab.trained = train.click(tab.train_fusion_lab, inputs_kwargs=inputs, outputs=outputs, api_name="train_fusion",
                              concurrency_limit=1, concurrency_id="fusion-lab")
    return tab
