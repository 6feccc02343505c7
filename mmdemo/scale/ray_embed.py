"""Embedding planned batches on a Ray cluster with Ray Data, and writing them as shards.

The pipeline (one Ray Data dataset, streamed)::

    from_items(batches)                 one row per planned batch (ids, paths, modality)
      .map(read_batch)                  tasks: read and decode the files in parallel (images to
                                        RGB pixels, texts to UTF-8); failures become row errors
      .map_batches(BatchEmbedder, ...)  an actor pool: each actor loads the models once and calls
                                        mmdemo.encoders.embed on one planned batch at a time
      .iter_rows()                      the driver gathers the batches of each shard and writes the
                                        shard (and job.json) as soon as the shard is complete

A batch that comes back twice (a task retried after an actor or a node died) is counted once: the
driver keeps the first copy, and shard files have fixed names. Ray Data retries tasks of killed
actors and rebuilds objects lost with a node, so a job survives worker loss; a job stopped outright
is resumed by running it again (finished shards are reused).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmdemo.errors import MediaError
from mmdemo.retrieval.build import SkippedFile
from mmdemo.scale.listing import is_uri, list_source, read_bytes
from mmdemo.scale.shards import SHARDS_FOLDER, Batch, JobManifest, Shard, ShardRows, plan_shards, write_shard

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0


@dataclass
class RayJobConfig:
    """How a job runs on the cluster.

    Attributes:
        workers: embedding actors (each loads the models once).
        batch_size: files per embedding call (as ``--batch-size`` on the local engine).
        gpus_per_worker: GPUs per actor (0: CPU; a fraction shares a GPU).
        cpus_per_worker: CPUs reserved per actor (torch uses as many threads).
        read_cpus: CPUs reserved per read-and-decode task.
        models: modality -> registry name (None: the preset's default).
        preset: model preset applied in every worker (``bundled``, ``pretrained``, ``offline``).
        dtype: runtime dtype in every worker (``float32`` gives vectors equal to a float32 local run).
    """

    workers: int = 2
    batch_size: int = 32
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    read_cpus: float = 0.25
    models: dict[str, str | None] = field(default_factory=dict)
    preset: str = "bundled"
    dtype: str = "float32"

    def settings(self) -> dict[str, Any]:
        """What the vectors depend on (part of every shard's key)."""
        return {"models": {k: v for k, v in sorted(self.models.items())}, "preset": self.preset, "dtype": self.dtype,
                "device": "cuda" if self.gpus_per_worker > 0 else "cpu"}


@dataclass
class ShardJobReport:
    """What a job did: shards reused and computed, files embedded and skipped."""

    shards_total: int = 0
    ignored: list[str] = field(default_factory=list)
    shards_reused: int = 0
    shards_computed: int = 0
    files: int = 0
    embedded: int = 0
    failed: list[SkippedFile] = field(default_factory=list)
    elapsed_s: float = 0.0


# ------------------------------------------------------------------------------ the stages


def _decode(modality: str, path: str) -> tuple[bytes, list[int]]:
    """A file read and decoded for the embedder: (payload, shape). Raises MediaError / OSError."""
    if modality == "image":
        from mmdemo.media import load_image

        pixels = np.asarray(load_image(read_bytes(path) if is_uri(path) else path), dtype=np.uint8)
        return pixels.tobytes(), list(pixels.shape)
    if modality == "text":
        raw = read_bytes(path)
        raw.decode("utf-8")  # the local engine reads texts as UTF-8 and skips the others
        return raw, []
    # Audio is decoded by the embedder itself (resampling belongs to the model); local files are read there.
    return (read_bytes(path) if is_uri(path) else b""), []


def read_batch(row: dict[str, Any]) -> dict[str, Any]:
    """Ray Data ``map`` stage: read and decode every file of a planned batch."""
    payloads, shapes, errors = [], [], []
    for path in row["paths"]:
        if row.get("literal"):
            payloads.append(path.encode("utf-8"))
            shapes.append([])
            errors.append(None)
            continue
        try:
            payload, shape = _decode(row["modality"], path)
            error = None
        except MediaError as err:
            payload, shape, error = b"", [], str(err)
        except (OSError, UnicodeDecodeError) as err:
            payload, shape, error = b"", [], f"cannot read it ({err})"
        payloads.append(payload)
        shapes.append(shape)
        errors.append(error)
    return {**row, "payloads": payloads, "shapes": shapes, "errors": errors}


def _input(modality: str, path: str, payload: bytes, shape: list[int]) -> Any:
    if modality == "image":
        return np.frombuffer(payload, dtype=np.uint8).reshape(shape)
    if modality == "text":
        return payload.decode("utf-8")
    return payload if is_uri(path) else path


class BatchEmbedder:
    """Ray Data actor: the bundled-or-chosen models, loaded once per actor, embedding whole batches."""

    def __init__(self, models: dict[str, str | None], preset: str, dtype: str, device: str, threads: int) -> None:
        import torch

        import mmdemo
        from mmdemo.retrieval.embedder import models_for_encoders

        torch.set_num_threads(max(1, threads))
        mmdemo.use_preset(preset)
        mmdemo.configure_runtime(device=device, dtype=dtype)
        self.models = models_for_encoders(models)

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        rows = table.to_pylist()
        return pa.Table.from_pylist([self._embed_row(row) for row in rows], schema=_OUTPUT_SCHEMA())

    def _embed_row(self, row: dict[str, Any]) -> dict[str, Any]:
        import mmdemo.encoders

        modality, paths = row["modality"], row["paths"]
        errors: list[str | None] = list(row["errors"])
        vectors: list[bytes | None] = [None] * len(paths)
        usable = [i for i, error in enumerate(errors) if error is None]
        model = space = None
        if usable:
            inputs = [_input(modality, paths[i], row["payloads"][i], row["shapes"][i]) for i in usable]
            try:
                output = mmdemo.encoders.embed(
                    modality, inputs, model=self.models[modality], batch_size=len(inputs),
                    use_cache=False, skip_errors=True,
                )
            except MediaError as err:  # no input of the batch could be used
                for i in usable:
                    errors[i] = str(err)
            else:
                model, space = output.model, output.space
                embeddings = output.embeddings.float().contiguous().numpy()
                for row_index, input_index in enumerate(output.indices):
                    vectors[usable[input_index]] = embeddings[row_index].tobytes()
                for input_index, message in output.errors.items():
                    errors[usable[input_index]] = message
        return {"batch": row["batch"], "vectors": vectors, "errors": errors, "model": model, "space": space}


def _OUTPUT_SCHEMA():  # noqa: N802 - built lazily: pyarrow is imported only on the Ray path
    import pyarrow as pa

    return pa.schema([
        ("batch", pa.int64()), ("vectors", pa.list_(pa.binary())), ("errors", pa.list_(pa.string())),
        ("model", pa.string()), ("space", pa.string()),
    ])


# ------------------------------------------------------------------------------ the job


def fit_to_cluster(config: RayJobConfig, cluster_cpus: float) -> RayJobConfig:
    """``config`` with CPUs per worker lowered where the actors would leave no CPU for the readers
    (a pool that takes every CPU starves the read tasks and the job never starts)."""
    needed = config.workers * config.cpus_per_worker + config.read_cpus
    if cluster_cpus <= 0 or needed <= cluster_cpus:
        return config
    share = (cluster_cpus - config.read_cpus) / config.workers
    if share < 0.1:
        from mmdemo.errors import ConfigError

        raise ConfigError(
            f"{config.workers} workers do not fit on a cluster of {cluster_cpus:g} CPUs; use at most "
            f"{max(1, int((cluster_cpus - config.read_cpus) / 0.1))} (--workers)"
        )
    share = math.floor(share * 100) / 100
    logger.warning("%d workers x %g CPUs leave no CPU for reading on %g CPUs: reserving %g CPUs per worker",
                   config.workers, config.cpus_per_worker, cluster_cpus, share)
    return RayJobConfig(**{**config.__dict__, "cpus_per_worker": share})



class _Progress:
    """Logs files/s, shards done and the ETA every few seconds."""

    def __init__(self, shards: int, files: int) -> None:
        self.shards, self.files = shards, files
        self.start = self.last = time.monotonic()
        self.done_shards = self.done_files = 0

    def shard_done(self, files: int, force: bool = False) -> None:
        self.done_shards += 1
        self.done_files += files
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_SECONDS or self.done_shards == self.shards:
            self.last = now
            rate = self.done_files / max(now - self.start, 1e-9)
            eta = (self.files - self.done_files) / rate if rate > 0 else float("inf")
            logger.info("%d/%d shards, %d/%d files, %.1f files/s, ETA %.0f s",
                        self.done_shards, self.shards, self.done_files, self.files, rate, eta)


def _shard_rows(shard: Shard, results: dict[int, dict[str, Any]]) -> tuple[ShardRows, list[tuple[str, str]]]:
    rows, failed = ShardRows(), []
    for batch in shard.batches:
        result = results[batch.number]
        for file, vector, error in zip(batch.files, result["vectors"], result["errors"]):
            values = None if vector is None else np.frombuffer(vector, dtype=np.float32).tolist()
            if error is not None or values is None:
                error = error or "not embedded"
                failed.append((file.path, error))
                values = None
            rows.add(file, values, error, result["model"] if values is not None else None,
                     result["space"] if values is not None else None)
    return rows, failed


def run_shards(shards: list[Shard], folder: Path, config: RayJobConfig) -> ShardJobReport:
    """Embed the shards not finished yet on the connected Ray cluster and write them under ``folder``.

    Call inside :func:`mmdemo.scale.cluster.connected`.
    """
    from mmdemo.scale.cluster import require_ray

    ray = require_ray()
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    job = JobManifest.load(folder, config.settings())
    job.keep_only({shard.name for shard in shards})
    report = ShardJobReport(shards_total=len(shards), files=sum(len(s.files) for s in shards))
    todo = [shard for shard in shards if not job.is_done(shard)]
    for shard in shards:
        if job.is_done(shard):
            report.shards_reused += 1
            entry = job.finished[shard.name]
            report.embedded += entry.rows - len(entry.failed)
            report.failed += [SkippedFile(path, reason) for path, reason in entry.failed]
    logger.info("%d shards: %d finished before, %d to compute", len(shards), report.shards_reused, len(todo))
    if todo:
        _compute(ray, todo, folder, job, config, report)
    report.elapsed_s = time.perf_counter() - start
    return report


def stream_batches(ray: Any, batches: list[Batch], config: RayJobConfig, *, literal: bool = False) -> Any:
    """Run the pipeline over ``batches``; yields each batch's result once, as it completes.

    ``literal``: the files' paths are the texts themselves (Fusion Lab text columns), not files.
    """
    from ray.data import ActorPoolStrategy

    config = fit_to_cluster(config, float(ray.cluster_resources().get("CPU", 0.0)))
    items = [
        {"batch": b.number, "modality": b.modality, "paths": [f.path for f in b.files], "literal": literal}
        for b in batches
    ]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 1000)))
    dataset = dataset.map(read_batch, num_cpus=config.read_cpus)
    dataset = dataset.map_batches(
        BatchEmbedder,
        batch_size=1,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=config.workers),
        fn_constructor_kwargs={
            "models": dict(config.models), "preset": config.preset, "dtype": config.dtype,
            "device": "cuda" if config.gpus_per_worker > 0 else "cpu",
            "threads": max(1, int(config.cpus_per_worker)),
        },
        num_cpus=config.cpus_per_worker,
        num_gpus=config.gpus_per_worker or None,
    )
    seen: set[int] = set()
    for result in dataset.iter_rows():
        number = int(result["batch"])
        if number in seen:
            continue  # a copy of a batch already taken (a retried task)
        seen.add(number)
        yield number, result


