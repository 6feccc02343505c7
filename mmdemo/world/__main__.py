"""``python -m mmdemo.world``: write the world data set to disk (files plus a manifest per split)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmdemo.world.dataset import SPLITS, WorldConfig, write_world


def _sizes(text: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        if name.strip() not in SPLITS or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected split=count with splits {list(SPLITS)}, got {part!r}")
        sizes[name.strip()] = int(count)
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo world",
        description=(
            "Write the procedural shapes world as files: per split a manifest.csv (text, image, audio, "
            "labels: the Fusion Lab's format), records.jsonl, PNG images and 16 kHz WAV sounds."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--sizes", type=_sizes, default=_sizes("train=2000,val=500,test=500"), help="split=count,... (default: train=2000,val=500,test=500)")
    parser.add_argument("--seed", type=int, default=0, help="world seed (default: 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = WorldConfig(seed=args.seed)
    for split, manifest in write_world(args.out, args.sizes, config).items():
        print(f"{split}: {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
