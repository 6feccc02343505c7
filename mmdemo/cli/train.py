"""``python -m mmdemo train``: train fusion heads on a manifest and write a comparison report.

Example::

    python -m mmdemo train --data data/manifest.csv --fusion concat,gmu,lmf --epochs 40 --out runs/pets

writes ``runs/pets/heads/<strategy>/`` (one loadable head per strategy, its test metrics in its
head.json), ``runs/pets/report.md`` with its PNG figures, and ``runs/pets/summary.json``: the
layout of :func:`mmdemo.lab.run_training`, the program this command and the app's Fusion Lab run.
``--synthetic xor`` trains on a synthetic task instead of a manifest (no models needed).
``--seeds 5`` trains every strategy, and (by default, ``--no-baselines`` to skip) one baseline per
modality, with five seeds; the report and ``summary.json`` then hold every per-seed figure, the
means, standard deviations, 95 % t-intervals, paired t-tests, robustness curves and costs.
The training defaults are the Fusion Lab's (:data:`mmdemo.lab.LAB_TRAIN_DEFAULTS`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmdemo.evaluation.compare import Comparison
from mmdemo.evaluation.report import ReportFiles, score_table
from mmdemo.fusion.config import FusionConfig
from mmdemo.fusion.registry import list_fusions, parse_strategies
from mmdemo.errors import ConfigError
from mmdemo.evaluation.seeds import SeedStudy, ranked_table
from mmdemo.lab import HEADS_DIR, LAB_TRAIN_DEFAULTS, LabProgress, TrainingConfig, run_training
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.features import FeatureProgress, extract_features
from mmdemo.training.manifest import read_manifest
from mmdemo.training.optim import OPTIMIZERS, SCHEDULES
from mmdemo.training.synthetic import SYNTHETIC_TASKS, make_synthetic
from mmdemo.training.trainer import MONITORS, TrainConfig

DEFAULT_OUT = "runs/fusion"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that select the samples (shared with ``evaluate``)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="manifest (.csv, .tsv, .jsonl) with text/image/audio and label columns")
    source.add_argument("--synthetic", choices=SYNTHETIC_TASKS, help="use a synthetic task instead of a manifest")
    parser.add_argument("--samples", type=int, default=2000, help="samples of the synthetic task (default 2000)")
    parser.add_argument("--synthetic-seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--labels", help="comma-separated label columns (default: every non-modality column)")
    parser.add_argument("--quiet", action="store_true", help="print only the final table")


def synthetic_features(args: argparse.Namespace) -> FeatureSet:
    """The synthetic FeatureSet described by ``--synthetic``, ``--samples``, ``--synthetic-seed``."""
    return make_synthetic(args.synthetic, args.samples, seed=args.synthetic_seed)


def manifest_features(
    args: argparse.Namespace,
    models: dict[str, str | None],
    modalities: list[str] | None = None,
    label_names: dict[str, list[str]] | None = None,
) -> FeatureSet:
    """Read ``--data`` and embed it, printing skipped rows to stderr (``evaluate``'s data)."""
    labels = [part.strip() for part in args.labels.split(",") if part.strip()] if args.labels else None
    manifest = read_manifest(args.data, label_columns=labels)

    def report(event: FeatureProgress) -> None:
        if not args.quiet and event.done == event.total:
            print(f"embedded {event.total} {event.modality} input(s)", file=sys.stderr)

    features = extract_features(manifest, models=models, modalities=modalities, label_names=label_names, progress=report)
    if features.bad_rows:
        print(f"skipped {len(features.bad_rows)} bad row(s) of {args.data}:", file=sys.stderr)
        for bad in features.bad_rows[:50]:
            print(f"  {bad}", file=sys.stderr)
    return features


def print_comparison(comparison: Comparison, report_files: ReportFiles, study: SeedStudy | None = None) -> None:
    """The score tables (with a multi-seed study: its ranked tables and verdicts) and where the report is."""
    for task in comparison.tasks:
        if study is not None and (len(study.seeds) > 1 or study.baselines):
            print(f"\n{task} ({comparison.n_samples} {comparison.subset} samples, {len(study.seeds)} seed(s))")
            print(ranked_table(study, task))
            print(study.verdict(task))
        else:
            print(f"\n{task} ({comparison.n_samples} {comparison.subset} samples)")
            print(score_table(comparison, task))
    for line in study.chance_warnings() if study is not None else []:
        print(f"warning: {line}")
    print(f"\nreport: {report_files.markdown}")


def parse_strategy_lr(text: str) -> dict[str, float]:
    """``"attention=1e-3,gmu=3e-3"`` -> ``{"attention": 0.001, "gmu": 0.003}`` (empty text: none)."""
    rates: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        try:
            rates[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--strategy-lr wants NAME=RATE pairs, got {part!r}") from None
        if not sep:
            raise ConfigError(f"--strategy-lr wants NAME=RATE pairs, got {part!r}")
    return rates


def build_parser() -> argparse.ArgumentParser:
    defaults = LAB_TRAIN_DEFAULTS
    fusion = defaults.fusion
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo train",
        description="Train fusion heads (one per strategy, same split) and write a comparison report.",
    )
    add_data_arguments(parser)
    parser.add_argument("--fusion", default="all", help=f"comma-separated strategies or 'all' (valid: {', '.join(list_fusions())})")
    parser.add_argument("--modalities", help="comma-separated modalities to use (default: all in the manifest)")
    parser.add_argument("--text-model", help="registry name of the text encoder (default: the preset's image-text model)")
    parser.add_argument("--image-model", help="registry name of the image encoder (default: the preset's image-text model)")
    parser.add_argument("--audio-model", help="registry name of the audio encoder (default: the preset's audio model)")
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help=f"output folder (default {DEFAULT_OUT})")

    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=defaults.epochs, help=f"maximum epochs (default {defaults.epochs})")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default {defaults.batch_size}")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer, help=f"default {defaults.optimizer}")
    train.add_argument("--lr", type=float, default=defaults.lr, help=f"learning rate (default {defaults.lr})")
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help=f"L2 (default {defaults.weight_decay})")
    train.add_argument("--l1", type=float, default=defaults.l1, help=f"L1 penalty on weights (default {defaults.l1})")
    train.add_argument("--momentum", type=float, default=defaults.momentum, help=f"SGD/RMSprop momentum (default {defaults.momentum})")
    train.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule, help=f"LR schedule (default {defaults.schedule})")
    train.add_argument("--step-size", type=int, default=defaults.step_size, help=f"epochs per step decay (default {defaults.step_size})")
    train.add_argument("--step-gamma", type=float, default=defaults.step_gamma, help=f"step decay factor (default {defaults.step_gamma})")
    train.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs, help=f"cosine warm-up (default {defaults.warmup_epochs})")
    train.add_argument("--feature-noise", type=float, default=defaults.feature_noise, help="noise std relative to each embedding's RMS (default 0)")
    train.add_argument("--modality-dropout", type=float, default=defaults.modality_dropout, help="probability of dropping each modality (default 0)")
    train.add_argument("--patience", type=int, default=defaults.patience, help=f"early-stopping patience, 0 = off (default {defaults.patience})")
    train.add_argument("--monitor", choices=MONITORS, default=defaults.monitor, help=f"default {defaults.monitor}")
    train.add_argument("--val-fraction", type=float, default=defaults.val_fraction, help=f"default {defaults.val_fraction}")
    train.add_argument("--test-fraction", type=float, default=defaults.test_fraction, help=f"default {defaults.test_fraction}")
    train.add_argument("--seed", type=int, default=defaults.seed, help=f"default {defaults.seed}")
    train.add_argument("--strategy-lr", default=",".join(f"{k}={v:g}" for k, v in defaults.strategy_lr.items()),
                       help="per-strategy learning rates, NAME=RATE,... (default "
                            f"{','.join(f'{k}={v:g}' for k, v in defaults.strategy_lr.items()) or 'none'}; '' for none)")
    train.add_argument("--seeds", type=int, default=1, help="train every strategy with this many seeds (seed, seed+1, ...), "
                       "report mean, std, 95%% t-intervals and paired t-tests (default 1)")
    train.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                       help="also train one single-modality baseline per modality (default on)")
    train.add_argument("--robustness", action=argparse.BooleanOptionalAction, default=True,
                       help="also score accuracy under feature noise and missing modalities (default on)")
    train.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads while training (default 1, fastest for small heads; 0 = torch's setting)")

    arch = parser.add_argument_group("fusion architecture")
    arch.add_argument("--out-dim", type=int, default=fusion.out_dim, help=f"fused vector width (default {fusion.out_dim})")
    arch.add_argument("--hidden-dim", type=int, default=fusion.hidden_dim, help=f"hidden width (default {fusion.hidden_dim})")
    arch.add_argument("--dropout", type=float, default=fusion.dropout, help=f"default {fusion.dropout}")
    arch.add_argument("--concat-layers", type=int, default=fusion.concat_hidden_layers, help=f"concat hidden layers, 0 = linear (default {fusion.concat_hidden_layers})")
    arch.add_argument("--tfn-dim", type=int, default=fusion.tfn_dim, help=f"TFN projection width (default {fusion.tfn_dim})")
    arch.add_argument("--rank", type=int, default=fusion.rank, help=f"LMF rank (default {fusion.rank})")
    arch.add_argument("--heads", type=int, default=fusion.num_heads, help=f"attention heads (default {fusion.num_heads})")
    arch.add_argument("--layers", type=int, default=fusion.num_layers, help=f"attention layers (default {fusion.num_layers})")
    arch.add_argument("--head-layers", type=int, default=fusion.head_layers,
                      help=f"hidden layers of each task's classifier over the fused vector, 0 = linear; late fusion stays linear (default {fusion.head_layers})")

    parser.add_argument("--few-shot", type=int, metavar="K", help="also score few-shot classifiers (prototype, linear probe) with K examples per class")

    scale = parser.add_argument_group("embedding on a Ray cluster (pip install -r requirements-scale.txt)")
    scale.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="embed the manifest in this process (default) or on a Ray cluster; training runs here")
    scale.add_argument("--address", help="--engine ray: the cluster (auto, HOST:PORT); default: start Ray on this machine")
    scale.add_argument("--workers", type=int, default=2, help="--engine ray: embedding actors (default 2)")
    return parser


