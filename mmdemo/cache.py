"""On-disk embedding cache: the same content through the same model is embedded once.

Keys hash the content (file bytes, pixels, samples or text), the model's name and checkpoint, its
compute dtype, and :data:`PREPROCESSING_VERSION`, so a change to any of them misses the cache rather
than returning a stale vector. Entries are small safetensors files written atomically, two-level
fanned out by key prefix; a corrupt entry is treated as a miss and rewritten.

The folder is capped in bytes (``max_bytes``; default ``$MMDEMO_CACHE_MAX_MB`` MiB, else
:data:`DEFAULT_CACHE_MAX_MB`): a hit marks its entry used, and a write that takes the folder over
the cap evicts the least recently used entries (:func:`mmdemo.retention.evict_lru`). Converted
models (:mod:`mmdemo.runtimes.model_cache`, in :data:`RUNTIME_DIR`) count under the same cap and are
evicted in the same order (:data:`CACHE_FILES`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open

from mmdemo.registry import ModelSpec
from mmdemo.retention import MIB, cache_files, clean_leftovers, evict_lru, touch
from mmdemo.storage import save_tensors_atomic

logger = logging.getLogger(__name__)

# Bump when media loading or preprocessing changes what a model sees for the same content.
PREPROCESSING_VERSION = "1"
TEMP_PATTERN = "*/.*"  # where an interrupted atomic write of an entry leaves its temp file (retention.is_temp_name)
RUNTIME_DIR = "runtimes"  # converted models (mmdemo.runtimes.model_cache), counted under the same cap
CACHE_FILES = ("*/*.safetensors", f"{RUNTIME_DIR}/*.xml", f"{RUNTIME_DIR}/*.bin")  # what the cap counts and evicts
DEFAULT_CACHE_MAX_MB = 2048  # the cap when MMDEMO_CACHE_MAX_MB is not set (0 there: no cap); ViT-B/32 converted for OpenVINO takes ~600 MB of it


def default_cache_max_bytes() -> int | None:
    """``$MMDEMO_CACHE_MAX_MB`` (else :data:`DEFAULT_CACHE_MAX_MB`) in bytes; None when it is 0."""
    configured = os.environ.get("MMDEMO_CACHE_MAX_MB", "").strip()
    try:
        megabytes = float(configured) if configured else DEFAULT_CACHE_MAX_MB
    except ValueError:
        raise ValueError(f"MMDEMO_CACHE_MAX_MB must be a number of MiB, got {configured!r}") from None
    return None if megabytes <= 0 else int(megabytes * MIB)


def default_cache_dir() -> Path:
    """``$MMDEMO_CACHE_DIR``, else ``~/.cache/mmdemo/embeddings``."""
    configured = os.environ.get("MMDEMO_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "mmdemo" / "embeddings"


def checkpoint_fingerprint(spec: ModelSpec) -> list[str]:
    """What identifies a checkpoint's weights: the spec's name, backend, checkpoint, pretrained tag
    and audio road, and for each local folder (:attr:`ModelSpec.weight_folders`: the checkpoint's,
    the companion's) each file's name, size and modification time."""
    parts = [spec.name, spec.backend, spec.checkpoint, str(spec.pretrained), spec.audio_road]
    for folder in spec.weight_folders:
        if not folder.is_dir():
            continue
        parts.append(f"folder:{folder}")
        for path in sorted(folder.iterdir()):
            if path.is_file():
                stat = path.stat()
                parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return parts


def text_hash(text: str) -> str:
    """SHA-256 of a text."""
    return hashlib.sha256(b"text\0" + text.encode("utf-8")).hexdigest()


def content_hash(item: object) -> str:
    """SHA-256 of a media input's content: file bytes for paths, pixels, or samples."""
    digest = hashlib.sha256()
    if isinstance(item, (str, os.PathLike)):
        digest.update(b"file\0")
        with open(item, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    elif isinstance(item, (bytes, bytearray)):
        digest.update(b"bytes\0" + bytes(item))
    elif isinstance(item, Image.Image):
        digest.update(f"image\0{item.mode}\0{item.size}\0".encode() + item.tobytes())
    elif isinstance(item, tuple) and len(item) == 2:
        rate, samples = item
        digest.update(f"audio\0{int(rate)}\0".encode() + content_hash(samples).encode())
    elif isinstance(item, (np.ndarray, torch.Tensor)):
        array = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else item
        array = np.ascontiguousarray(array)
        digest.update(f"array\0{array.dtype}\0{array.shape}\0".encode() + array.tobytes())
    else:
        raise TypeError(f"Cannot hash an input of type {type(item).__name__}")
    return digest.hexdigest()


@dataclass
class CacheEntry:
    """One cached vector and its string metadata (e.g. the transcript of a spoken query)."""

    vector: torch.Tensor
    metadata: dict[str, str]


class EmbeddingCache:
    """A folder of cached embedding vectors.

    Attributes:
        root: the folder.
        max_bytes: most bytes the entries may hold (None: no cap); default
            :func:`default_cache_max_bytes`.
        hits, misses: counters since creation (tests and the UI read them).
    """

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int | None | str = "default") -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = default_cache_max_bytes() if max_bytes == "default" else max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._bytes: int | None = None  # entries' total, scanned at the first write
        clean_leftovers(self.root, pattern=TEMP_PATTERN)  # temp files of writes a killed process never finished

    @staticmethod
    def key(content: str, model_key: str) -> str:
        raw = f"{PREPROCESSING_VERSION}\0{model_key}\0{content}".encode()
        return hashlib.sha256(raw).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or None (a miss)."""
        path = self._path(key)
        entry = None
        if path.is_file():
            try:
                with safe_open(str(path), framework="pt") as handle:
                    entry = CacheEntry(handle.get_tensor("vector"), dict(handle.metadata() or {}))
            except (SafetensorError, OSError) as err:
                logger.warning("Ignoring unreadable cache entry %s: %s", path, err)
            except RuntimeError:  # safetensors' "unable to open file": evicted since is_file()
                if path.exists():
                    raise
        if entry is not None:
            touch(path)  # least-recently-used order
        with self._lock:
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
        return entry

    def put(self, key: str, vector: torch.Tensor, metadata: dict[str, str] | None = None) -> None:
        tensors = {"vector": vector.detach().float().cpu().clone()}
        path = save_tensors_atomic(self._path(key), tensors, metadata=metadata or None)
        if self.max_bytes is None:
            return
        size = path.stat().st_size
        with self._lock:
            if self._bytes is None:
                self._bytes = self.size_bytes()
            else:
                self._bytes += size
            if self._bytes > self.max_bytes:
                self._bytes = evict_lru(self.root, self.max_bytes, patterns=CACHE_FILES).bytes_after

    def size_bytes(self) -> int:
        """Bytes the entries hold now, converted models (:data:`RUNTIME_DIR`) included."""
        return sum(size for _, size, _ in cache_files(self.root, patterns=CACHE_FILES))

    def clear(self) -> int:
        """Delete every entry; returns how many were deleted."""
        removed = 0
        for path in self.root.glob("*/*.safetensors"):
            path.unlink(missing_ok=True)
            removed += 1
        with self._lock:
            self._bytes = None
        return removed


_DEFAULT: EmbeddingCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> EmbeddingCache:
    """The process-wide cache at :func:`default_cache_dir`, capped at :func:`default_cache_max_bytes`
    (re-created if either env var changes)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if (_DEFAULT is None or _DEFAULT.root != default_cache_dir()
                or _DEFAULT.max_bytes != default_cache_max_bytes()):
            _DEFAULT = EmbeddingCache()
        return _DEFAULT
