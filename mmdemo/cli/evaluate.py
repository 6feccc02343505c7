"""``python -m mmdemo evaluate``: score saved fusion heads on a manifest and write a comparison report.

Example::

    python -m mmdemo evaluate --heads runs/pets/heads --data data/test.csv --out runs/pets-test

``--heads`` takes head folders or folders that hold head folders at any depth (like
``runs/pets/heads``). The heads must share their encoders and labels; the manifest is embedded
once with those encoders. With ``--split test`` only rows whose ``split`` column says ``test``
are scored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmdemo.cli.train import add_data_arguments, manifest_features, print_comparison, synthetic_features
from mmdemo.errors import IncompatibleError

DEFAULT_OUT = "runs/evaluation"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo evaluate",
        description="Score saved fusion heads on a manifest (metrics, ablation, comparison report).",
    )
    parser.add_argument("--heads", type=Path, nargs="+", required=True, help="head folders, or folders that contain head folders")
    add_data_arguments(parser)
    parser.add_argument("--split", choices=("all", "test"), default="all", help="score all rows (default) or only split=test rows")
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help=f"report folder (default {DEFAULT_OUT})")
    return parser


def find_heads(paths: list[Path]) -> list[Path]:
    """Head folders at or below each of ``paths``, in the order given (sorted within a folder)."""
    from mmdemo.training.catalog import find_heads as heads_in
    from mmdemo.training.head import CONFIG_FILE

    found: list[Path] = []
    for path in paths:
        heads = heads_in(path)
        if not heads:
            raise IncompatibleError(f"no fusion head found at {path} (a head folder holds {CONFIG_FILE})")
        found += heads
    return found


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from mmdemo.evaluation.compare import compare_heads
    from mmdemo.evaluation.report import write_report
    from mmdemo.training.head import FusionHead

    heads = [FusionHead.load(folder) for folder in find_heads(args.heads)]
    first = heads[0]
    for head in heads[1:]:
        if head.encoders != first.encoders or head.label_names != first.label_names:
            raise IncompatibleError(
                f"the {head.strategy} head uses other encoders or labels than the {first.strategy} head; "
                "evaluate heads from one training run together"
            )
    if args.synthetic:
        features = synthetic_features(args)
    else:
        if not first.encoders:
            raise IncompatibleError("these heads were trained on synthetic features and have no encoders; use --synthetic")
        models = {name: info.model for name, info in first.encoders.items()}
        features = manifest_features(args, models, list(first.encoders), first.label_names)
    indices, subset = None, "all"
    if args.split == "test":
        if features.splits is None:
            raise IncompatibleError(f"--split test needs a 'split' column in {args.data}")
        indices = torch.tensor([i for i, split in enumerate(features.splits) if split == "test"], dtype=torch.long)
        if len(indices) == 0:
            raise IncompatibleError(f"no row of {args.data} has split=test")
        subset = "test"
    comparison = compare_heads(heads, features, indices=indices, subset=subset)
    report_files = write_report(comparison, args.out, title="Fusion head evaluation")
    print_comparison(comparison, report_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
