"""``python -m mmdemo.scale.bench --folder F``: local vs Ray embedding throughput on the same files.

Each engine embeds the first half of the folder's media files and then all of them (fresh output,
no embedding cache); a straight line through the two timings splits each engine's cost into a
fixed part (for Ray: starting a job's actors and their model loads) and a per-file part. Both
engines run once first on a few files (the local model load, Ray's first worker start-up), and
Ray's own start-up (``ray.init`` or joining a cluster) is reported separately.

Example::

    python -m mmdemo.scale.bench --folder data/world/test/images --workers 2 --batch-size 16
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class EngineCost:
    """One engine's timings and the line through them."""

    engine: str
    small_files: int
    small_s: float
    full_files: int
    full_s: float
    fixed_s: float
    per_file_ms: float

    @property
    def files_per_s(self) -> float:
        return 1e3 / self.per_file_ms if self.per_file_ms > 0 else float("inf")


@dataclass
class BenchReport:
    """Both engines on the same files, and what starting Ray cost."""

    folder: str
    batch_size: int
    workers: int
    ray_start_s: float
    ray_first_job_s: float
    local_first_s: float
    local: EngineCost
    ray: EngineCost

    def table(self) -> str:
        lines = [f"{self.folder}: batch size {self.batch_size}, {self.workers} Ray workers; Ray start "
                 f"{self.ray_start_s:.1f} s, first Ray job {self.ray_first_job_s:.1f} s, first local call {self.local_first_s:.1f} s",
                 f"{'engine':<6} {'fixed s':>8} {'ms/file':>8} {'files/s':>8}   timings"]
        for cost in (self.local, self.ray):
            lines.append(f"{cost.engine:<6} {cost.fixed_s:8.1f} {cost.per_file_ms:8.1f} {cost.files_per_s:8.1f}   "
                         f"{cost.small_files} files {cost.small_s:.1f} s, {cost.full_files} files {cost.full_s:.1f} s")
        return "\n".join(lines)


def _line(engine: str, small: int, small_s: float, full: int, full_s: float) -> EngineCost:
    slope = max((full_s - small_s) / (full - small), 0.0)
    return EngineCost(engine, small, small_s, full, full_s, max(small_s - small * slope, 0.0), slope * 1e3)


def _time_local(paths: list[str], batch_size: int) -> float:
    from mmdemo.retrieval.embedder import default_embedder
    from mmdemo.retrieval.index import RetrievalIndex

    index = RetrievalIndex(embedder=default_embedder(batch_size=batch_size, use_cache=False))
    start = time.perf_counter()
    index.add_files(paths, batch_size=batch_size)
    return time.perf_counter() - start


def _time_ray(paths: list[str], batch_size: int, workers: int, work: Path) -> float:
    from mmdemo.loading import SETTINGS
    from mmdemo.presets import active_preset
    from mmdemo.scale.ray_embed import RayJobConfig, embed_sources

    out = Path(tempfile.mkdtemp(dir=work))
    manifest = out / "files.txt"
    manifest.write_text("\n".join(paths) + "\n", encoding="utf-8")
    config = RayJobConfig(workers=workers, batch_size=batch_size, preset=active_preset(), dtype=SETTINGS.dtype)
    start = time.perf_counter()
    embed_sources([str(manifest)], out, config)
    return time.perf_counter() - start


def run_bench(folder: str | Path, *, batch_size: int = 32, workers: int = 2, address: str | None = None) -> BenchReport:
    """Time both engines on ``folder`` (see the module docstring)."""
    from mmdemo.errors import ConfigError
    from mmdemo.scale.cluster import connected
    from mmdemo.scale.listing import list_source

    paths = [file.path for file in list_source(folder).files]
    if len(paths) < 4:
        raise ConfigError(f"{folder} holds {len(paths)} media files; the benchmark needs at least 4")
    small = len(paths) // 2
    first = _time_local(paths[:2], batch_size)  # loads the model
    local = _line("local", small, _time_local(paths[:small], batch_size), len(paths), _time_local(paths, batch_size))
    with tempfile.TemporaryDirectory(prefix="mmdemo-bench-") as work:
        start = time.perf_counter()
        with connected(address):
            ray_start = time.perf_counter() - start
            ray_first = _time_ray(paths[:2], batch_size, workers, Path(work))
            ray_small = _time_ray(paths[:small], batch_size, workers, Path(work))
            ray_full = _time_ray(paths, batch_size, workers, Path(work))
    return BenchReport(str(folder), batch_size, workers, ray_start, ray_first, first, local,
                       _line("ray", small, ray_small, len(paths), ray_full))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmdemo.scale.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", required=True, help="folder of media files (images, audio, .txt)")
    parser.add_argument("--batch-size", type=int, default=32, help="files per embedding call (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="Ray embedding actors (default 2)")
    parser.add_argument("--address", help="Ray cluster (auto, HOST:PORT); default: start Ray on this machine")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run_bench(args.folder, batch_size=args.batch_size, workers=args.workers, address=args.address)
    print(report.table())
    if args.json:
        from mmdemo.storage import write_json_atomic

        write_json_atomic(args.json, asdict(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
