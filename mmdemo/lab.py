"""The training program: data -> features -> one head per strategy -> comparison -> saved run.

One function, :func:`run_training`, is what ``python -m mmdemo train`` and the app's Fusion Lab
(through :func:`run_lab`) run. It reads a manifest (or takes a ready :class:`FeatureSet`, e.g. a
synthetic task), embeds it through the encoders' cache, trains one head per strategy (and one
single-modality baseline per modality) for each of ``seeds`` seeds, each seed on its own shared
split, compares them on the test part (per-seed scores, intervals, paired tests, robustness curves
and costs: :mod:`mmdemo.evaluation.seeds`) and writes one layout::

    <out>/heads/<strategy>/      a loadable head (first seed); its head.json records the test metrics
    <out>/report.md              the comparison, with its PNG figures (robustness.png too) beside it
    <out>/summary.json           split sizes, score rows, skipped rows, head folders, settings, and
                                 ``study``: every per-seed figure and what follows from them
    <out>/fusion-lab-run.zip     the above, zipped for download (``TrainingConfig.archive``)

Each head is saved as soon as its training ends (an interrupted run keeps the heads already
trained) and saved again with its test metrics once the comparison is done.

This module sits above :mod:`mmdemo.training` and :mod:`mmdemo.evaluation`, which do not import it.
"""

from __future__ import annotations

import logging
import math
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from mmdemo.errors import ConfigError
from mmdemo.evaluation.compare import SUBSETS, Comparison, compare_results
from mmdemo.evaluation.complexity import measure_complexity
from mmdemo.evaluation.evaluate import evaluate_model
from mmdemo.evaluation.robustness import robustness_curves
from mmdemo.evaluation.seeds import SeedScore, SeedStudy
from mmdemo.evaluation.report import ReportFiles, write_report
from mmdemo.fusion.config import FusionConfig
from mmdemo.fusion.registry import parse_strategies
from mmdemo.storage import write_json_atomic
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.features import FeatureProgress, extract_features
from mmdemo.training.fewshot import FewShotConfig, run_few_shot
from mmdemo.training.head import FusionHead
from mmdemo.training.manifest import BadRow, read_manifest
from mmdemo.training.sources import find_manifest, prepare_data, world_manifest
from mmdemo.training.baselines import BASELINE_PREFIX, baseline_name, is_baseline, train_baseline
from mmdemo.training.split import DataSplit
from mmdemo.training.trainer import TrainConfig, TrainProgress, TrainResult, config_split, train_head

__all__ = [
    "ARCHIVE_NAME",
    "HEADS_DIR",
    "LAB_TRAIN_DEFAULTS",
    "LAB_WORLD_SAMPLES",
    "SUMMARY_FILE",
    "LabProgress",
    "LabRun",
    "TrainingConfig",
    "TrainingRun",
    "find_manifest",
    "prepare_data",
    "run_lab",
    "run_training",
    "world_manifest",
]

logger = logging.getLogger(__name__)

HEADS_DIR = "heads"
SUMMARY_FILE = "summary.json"
ARCHIVE_NAME = "fusion-lab-run.zip"

# The training defaults of the Fusion Lab and of ``python -m mmdemo train``, measured on cached
# bundled-model features of 1,500 bundled-world samples, 3 seeds (README, "Fusion Lab"): with
# TrainConfig's plain defaults (lr 1e-3, early stopping on the validation loss, patience 10) gmu,
# late_weighted, film and attention kept their epoch-1 weights at chance, because the four-task
# validation loss rises on the hard tasks while the learnable ones are still improving. Selecting
# on the validation accuracy with patience 15, lr 3e-3, up to 60 epochs trains every strategy.
# Attention (a transformer) is given 3e-4: on the bundled CLIP that has learnt the world's claims
# it stays at chance on every task at 3e-3 and at 1e-3 (sound_match 0.51, 0.54) and learns at 3e-4
# (0.71). One hidden layer in each task head (``head_layers=1``) is what ``exactly_one`` (claim XOR
# sound_match) needs: linear task heads leave every strategy at chance there (0.50-0.52), one
# hidden layer lifts concat to 0.62, gmu 0.60 and film 0.55 (and costs lmf 0.06 on claim, 0.68 -> 0.62).
LAB_TRAIN_DEFAULTS = TrainConfig(epochs=60, lr=3e-3, monitor="val_accuracy", patience=15,
                                 strategy_lr={"attention": 3e-4}, fusion=FusionConfig(head_layers=1))