def _compute(ray: Any, todo: list[Shard], folder: Path, job: JobManifest, config: RayJobConfig, report: ShardJobReport) -> None:
    batches: dict[int, Batch] = {batch.number: batch for shard in todo for batch in shard.batches}
    by_shard = {shard.number: shard for shard in todo}
    gathered: dict[int, dict[int, dict[str, Any]]] = {shard.number: {} for shard in todo}
    progress = _Progress(len(todo), sum(len(s.files) for s in todo))
    for number, result in stream_batches(ray, list(batches.values()), config):
        shard = by_shard[batches[number].shard]
        results = gathered[shard.number]
        results[number] = result
        if len(results) < len(shard.batches):
            continue
        rows, failed = _shard_rows(shard, results)
        write_shard(folder, shard, rows)
        job.mark_done(shard, len(rows), failed)
        del gathered[shard.number]
        report.shards_computed += 1
        report.embedded += len(rows) - len(failed)
        report.failed += [SkippedFile(path, reason) for path, reason in failed]
        progress.shard_done(len(rows))
    if gathered:
        missing = sorted(by_shard[n].name for n in gathered)
        raise RuntimeError(f"The Ray job ended without the batches of {len(missing)} shard(s): {missing[:5]}; run it again to resume")


def plan_sources(
    sources: list[str], config: RayJobConfig, *, recursive: bool = True, batches_per_shard: int | None = None,
) -> tuple[list[Shard], list[str], list[SkippedFile]]:
    """List every source and plan its shards (numbered on across sources, each source cut on its
    own as the local engine embeds one folder after the other): (shards, ignored, unreadable)."""
    from mmdemo.scale.shards import DEFAULT_BATCHES_PER_SHARD

    shards: list[Shard] = []
    ignored: list[str] = []
    unreadable: list[SkippedFile] = []
    for source in sources:
        listing = list_source(source, recursive=recursive)
        ignored += listing.ignored
        unreadable += [SkippedFile(path, reason) for path, reason in listing.missing]
        first_shard = len(shards)
        first_batch = sum(len(s.batches) for s in shards)
        shards += plan_shards(
            listing.files, batch_size=config.batch_size,
            batches_per_shard=batches_per_shard or DEFAULT_BATCHES_PER_SHARD, settings=config.settings(),
            first_shard=first_shard, first_batch=first_batch,
        )
    return shards, ignored, unreadable


def embed_sources(
    sources: list[str], out: str | Path, config: RayJobConfig, *, address: str | None = None,
    recursive: bool = True, batches_per_shard: int | None = None,
) -> tuple[list[Shard], ShardJobReport]:
    """List and plan ``sources``, then embed the unfinished shards on Ray into ``out/shards``.

    Returns the planned shards (all finished) and the report; merge them with
    :func:`mmdemo.scale.merge.merge_shards`.
    """
    from mmdemo.scale.cluster import connected

    shards, ignored, unreadable = plan_sources(sources, config, recursive=recursive, batches_per_shard=batches_per_shard)
    with connected(address):
        report = run_shards(shards, Path(out) / SHARDS_FOLDER, config)
    report.ignored = ignored
    report.failed = unreadable + report.failed
    for skipped in report.failed:
        logger.warning("Skipped %s", skipped)
    return shards, report
