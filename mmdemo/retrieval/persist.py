"""Saving and loading an index folder, atomically.

Layout::

    INDEX/index.json                    the commit record: format, version, space, models, counts,
                                        config, and which generation folder holds the data
    INDEX/gen-000007/embeddings.safetensors   "embeddings" [N, D] (storage dtype), "keys" [N] int64,
                                              "tombstones" [T] int64 (removed keys still in ann.faiss)
    INDEX/gen-000007/items.json         the items, row by row
    INDEX/gen-000007/ann.faiss          the approximate structure, when one was built

A save writes a complete new generation under a temporary name, renames it into place, and only
then replaces ``index.json`` (an atomic rename), which is the moment the new index becomes the
index. A crash at any point before leaves ``index.json`` pointing at the previous generation, which
is never touched until after the commit; leftovers are removed by the next save.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from mmdemo.errors import IncompatibleError, IndexNotFoundError
from mmdemo.retrieval.approx import ApproxSearcher
from mmdemo.retrieval.config import STORAGE_DTYPES, IndexConfig
from mmdemo.retrieval.embedder import models_for_encoders
from mmdemo.retrieval.items import IndexItem
from mmdemo.retrieval.store import VectorStore
from mmdemo.storage import load_tensors, read_json, save_tensors_atomic, write_json_atomic

logger = logging.getLogger(__name__)

FORMAT = "mmdemo-retrieval-index"
FORMAT_VERSION = 1
MANIFEST = "index.json"
EMBEDDINGS_FILE = "embeddings.safetensors"
ITEMS_FILE = "items.json"
APPROX_FILE = "ann.faiss"
_GENERATION = re.compile(r"^(?:\.tmp-)?gen-(\d{6,})$")


@dataclass
class IndexState:
    """What an index holds, as saved and loaded here: the seam between
    :class:`~mmdemo.retrieval.index.RetrievalIndex` (``state()`` / ``from_state()``) and this module.

    Attributes:
        config: the index's settings.
        store: its vectors, keys and items.
        space: the embedding space of every vector (None while empty).
        models: modality -> registry name of the model that embedded that modality's items.
        approx: the approximate structure, when one is built.
        approx_until_key: keys below this are in ``approx`` (or tombstoned there).
    """

    config: IndexConfig
    store: VectorStore
    space: str | None
    models: dict[str, str]
    approx: ApproxSearcher | None = None
    approx_until_key: int = 0


def _fsync_dir(folder: Path) -> None:
    """Make renames inside ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _generations(folder: Path) -> dict[int, Path]:
    found = {}
    for path in folder.iterdir():
        match = _GENERATION.match(path.name)
        if match and path.is_dir():
            found.setdefault(int(match.group(1)), path)
    return found