LAB_SEEDS = 3  # seeds the app runs by default
# The bundled world's size the Lab offers first. ``exactly_one`` (claim XOR sound_match) is where
# the size shows: at 1,500 samples lmf, tfn and attention end at chance on it (0.545, 0.524, 0.519;
# at 3,000: 0.548, 0.542, 0.557, line 0.552), because a head that composes its two relations
# (accuracies c and s) scores at most 1/2 + 2 (c - 1/2)(s - 1/2) and theirs are too weak; at 4,500
# every fused strategy but late fusion leaves chance on every task (README, "Fusion Lab").
# Feature standardisation, dropout 0, feature noise 0.3, weight decay 1e-2 and other widths did
# not lift them at 1,500 (0.49-0.55).
LAB_WORLD_SAMPLES = 4500

# Shares of the overall progress: embedding, then training, then the comparison and report.
EMBEDDING_SHARE = 0.3
TRAINING_SHARE = 0.65


@dataclass
class LabProgress:
    """Where a run is: ``stage`` (``"data"``, ``"embedding"``, ``"training"``, ``"report"``),
    the overall ``fraction`` done in [0, 1], a line for people, and ``finished``: True when this
    event ends a step (a modality embedded, a strategy trained, the run done)."""

    stage: str
    fraction: float
    message: str
    finished: bool = False


LabProgressCallback = Callable[[LabProgress], None]