def ray_features(args: argparse.Namespace, settings: TrainingConfig) -> FeatureSet:
    """``--data`` embedded on a Ray cluster (the same FeatureSet ``extract_features`` gives here)."""
    from mmdemo.loading import SETTINGS
    from mmdemo.presets import active_preset
    from mmdemo.scale.features import extract_features_ray
    from mmdemo.scale.ray_embed import RayJobConfig

    manifest = read_manifest(args.data, label_columns=settings.label_columns)
    job = RayJobConfig(workers=args.workers, preset=active_preset(), dtype=SETTINGS.dtype)
    return extract_features_ray(manifest, models=settings.models, modalities=settings.modalities,
                                config=job, address=args.address)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    fusion = FusionConfig(
        out_dim=args.out_dim, hidden_dim=args.hidden_dim, dropout=args.dropout, concat_hidden_layers=args.concat_layers,
        tfn_dim=args.tfn_dim, rank=args.rank, num_heads=args.heads, num_layers=args.layers,
        head_layers=args.head_layers,
    )
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        weight_decay=args.weight_decay, l1=args.l1, momentum=args.momentum, schedule=args.schedule,
        step_size=args.step_size, step_gamma=args.step_gamma, warmup_epochs=args.warmup_epochs,
        feature_noise=args.feature_noise, modality_dropout=args.modality_dropout, patience=args.patience,
        monitor=args.monitor, val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed,
        threads=args.threads or None, fusion=fusion, strategy_lr=parse_strategy_lr(args.strategy_lr),
    ).validate()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    labels = [part.strip() for part in args.labels.split(",") if part.strip()] if args.labels else None
    settings = TrainingConfig(
        strategies=parse_strategies(args.fusion),
        train=config_from_args(args),
        label_columns=labels,
        modalities=[m.strip() for m in args.modalities.split(",")] if args.modalities else None,
        models={"text": args.text_model, "image": args.image_model, "audio": args.audio_model},
        few_shot=args.few_shot,
        seeds=args.seeds,
        baselines=args.baselines,
        robustness=args.robustness,
    ).validate()
    if args.synthetic:
        data = synthetic_features(args)
    elif args.engine == "ray":
        data = ray_features(args, settings)
    else:
        data = args.data

    def progress(event: LabProgress) -> None:
        if not args.quiet and event.finished and event.stage != "report":
            print(event.message, file=sys.stderr)

    run = run_training(data, settings, out_dir=args.out, progress=progress)
    if run.bad_rows:
        print(f"skipped {len(run.bad_rows)} bad row(s) of {args.data}:", file=sys.stderr)
        for bad in run.bad_rows[:50]:
            print(f"  {bad}", file=sys.stderr)
    print_comparison(run.comparison, run.report, run.study)
    print(f"heads: {args.out / HEADS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
