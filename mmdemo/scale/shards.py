"""The plan of a scaled job and its durable results: batches, shards, and the finished-shards manifest.

A job's files are cut exactly as the local engine cuts them: per modality (in
:data:`~mmdemo.modalities.MODALITIES` order), consecutive runs of ``batch_size`` files. Each such
run is a :class:`Batch`, embedded by one ``mmdemo.encoders.embed`` call, so the model sees the same
inputs together as on the local path and the float32 vectors are bit-identical (a different
batch composition changes the last bits). ``batches_per_shard`` consecutive batches make a shard.

On disk, under ``OUT/shards/``::

    shard-000000.parquet   one row per file: id, path, modality, label, fingerprint, vector
                           (float32 list, null for a failed file), error (null when embedded),
                           model, space
    job.json               the finished shards: name -> key, rows, failures (rewritten atomically
                           after each shard)

Shard names are fixed by the plan, and each file is written to a temporary name and renamed, so a
retried shard overwrites its own file and never adds a second one. A shard's *key* hashes its files
(ids and fingerprints), the batch size and the job settings: a re-run reuses a finished shard only
if its key is unchanged, and recomputes the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmdemo.errors import IncompatibleError
from mmdemo.modalities import MODALITIES
from mmdemo.scale.listing import SourceFile
from mmdemo.storage import read_json, write_json_atomic

SHARDS_FOLDER = "shards"
JOB_FILE = "job.json"
JOB_FORMAT = "mmdemo-scale-job"
JOB_FORMAT_VERSION = 1
DEFAULT_BATCHES_PER_SHARD = 8


@dataclass(frozen=True)
class Batch:
    """One embedding call's worth of files (all of one modality)."""

    number: int
    shard: int
    modality: str
    files: tuple[SourceFile, ...]


@dataclass(frozen=True)
class Shard:
    """Consecutive batches written together as ``shard-<number>.parquet``."""

    number: int
    batches: tuple[Batch, ...]
    key: str

    @property
    def name(self) -> str:
        return shard_name(self.number)

    @property
    def files(self) -> list[SourceFile]:
        return [file for batch in self.batches for file in batch.files]


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.parquet"


def plan_shards(
    files: list[SourceFile],
    *,
    batch_size: int,
    batches_per_shard: int = DEFAULT_BATCHES_PER_SHARD,
    settings: dict[str, Any] | None = None,
    first_shard: int = 0,
    first_batch: int = 0,
) -> list[Shard]:
    """Cut ``files`` into batches (as the local engine does) and the batches into shards
    (numbered from ``first_shard`` and ``first_batch``, for a job over several sources)."""
    if batch_size < 1 or batches_per_shard < 1:
        raise ValueError(f"batch_size and batches_per_shard must be >= 1, got {batch_size}, {batches_per_shard}")
    runs: list[tuple[str, tuple[SourceFile, ...]]] = []
    for modality in MODALITIES:
        group = [file for file in files if file.modality == modality]
        runs += [(modality, tuple(group[i : i + batch_size])) for i in range(0, len(group), batch_size)]
    shards = []
    for number, start in enumerate(range(0, len(runs), batches_per_shard), start=first_shard):
        batches = tuple(
            Batch(first_batch + start + offset, number, modality, chunk)
            for offset, (modality, chunk) in enumerate(runs[start : start + batches_per_shard])
        )
        shards.append(Shard(number, batches, _shard_key(batches, batch_size, settings or {})))
    return shards


def _shard_key(batches: tuple[Batch, ...], batch_size: int, settings: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps({"batch_size": batch_size, "settings": settings}, sort_keys=True).encode())
    for batch in batches:
        for file in batch.files:
            digest.update(f"\0{file.id}\0{file.fingerprint}\0{file.label}".encode())
    return digest.hexdigest()[:32]


# ------------------------------------------------------------------------------ shard files