@dataclass
class TrainingConfig:
    """What a training run does (the data and the output folder are passed to :func:`run_training`).

    Attributes:
        strategies: fusion strategies to train, a list or ``"concat,gmu"`` or ``"all"`` (default).
        train: optimisation, regularisation, split and architecture (:class:`TrainConfig`).
        label_columns: manifest columns that are tasks (default: every non-modality column).
        modalities: modalities to embed (default: every modality the manifest has).
        models: modality -> registry name of its encoder (default: the active preset's).
        confine_to_folder: refuse manifest paths outside the manifest's folder (True for uploads).
        subset: the part of the split the comparison scores (``"test"``, falls back when empty).
        few_shot: also score prototype and linear-probe classifiers with this many examples per
            class, in a report section (default None: not run).
        archive: also zip the run folder (heads, report, summary) for download.
        report_title: the report's heading.
        seeds: how many seeds to train every strategy with (default 1): seeds ``train.seed``,
            ``train.seed + 1``, ...; each seed draws its own split. The heads of the first are saved.
        baselines: also train one single-modality baseline per modality (default True; see
            :mod:`mmdemo.training.baselines`).
        robustness: also score the robustness curves (default True; see
            :mod:`mmdemo.evaluation.robustness`).
        source_name: how the report and summary name the data (default None: the manifest's
            path); the app passes the uploaded file's name or "bundled world", never its own
            temporary path.
    """

    strategies: str | list[str] = "all"
    train: TrainConfig = field(default_factory=TrainConfig)
    label_columns: list[str] | None = None
    modalities: list[str] | None = None
    models: dict[str, str | None] | None = None
    confine_to_folder: bool = False
    subset: str = "test"
    few_shot: int | None = None
    archive: bool = False
    report_title: str = "Fusion strategy comparison"
    seeds: int = 1
    baselines: bool = True
    robustness: bool = True
    source_name: str | None = None

    def validate(self) -> TrainingConfig:
        """Check the settings (raises ConfigError / UnknownStrategyError naming the bad value)."""
        parse_strategies(self.strategies)
        self.train.validate()
        if self.subset not in SUBSETS:
            raise ConfigError(f"unknown subset {self.subset!r}; valid: {', '.join(SUBSETS)}")
        if self.few_shot is not None and (isinstance(self.few_shot, bool) or self.few_shot < 1):
            raise ConfigError(f"few_shot must be a positive number of examples per class, got {self.few_shot!r}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"seeds must be a positive integer, got {self.seeds!r}")
        return self


@dataclass
class TrainingRun:
    """A finished run.

    Attributes:
        folder: where everything was written.
        comparison: the side-by-side evaluation (tables and figures).
        heads: strategy -> folder of the saved head (``FusionHead.load`` reads it).
        report: the markdown report and its PNG figures.
        archive: a zip of the heads, the report and the summary (None unless asked for).
        bad_rows: manifest rows that were skipped, with their line numbers and reasons.
        manifest: the manifest that was used (None for a FeatureSet passed directly).
        seconds: wall time of the whole run.
        summary: the summary JSON file.
        split: sizes of the shared split of the first seed (``{"train": ..., "val": ..., "test": ...}``).
        study: every seed's scores of every strategy and baseline, their intervals, tests,
            robustness curves and costs.
    """

    folder: Path
    comparison: Comparison
    heads: dict[str, Path]
    report: ReportFiles
    archive: Path | None
    bad_rows: list[BadRow] = field(default_factory=list)
    manifest: Path | None = None
    seconds: float = 0.0
    summary: Path | None = None
    split: dict[str, int] = field(default_factory=dict)
    study: SeedStudy | None = None


LabRun = TrainingRun  # the Fusion Lab's name for a run (mmdemo.LabRun); one class


def few_shot_section(features: FeatureSet, k: int, seed: int) -> str:
    """Markdown section with prototype and linear-probe scores from ``k`` shots per class."""
    lines = [f"## Few-shot baselines (k = {k} per class, scored on all other labelled samples)", "",
             "| method | task | accuracy | macro-F1 | scored |", "|---|---|---|---|---|"]
    for task in features.targets:
        for method in ("prototype", "linear_probe"):
            try:
                result = run_few_shot(features, FewShotConfig(k=k, method=method, task=task, seed=seed))
            except ConfigError as err:  # e.g. a class with fewer than k examples: report it, keep the run
                lines.append(f"| {method} | {task} | not run: {err} | | |")
                continue
            if result.metrics is not None:
                lines.append(f"| {method} | {task} | {result.metrics.accuracy:.3f} | {result.metrics.macro_f1:.3f} | {result.metrics.n} |")
    return "\n".join(lines)


def _json_row(row: dict) -> dict:
    """NaN (undefined AUROC) becomes null so the file stays valid JSON."""
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}


def _zip_run(folder: Path, archive: Path, files: list[Path]) -> Path:
    temporary = archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for path in files:
            if path.is_dir():
                for inner in sorted(path.rglob("*")):
                    if inner.is_file():
                        handle.write(inner, inner.relative_to(folder).as_posix())
            elif path.is_file():
                handle.write(path, path.relative_to(folder).as_posix())
    os.replace(temporary, archive)
    return archive


def scored_indices(split: DataSplit, subset: str, n: int) -> torch.Tensor:
    """The samples a comparison scores: the ``subset`` part of ``split``, or the next non-empty
    one (test -> val -> train), as :func:`~mmdemo.evaluation.compare.compare_results` does."""
    order = {"test": ["test", "val", "train"], "val": ["val", "train"], "train": ["train"], "all": ["all"]}[subset]
    for part in order:
        indices = torch.arange(n) if part == "all" else getattr(split, part)
        if len(indices):
            return indices
    return split.train


def seed_scores(result: TrainResult, features: FeatureSet, indices: torch.Tensor, seed: int) -> list[SeedScore]:
    """One :class:`SeedScore` per task of ``result`` on the samples at ``indices``."""
    evaluation = evaluate_model(result.model, features, indices)
    rows = []
    for task, metrics in evaluation.metrics.items():
        labelled = features.targets[task][indices]
        labelled = labelled[labelled >= 0]
        chance = float(torch.bincount(labelled).max()) / len(labelled) if len(labelled) else float("nan")
        rows.append(SeedScore(seed, result.strategy, task, metrics.accuracy, metrics.macro_f1, metrics.auroc,
                              result.seconds, result.best_epoch, len(result.history), metrics.n, chance))
    return rows


