"""``python -m mmdemo bench``: the side-by-side benchmark (see :mod:`mmdemo.bench`)."""

from __future__ import annotations

from mmdemo.bench.cli import main as bench_main


def main(argv: list[str] | None = None) -> int:
    return bench_main(argv, prog="python -m mmdemo bench")