@dataclass
class ShardRows:
    """The rows of one shard, in plan order (one per file)."""

    ids: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    vectors: list[list[float] | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    models: list[str | None] = field(default_factory=list)
    spaces: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, file: SourceFile, vector: list[float] | None, error: str | None, model: str | None, space: str | None) -> None:
        self.ids.append(file.id)
        self.paths.append(file.path)
        self.modalities.append(file.modality)
        self.labels.append(file.label)
        self.fingerprints.append(file.fingerprint)
        self.vectors.append(vector)
        self.errors.append(error)
        self.models.append(model)
        self.spaces.append(space)


def _table(rows: ShardRows):  # -> pyarrow.Table
    import pyarrow as pa

    return pa.table({
        "id": pa.array(rows.ids, pa.string()),
        "path": pa.array(rows.paths, pa.string()),
        "modality": pa.array(rows.modalities, pa.string()),
        "label": pa.array(rows.labels, pa.string()),
        "fingerprint": pa.array(rows.fingerprints, pa.string()),
        "vector": pa.array(rows.vectors, pa.list_(pa.float32())),
        "error": pa.array(rows.errors, pa.string()),
        "model": pa.array(rows.models, pa.string()),
        "space": pa.array(rows.spaces, pa.string()),
    })


def write_shard(folder: Path, shard: Shard, rows: ShardRows) -> Path:
    """Write a shard's parquet file atomically (temporary name, fsync, rename over the fixed name)."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    final = folder / shard.name
    temporary = folder / f".{shard.name}.{os.getpid()}.tmp"
    pq.write_table(_table(rows), temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def read_shard(path: Path):  # -> pyarrow.Table
    import pyarrow.parquet as pq

    return pq.read_table(path)


# ------------------------------------------------------------------------------ job manifest


@dataclass
class FinishedShard:
    """A shard written completely: its key, row count and failed files (path, reason)."""

    key: str
    rows: int
    failed: list[tuple[str, str]] = field(default_factory=list)


class JobManifest:
    """``shards/job.json``: which shards are finished. Saved atomically after each shard."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.settings = dict(settings)
        self.finished: dict[str, FinishedShard] = {}

    @property
    def path(self) -> Path:
        return self.folder / JOB_FILE

    @classmethod
    def load(cls, folder: Path, settings: dict[str, Any]) -> JobManifest:
        """The folder's manifest (an empty one if there is none); a manifest written with other
        settings counts as empty: its shards' keys cannot match."""
        manifest = cls(folder, settings)
        if not manifest.path.is_file():
            return manifest
        try:
            data = read_json(manifest.path)
        except (ValueError, UnicodeDecodeError) as err:
            raise IncompatibleError(f"{manifest.path} is not valid JSON ({err}); delete it to recompute every shard") from err
        if not isinstance(data, dict) or data.get("format") != JOB_FORMAT or data.get("format_version") != JOB_FORMAT_VERSION:
            raise IncompatibleError(f"{manifest.path} is not a {JOB_FORMAT} v{JOB_FORMAT_VERSION} manifest; delete it to recompute every shard")
        for name, entry in (data.get("shards") or {}).items():
            manifest.finished[name] = FinishedShard(
                entry["key"], int(entry["rows"]), [tuple(pair) for pair in entry.get("failed", [])]
            )
        return manifest

    def is_done(self, shard: Shard) -> bool:
        entry = self.finished.get(shard.name)
        return entry is not None and entry.key == shard.key and (self.folder / shard.name).is_file()

    def mark_done(self, shard: Shard, rows: int, failed: list[tuple[str, str]]) -> None:
        self.finished[shard.name] = FinishedShard(shard.key, rows, list(failed))
        self.save()

    def keep_only(self, names: set[str]) -> None:
        """Forget shards that are not in the current plan (their files are removed)."""
        for name in sorted(set(self.finished) - names):
            del self.finished[name]
        for path in self.folder.glob("shard-*.parquet"):
            if path.name not in names:
                path.unlink()
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, {
            "format": JOB_FORMAT,
            "format_version": JOB_FORMAT_VERSION,
            "settings": self.settings,
            "shards": {
                name: {"key": entry.key, "rows": entry.rows, "failed": [list(pair) for pair in entry.failed]}
                for name, entry in sorted(self.finished.items())
            },
        })
