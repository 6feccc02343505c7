"""Retrieval speed: exact search per storage dtype and the approximate methods, with recall@k.

``python -m mmdemo.retrieval.bench [--quick] [--sizes 100000,1000000] [--json OUT]``

Every figure goes through :class:`~mmdemo.retrieval.index.RetrievalIndex` (the code the app and the
CLI run), one query per call, top-10. The vectors are synthetic 512-d embeddings with the structure
of real ones: clusters in a low-dimensional latent space mapped into the full dimension plus a
little isotropic noise (``--data random`` gives unstructured Gaussian vectors instead, the worst case
for approximate search). Queries are held-out draws from the same distribution. Recall@k of the
approximate methods and of half-precision storage is measured against float32 exact search.

Beside each exact search the bench times reading the stored vectors once (the maximum of their
bytes, a vectorised pass that does no arithmetic worth the name, in the same loop): the floor of
any exact search over that storage. A 1M x 512 float32 matrix is 2 GB, so on a machine that reads
~20 GB/s the floor alone is ~100 ms.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import faiss
import torch

from mmdemo.retrieval.config import APPROX_KINDS, STORAGE_DTYPES, ApproxConfig, IndexConfig
from mmdemo.retrieval.index import RetrievalIndex, SearchResult
from mmdemo.retrieval.items import IndexItem

logger = logging.getLogger(__name__)

DATA_KINDS = ("clustered", "random")
_CHUNK = 100_000  # vectors generated and added at a time (bounds peak memory)
_LATENT_DIM = 64
_CLUSTERS = 1_000


@dataclass(frozen=True)
class RetrievalBenchConfig:
    """What to measure.

    Attributes:
        sizes: numbers of stored vectors.
        dim: vector dimension (512: CLIP ViT-B/32).
        k: results per query.
        timed_queries: single queries timed per measurement (median and p90 reported).
        recall_queries: queries used to measure recall@k against float32 exact search.
        dtypes: storage dtypes timed for exact search.
        approx_kinds: approximate methods built and timed (empty: none).
        approx: settings of the approximate methods (``kind`` is replaced by each of approx_kinds).
        data: ``"clustered"`` (structured like real embeddings) or ``"random"``.
        seed: seed of the data and the queries.
        warmup: untimed queries before each timing.
    """

    sizes: tuple[int, ...] = (100_000, 1_000_000)
    dim: int = 512
    k: int = 10
    timed_queries: int = 50
    recall_queries: int = 200
    dtypes: tuple[str, ...] = ("float32", "bfloat16", "float16")
    approx_kinds: tuple[str, ...] = ("hnsw", "ivf")
    approx: ApproxConfig = field(default_factory=ApproxConfig)
    data: str = "clustered"
    seed: int = 0
    warmup: int = 3

    def __post_init__(self) -> None:
        if self.data not in DATA_KINDS:
            raise ValueError(f"Unknown data kind {self.data!r}; valid: {list(DATA_KINDS)}")
        for dtype in self.dtypes:
            if dtype not in STORAGE_DTYPES:
                raise ValueError(f"Unknown storage dtype {dtype!r}; valid: {list(STORAGE_DTYPES)}")
        for kind in self.approx_kinds:
            if kind not in APPROX_KINDS:
                raise ValueError(f"Unknown approximate kind {kind!r}; valid: {list(APPROX_KINDS)}")
        if "float32" not in self.dtypes:
            raise ValueError("dtypes must include float32: it is the reference for recall and speed-ups")
        if not self.sizes or min(self.sizes) < self.k:
            raise ValueError(f"Every size must be >= k={self.k}, got {list(self.sizes)}")


@dataclass
class ExactTiming:
    """Exact search of one size and storage dtype."""

    size: int
    dtype: str
    median_ms: float
    p90_ms: float
    recall_vs_float32: float
    read_once_ms: float = 0.0  # median time to read the stored matrix's bytes once, same loop


@dataclass
class ApproxTiming:
    """One approximate method at one size."""

    size: int
    kind: str
    build_s: float
    median_ms: float
    p90_ms: float
    speedup_vs_exact_float32: float
    recall_at_k: float


@dataclass
class RetrievalBench:
    """All measurements of one run, and where they were taken."""

    config: RetrievalBenchConfig
    exact: list[ExactTiming] = field(default_factory=list)
    approx: list[ApproxTiming] = field(default_factory=list)
    torch_threads: int = 0
    faiss_threads: int = 0
    versions: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        """Markdown tables of the exact and approximate measurements."""
        k = self.config.k
        lines = [
            f"| vectors | exact search, storage | median ms | p90 ms | reading the vectors once, ms | recall@{k} vs float32 |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.size:,} | {t.dtype} | {t.median_ms:.2f} | {t.p90_ms:.2f} | {t.read_once_ms:.2f} | {t.recall_vs_float32:.3f} |"
            for t in self.exact
        ]
        if self.approx:
            lines += ["", f"| vectors | approximate | build s | median ms | p90 ms | speed-up vs exact float32 | recall@{k} |",
                      "|---|---|---|---|---|---|---|"]
            lines += [
                f"| {t.size:,} | {t.kind} | {t.build_s:.1f} | {t.median_ms:.3f} | {t.p90_ms:.3f} | "
                f"{t.speedup_vs_exact_float32:.0f}x | {t.recall_at_k:.3f} |"
                for t in self.approx
            ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SyntheticSpace:
    """Synthetic embeddings: clusters in a 64-d latent space, projected to ``dim`` plus a little
    isotropic noise (``"clustered"``), or plain Gaussian vectors (``"random"``)."""

    def __init__(self, dim: int, seed: int, data: str) -> None:
        base = torch.Generator().manual_seed(seed)
        self.dim, self.seed, self.data = dim, seed, data
        self.centres = torch.randn(_CLUSTERS, _LATENT_DIM, generator=base)
        self.projection = torch.randn(_LATENT_DIM, dim, generator=base) / _LATENT_DIM**0.5

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """[n, dim] vectors (not normalised)."""
        if self.data == "random":
            return torch.randn(n, self.dim, generator=generator)
        latent = self.centres[torch.randint(0, _CLUSTERS, (n,), generator=generator)]
        latent = latent + 0.5 * torch.randn(n, _LATENT_DIM, generator=generator)  # [n, latent]
        return latent @ self.projection + 0.1 * torch.randn(n, self.dim, generator=generator)  # [n, dim]

    def chunks(self, n: int) -> Iterator[torch.Tensor]:
        """The stored vectors, in chunks of at most 100k rows (deterministic)."""
        for index, start in enumerate(range(0, n, _CHUNK)):
            yield self.draw(min(_CHUNK, n - start), torch.Generator().manual_seed(self.seed * 1_000_003 + index + 1))

    def queries(self, n: int) -> torch.Tensor:
        """Held-out draws of the same distribution."""
        return self.draw(n, torch.Generator().manual_seed(self.seed * 1_000_003 + 999_983))


def _fill(index: RetrievalIndex, size: int, space: SyntheticSpace) -> None:
    start = 0
    for chunk in space.chunks(size):
        items = [IndexItem(f"v{start + i}", "image", f"v{start + i}") for i in range(chunk.shape[0])]
        index.add_embeddings(chunk, items, model="synthetic", space="synthetic")
        start += chunk.shape[0]


def _interleaved_ms(searches: dict[str, Callable[[torch.Tensor], object]], queries: torch.Tensor, config: RetrievalBenchConfig) -> dict[str, list[float]]:
    """Per-query times (ms) of several searches, run in turn on each query, so that a busy or
    throttling CPU slows them alike."""
    for query in queries[: config.warmup]:
        for search in searches.values():
            search(query)
    times: dict[str, list[float]] = {name: [] for name in searches}
    for query in queries[: config.timed_queries]:
        for name, search in searches.items():
            start = time.perf_counter()
            search(query)
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def _median_p90(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _recall(reference: list[SearchResult], results: list[SearchResult]) -> float:
    found = sum(len(set(r.ids) & set(o.ids)) for r, o in zip(reference, results))
    return found / max(sum(len(r.ids) for r in reference), 1)


def run_retrieval_bench(
    config: RetrievalBenchConfig = RetrievalBenchConfig(), progress: Callable[[str], None] | None = None
) -> RetrievalBench:
    """Measure exact search per dtype and each approximate method at each size.

    Exact searches of all dtypes are timed in turn on the same queries; each approximate method is
    timed in turn with float32 exact search, and its speed-up is the ratio of those two medians.
    """
    say = progress or (lambda message: logger.info("%s", message))
    bench = RetrievalBench(
        config=config,
        torch_threads=torch.get_num_threads(),
        faiss_threads=faiss.omp_get_max_threads(),
        versions={"torch": torch.__version__, "faiss": faiss.__version__},
    )
    space = SyntheticSpace(config.dim, config.seed, config.data)
    queries = space.queries(max(config.timed_queries + config.warmup, config.recall_queries))
    recall_queries = queries[: config.recall_queries]
    for size in config.sizes:
        indexes: dict[str, RetrievalIndex] = {}
        for dtype in config.dtypes:
            say(f"{size:,} vectors: filling a {dtype} index")
            indexes[dtype] = RetrievalIndex(IndexConfig(storage_dtype=dtype, method="exact"))
            _fill(indexes[dtype], size, space)
        reference = indexes["float32"].search_batch(recall_queries, k=config.k)
        searches: dict[str, Callable[[torch.Tensor], object]] = {}
        for dtype, index in indexes.items():
            searches[dtype] = lambda q, index=index: index.search(q, k=config.k)
            searches[f"{dtype} read"] = lambda q, stored=index.vectors: stored.view(torch.uint8).amax()  # every byte once
        times = _interleaved_ms(searches, queries, config)
        for dtype, index in indexes.items():
            median, p90 = _median_p90(times[dtype])
            read_once = statistics.median(times[f"{dtype} read"])
            recall = _recall(reference, index.search_batch(recall_queries, k=config.k))
            bench.exact.append(ExactTiming(size, dtype, median, p90, recall, read_once))
            say(f"{size:,} vectors, {dtype}: exact median {median:.2f} ms (reading the vectors once: "
                f"{read_once:.2f} ms), recall@{config.k} vs float32 {recall:.3f}")
        exact = indexes["float32"]
        for dtype in [d for d in indexes if d != "float32"]:
            del indexes[dtype]  # free memory before building approximate structures
        for kind in config.approx_kinds:
            exact.config = replace(exact.config, approx=replace(config.approx, kind=kind))
            say(f"{size:,} vectors: building {kind}")
            start = time.perf_counter()
            exact.build_approx()
            build_s = time.perf_counter() - start
            pair = _interleaved_ms(
                {
                    "exact": lambda q: exact.search(q, k=config.k, method="exact"),
                    "approx": lambda q: exact.search(q, k=config.k, method="approx"),
                },
                queries, config,
            )
            median, p90 = _median_p90(pair["approx"])
            exact_median = statistics.median(pair["exact"])
            recall = _recall(reference, exact.search_batch(recall_queries, k=config.k, method="approx"))
            bench.approx.append(ApproxTiming(size, kind, build_s, median, p90, exact_median / median, recall))
            say(f"{size:,} vectors, {kind}: built in {build_s:.0f} s, median {median:.3f} ms "
                f"(exact float32 {exact_median:.2f} ms in the same loop), recall@{config.k} {recall:.3f}")
            exact.drop_approx()  # free the structure before the next one
        del exact, indexes
    return bench


def _csv(text: str, cast: Callable[[str], Any]) -> tuple[Any, ...]:
    return tuple(cast(part.strip()) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo.retrieval.bench",
        description="Time exact search (per storage dtype) and the approximate methods of the retrieval "
        "index on synthetic 512-d embeddings: one query per call, top-10, median of many queries, and "
        "recall@10 against float32 exact search.",
    )
    parser.add_argument("--quick", action="store_true", help="sizes 20,000 and 100,000 (a minute or two)")
    parser.add_argument("--sizes", help="comma-separated numbers of vectors (default 100000,1000000)")
    parser.add_argument("--dim", type=int, default=512, help="vector dimension (default 512)")
    parser.add_argument("--dtypes", default="float32,bfloat16,float16", help="storage dtypes for exact search")
    parser.add_argument("--approx", default="hnsw,ivf", help="approximate kinds to build ('' for none)")
    parser.add_argument("--data", choices=DATA_KINDS, default="clustered", help="synthetic data kind")
    parser.add_argument("--queries", type=int, default=50, help="timed queries per measurement (default 50)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)
    sizes = _csv(args.sizes, int) if args.sizes else ((20_000, 100_000) if args.quick else (100_000, 1_000_000))
    config = RetrievalBenchConfig(
        sizes=sizes, dim=args.dim, dtypes=_csv(args.dtypes, str), approx_kinds=_csv(args.approx, str),
        data=args.data, timed_queries=args.queries,
    )
    bench = run_retrieval_bench(config, progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(f"torch {bench.versions['torch']} ({bench.torch_threads} threads), faiss {bench.versions['faiss']} "
          f"({bench.faiss_threads} threads), {config.data} data, {config.dim}-d, top-{config.k}")
    print(bench.table())
    if args.json:
        from mmdemo.storage import write_json_atomic

        write_json_atomic(Path(args.json), bench.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