def is_index_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def save_state(state: IndexState, folder: str | os.PathLike) -> Path:
    """Write an index's ``state`` to ``folder`` (created if needed); returns the folder.

    The caller keeps the state unchanged while this runs (:meth:`RetrievalIndex.save` holds the
    index's lock).

    Raises:
        ValueError: ``folder`` is a file, or a non-empty folder that holds no index.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"Cannot save an index to {folder}: it is a file")
    if folder.is_dir() and not is_index_folder(folder) and any(folder.iterdir()):
        raise ValueError(f"Cannot save an index to {folder}: the folder holds other files and no {MANIFEST}")
    folder.mkdir(parents=True, exist_ok=True)
    generation = max(_generations(folder), default=0) + 1
    name = f"gen-{generation:06d}"
    staging = folder / f".tmp-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _write_generation(staging, state)
    final = folder / name
    os.replace(staging, final)
    _fsync_dir(folder)
    _commit(folder, _manifest(state, name))
    _remove_stale(folder, keep=name)
    return folder


def _write_generation(staging: Path, state: IndexState) -> None:
    """Write the data files of one generation into ``staging`` (durably)."""
    approx = state.approx
    tombstones = sorted(approx.tombstones) if approx is not None else []
    save_tensors_atomic(
        staging / EMBEDDINGS_FILE,
        {
            "embeddings": state.store.vectors,
            "keys": state.store.keys,
            "tombstones": torch.tensor(tombstones, dtype=torch.int64),
        },
        metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)},
    )
    write_json_atomic(staging / ITEMS_FILE, {"items": [item.to_json() for item in state.store.items]})
    if approx is not None:
        path = staging / APPROX_FILE
        approx.write(path)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(staging)


def _manifest(state: IndexState, generation: str) -> dict[str, Any]:
    config = state.config
    vectors = state.store.vectors
    approx = state.approx
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "count": int(vectors.shape[0]),
        "dim": int(vectors.shape[1]) if vectors.shape[0] else None,
        "space": state.space,
        "models": dict(state.models),
        "counts": state.store.counts(),
        "next_key": state.store.next_key,
        "storage_dtype": config.storage_dtype,
        "config": config.to_json(),
        "approx": None if approx is None else {
            "file": APPROX_FILE,
            "kind": approx.config.kind,
            "size": approx.size,
            "until_key": state.approx_until_key,
        },
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _commit(folder: Path, manifest: dict[str, Any]) -> None:
    """The commit point: atomically replace ``index.json``."""
    write_json_atomic(folder / MANIFEST, manifest)
    _fsync_dir(folder)


def _remove_stale(folder: Path, keep: str) -> None:
    for path in _generations(folder).values():
        if path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(f".{MANIFEST}.*.tmp"):
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------- load


def read_index_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The checked ``index.json`` of an index folder."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexNotFoundError(f"No index in {folder}: {MANIFEST} not found (build one with `python -m mmdemo index build`)")
    try:
        manifest = read_json(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise IncompatibleError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IncompatibleError(f"{path} is not a {FORMAT} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IncompatibleError(
            f"Index {folder} has format version {version!r}; this mmdemo reads version {FORMAT_VERSION}. "
            f"Rebuild it with `python -m mmdemo index build`."
        )
    return manifest


def check_expected_models(folder: Path, recorded: Mapping[str, str], expected: Mapping[str, str | None]) -> None:
    """Refuse an index whose models differ from those the caller will embed with."""
    for modality, wanted in models_for_encoders(expected).items():
        have = recorded.get(modality)
        if wanted is not None and have is not None and wanted != have:
            raise IncompatibleError(
                f"Index {folder} was built with {modality} model {have!r}, not {wanted!r}: its vectors "
                f"cannot be compared with {wanted!r}'s. Query it with {have!r} (leave the model unset), "
                f"or build a new index with {wanted!r}. Index models: {dict(recorded)}"
            )


def load_state(
    folder: str | os.PathLike,
    *,
    expect_models: Mapping[str, str | None] | None = None,
    config: IndexConfig | None = None,
) -> IndexState:
    """The state of the index saved in ``folder`` (see :meth:`RetrievalIndex.load` for the arguments)."""
    folder = Path(folder)
    manifest = read_index_manifest(folder)
    recorded = dict(manifest.get("models") or {})
    check_expected_models(folder, recorded, expect_models or {})

    data = folder / str(manifest.get("generation"))
    try:
        tensors = load_tensors(data / EMBEDDINGS_FILE)
        items = [IndexItem.from_json(entry) for entry in read_json(data / ITEMS_FILE)["items"]]
    except (OSError, SafetensorError, ValueError, KeyError, TypeError) as err:
        raise IncompatibleError(f"Index {folder} is damaged: cannot read {data.name} ({err})") from err
    saved = IndexConfig.from_json(manifest.get("config") or {})
    _check_data(folder, manifest, tensors, items, saved)

    store = VectorStore.from_saved(tensors["embeddings"], tensors["keys"], items, int(manifest["next_key"]))
    approx, until_key = _load_approx(data, manifest, tensors["tombstones"], saved)
    chosen = config or saved
    if chosen.storage_dtype != saved.storage_dtype:
        store = store.with_dtype(chosen.torch_dtype)
    if chosen.approx != saved.approx:
        approx, until_key = None, 0
    return IndexState(chosen, store, manifest.get("space"), recorded, approx, until_key)


def _check_data(folder: Path, manifest: dict[str, Any], tensors: dict[str, torch.Tensor], items: list[IndexItem], saved: IndexConfig) -> None:
    count = manifest.get("count")
    embeddings = tensors.get("embeddings")
    keys = tensors.get("keys")
    problems = []
    if embeddings is None or keys is None or "tombstones" not in tensors:
        problems.append(f"tensors {sorted(tensors)} lack embeddings, keys or tombstones")
    else:
        if embeddings.dim() != 2 or embeddings.shape[0] != count or len(items) != count or keys.shape != (count,):
            problems.append(f"{count} items announced, found {tuple(embeddings.shape)} embeddings, {len(items)} items, {tuple(keys.shape)} keys")
        if count and embeddings.dim() == 2 and embeddings.shape[1] != manifest.get("dim"):
            problems.append(f"dimension {embeddings.shape[1]} instead of {manifest.get('dim')}")
        if embeddings.dtype != STORAGE_DTYPES[saved.storage_dtype]:
            problems.append(f"embeddings are {embeddings.dtype}, the manifest says {saved.storage_dtype}")
        if keys.numel() and (bool((keys[1:] <= keys[:-1]).any()) or int(keys[-1]) >= int(manifest.get("next_key", 0))):
            problems.append("keys are not increasing below next_key")
    if len({item.id for item in items}) != len(items):
        problems.append("duplicate item ids")
    if problems:
        raise IncompatibleError(f"Index {folder} is damaged: {'; '.join(problems)}")


def _load_approx(data: Path, manifest: dict[str, Any], tombstones: torch.Tensor, saved: IndexConfig) -> tuple[ApproxSearcher | None, int]:
    info = manifest.get("approx")
    if not info:
        return None, 0
    path = data / str(info.get("file", APPROX_FILE))
    try:
        approx = ApproxSearcher.read(path, saved.approx, set(tombstones.tolist()))
    except (RuntimeError, IncompatibleError) as err:
        # The vectors are intact; the approximate structure is rebuilt when next needed.
        logger.warning("Ignoring the approximate index in %s (%s); it will be rebuilt", data, err)
        return None, 0
    if approx.size != info.get("size"):
        logger.warning("Ignoring %s: it holds %d entries, the manifest says %s", path, approx.size, info.get("size"))
        return None, 0
    return approx, int(info.get("until_key", 0))