def _features(
    data: str | os.PathLike | FeatureSet, config: TrainingConfig, report: Callable[..., None]
) -> tuple[FeatureSet, Path | None]:
    if isinstance(data, FeatureSet):
        return data, None
    report("data", 0.0, "reading the manifest")
    manifest = Path(data)
    parsed = read_manifest(manifest, label_columns=config.label_columns, confine_to_folder=config.confine_to_folder)
    modalities = config.modalities or parsed.modalities
    order: dict[str, int] = {}  # modality -> its position among those embedded so far
    n_modalities = max(len(modalities), 1)

    def on_features(event: FeatureProgress) -> None:
        position = order.setdefault(event.modality, len(order))
        share = (position + event.done / max(event.total, 1)) / n_modalities
        finished = event.done == event.total
        message = (f"embedded {event.total} {event.modality} input(s)" if finished
                   else f"embedding {event.modality}: {event.done}/{event.total}")
        report("embedding", EMBEDDING_SHARE * min(share, 1.0), message, finished)

    features = extract_features(parsed, models=config.models, modalities=config.modalities, progress=on_features)
    return features, manifest


def run_training(
    data: str | os.PathLike | FeatureSet,
    config: TrainingConfig | None = None,
    *,
    out_dir: str | os.PathLike,
    progress: LabProgressCallback | None = None,
) -> TrainingRun:
    """Train and compare ``config.strategies`` on ``data`` (a manifest path or a FeatureSet) and
    write heads, report, figures and summary to ``out_dir`` (see the module docstring).

    Progress: embedding takes the first 30 %, training the next 65 %, the report the rest.
    """
    start = time.perf_counter()
    config = (config or TrainingConfig()).validate()
    names = parse_strategies(config.strategies)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)

    def report(stage: str, fraction: float, message: str, finished: bool = False) -> None:
        if progress:
            progress(LabProgress(stage, min(max(fraction, 0.0), 1.0), message, finished))

    features, manifest = _features(data, config, report)
    sizes = ", ".join(f"{name} {dim}-d" for name, dim in features.dims.items())
    report("data", EMBEDDING_SHARE, f"{len(features)} samples ({sizes}); tasks: {', '.join(features.targets)}", True)
    seeds = [config.train.seed + offset for offset in range(config.seeds)]
    jobs = names + ([baseline_name(m) for m in features.modalities] if config.baselines else [])
    total = len(seeds) * len(jobs)
    results: list[TrainResult] = []  # the first seed's fused strategies: saved and compared in detail
    heads: dict[str, Path] = {}
    first_models: dict[str, TrainResult] = {}
    scores: list[SeedScore] = []
    robustness = []
    seconds: dict[str, list[float]] = {name: [] for name in jobs}
    first_split: DataSplit | None = None
    for seed_index, seed in enumerate(seeds):
        train_config = replace(config.train, seed=seed)
        split = config_split(features, train_config)
        first_split = first_split or split
        scored = scored_indices(split, config.subset, len(features))
        models = {}
        for job_index, name in enumerate(jobs):
            position = seed_index * len(jobs) + job_index

            def on_epoch(event: TrainProgress, position: int = position, seed: int = seed) -> None:
                fraction = (position + event.record.epoch / event.epochs) / total
                prefix = f"seed {seed}: " if len(seeds) > 1 else ""
                report("training", EMBEDDING_SHARE + TRAINING_SHARE * fraction, prefix + event.describe(),
                       event.record.epoch == event.epochs)

            if is_baseline(name):
                result = train_baseline(features, name[len(BASELINE_PREFIX):], train_config, split=split, progress=on_epoch)
            else:
                result = train_head(features, name, train_config, split=split, progress=on_epoch)
            if seed_index == 0:
                first_models[name] = result
                if not is_baseline(name):
                    results.append(result)
                    heads[name] = FusionHead.from_result(result).save(folder / HEADS_DIR / name)
            models[name] = result.model
            seconds[name].append(result.seconds)
            scores += seed_scores(result, features, scored, seed)
            if result.stopped_early:
                report("training", EMBEDDING_SHARE + TRAINING_SHARE * (position + 1) / total,
                       f"{name} (seed {seed}): stopped early at epoch {result.history[-1].epoch}, best {result.best_epoch}", True)
            logger.info("Trained %s (seed %d) in %.1f s", name, seed, result.seconds)
        if config.robustness:
            robustness += [(seed, point) for point in robustness_curves(models, features, scored, seed=seed)]
    split = first_split
    scored = scored_indices(split, config.subset, len(features))
    costs = [
        measure_complexity(name, result.model, features, scored, train_seconds=sum(seconds[name]) / len(seconds[name]),
                           batch=split.train[: config.train.batch_size], optimizer=config.train.optimizer)
        for name, result in first_models.items()
    ]
    study = SeedStudy(seeds=seeds, names=jobs, scores=scores, complexity=costs, robustness=robustness)
    for line in study.chance_warnings():
        logger.warning("%s", line)

    report("report", EMBEDDING_SHARE + TRAINING_SHARE, "comparing the strategies")
    comparison = compare_results(results, features, subset=config.subset)
    if config.source_name:
        comparison.source = config.source_name
    for result, strategy in zip(results, comparison.strategies):
        metrics = {task: m.to_dict() for task, m in strategy.evaluation.metrics.items()}
        FusionHead.from_result(result, metrics).save(heads[result.strategy])
    extra = [few_shot_section(features, config.few_shot, config.train.seed)] if config.few_shot else None
    files = write_report(comparison, folder, title=config.report_title, extra_sections=extra, study=study)
    split_sizes = split.sizes()
    summary = write_json_atomic(
        folder / SUMMARY_FILE,
        {
            "source": comparison.source,
            "manifest": None if manifest is None else (config.source_name or str(manifest)),
            "subset": comparison.subset,
            "n_samples": comparison.n_samples,
            "split": split_sizes,
            "rows": [_json_row(row.__dict__) for row in comparison.rows()],
            "bad_rows": [{"line": bad.line, "reason": bad.reason} for bad in features.bad_rows],
            "heads": {name: str(path) for name, path in heads.items()},
            "training": config.train.to_dict(),
            "seeds": seeds,
            "study": study.to_dict(),
        },
    )
    archive = None
    if config.archive:
        parts = [folder / HEADS_DIR, files.markdown, *files.figures.values(), summary]
        archive = _zip_run(folder, folder / ARCHIVE_NAME, parts)
    report("report", 1.0, "done", True)
    return TrainingRun(
        folder=folder, comparison=comparison, heads=heads, report=files, archive=archive,
        bad_rows=list(features.bad_rows), manifest=manifest, seconds=time.perf_counter() - start,
        summary=summary, split=split_sizes, study=study,
    )


def run_lab(
    manifest: str | os.PathLike,
    strategies: str | list[str],
    config: TrainConfig | None = None,
    *,
    out_dir: str | os.PathLike,
    label_columns: list[str] | None = None,
    models: dict[str, str | None] | None = None,
    progress: LabProgressCallback | None = None,
    seeds: int = 1,
    baselines: bool = True,
    source_name: str | None = None,
) -> LabRun:
    """The Fusion Lab's run: :func:`run_training` on an uploaded or bundled-world manifest (see
    :func:`prepare_data`, :func:`world_manifest`), with paths confined to the manifest's folder
    and the run zipped for download (``LabRun.archive``); ``seeds`` and ``baselines`` as in
    :class:`TrainingConfig` (the app passes :data:`LAB_SEEDS`); ``source_name`` is how the report
    names the data (the uploaded file's name, not the server's temporary path)."""
    settings = TrainingConfig(
        strategies=strategies, train=config or LAB_TRAIN_DEFAULTS, label_columns=label_columns, models=models,
        confine_to_folder=True, archive=True, seeds=seeds, baselines=baselines, source_name=source_name,
    )
    return run_training(manifest, settings, out_dir=out_dir, progress=progress)

