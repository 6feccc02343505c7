"""Workloads without a model-card baseline: retrieval search and Fusion Lab training."""

from __future__ import annotations

import time
from collections.abc import Callable

from mmdemo.bench.config import BenchConfig
from mmdemo.bench.results import FusionResult
from mmdemo.retrieval.bench import RetrievalBench, RetrievalBenchConfig, run_retrieval_bench
from mmdemo.retrieval.config import ApproxConfig, IndexConfig
from mmdemo.training.synthetic import make_synthetic
from mmdemo.training.trainer import TrainConfig, train_heads

Say = Callable[[str], None]


def retrieval_workload(config: BenchConfig, say: Say) -> RetrievalBench:
    """Exact search with float32 and bfloat16 storage (and the index's default), and its default
    approximate search kind.

    Delegates to :func:`mmdemo.retrieval.bench.run_retrieval_bench` (one text-sized query per call,
    top-10, 512-d); ``python -m mmdemo.retrieval.bench`` measures every storage dtype and approximate search kind.
    """
    defaults = IndexConfig()
    bench_config = RetrievalBenchConfig(
        sizes=config.retrieval_sizes,
        timed_queries=config.retrieval_queries,
        dtypes=tuple(dict.fromkeys(("float32", "bfloat16", defaults.storage_dtype))),
        approx_kinds=(ApproxConfig().kind,),
        seed=config.seed,
    )
    return run_retrieval_bench(bench_config, progress=say)


def fusion_workload(config: BenchConfig, say: Say) -> FusionResult:
    """Train every fusion strategy on ``fusion_samples`` synthetic samples for ``fusion_epochs`` epochs.

    The synthetic XOR task of ``python -m mmdemo train --synthetic xor`` (two 16-d modalities);
    early stopping is off, so every strategy runs every epoch.
    """
    features = make_synthetic("xor", config.fusion_samples, seed=config.seed)
    train_config = TrainConfig(epochs=config.fusion_epochs, patience=0, seed=config.seed)
    say(f"Fusion Lab: every strategy, {config.fusion_samples} samples, {config.fusion_epochs} epochs")
    start = time.perf_counter()
    results = train_heads(features, "all", train_config)
    total = time.perf_counter() - start
    return FusionResult(
        samples=config.fusion_samples,
        epochs=config.fusion_epochs,
        dims=dict(features.dims),
        total_s=total,
        per_strategy_s={result.strategy: result.seconds for result in results},
        val_accuracy={result.strategy: _best_val_accuracy(result) for result in results},
        threads=train_config.threads,
    )


def _best_val_accuracy(result) -> float | None:
    """Validation accuracy at the epoch whose weights the head kept (a sanity check of training)."""
    for record in result.history:
        if record.epoch == result.best_epoch:
            return record.val_accuracy
    return None
