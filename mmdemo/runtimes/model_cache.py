"""Converted models on disk, keyed like the embedding cache: the same checkpoint converted by the
same runtime version is converted once.

Entries live in the embedding cache's folder, under :data:`mmdemo.cache.RUNTIME_DIR`
(``<cache>/runtimes/<key>.xml`` and ``<key>.bin``: OpenVINO IR), and count under its size cap
(``$MMDEMO_CACHE_MAX_MB``; the cache's least-recently-used eviction sees them, :data:`mmdemo.cache.CACHE_FILES`).
The key hashes the model's fingerprint (:func:`mmdemo.cache.checkpoint_fingerprint`: name,
checkpoint, local file sizes and dates), the tower, and the runtime and its version. Not the
precision: the IR keeps float32 weights and the precision is a compile-time hint
(:func:`mmdemo.runtimes.openvino_runtime.compile_model`), so a bfloat16 and a float32 model of one
checkpoint share one entry (ViT-B/32's two towers take ~600 MB).

A write is atomic: the IR is saved into a ``.<key>.<random>.tmp`` folder beside the entries, the
``.bin`` renamed into place, then the ``.xml`` (an entry exists once its ``.xml`` does); the
embedding cache's start-up sweep (:func:`mmdemo.retention.clean_leftovers`) removes the temporary
folders of a killed process. An entry that cannot be read is removed and rebuilt, with a warning.
An entry larger than the whole cap is not kept (the model still runs, converted in memory).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmdemo.cache import CACHE_FILES, RUNTIME_DIR, default_cache_dir, default_cache_max_bytes
from mmdemo.retention import evict_lru, touch
from mmdemo.runtimes import openvino_runtime

logger = logging.getLogger(__name__)

FORMAT_VERSION = "1"  # bump when what a tower converts to changes for the same checkpoint


def converted_key(fingerprint: str, tower: str, runtime: str, runtime_version: str) -> str:
    """The cache key of one converted tower."""
    raw = f"{FORMAT_VERSION}\0{fingerprint}\0{tower}\0{runtime} {runtime_version}".encode()
    return hashlib.sha256(raw).hexdigest()


class ConvertedModelCache:
    """A folder of converted models (OpenVINO IR).

    Attributes:
        cache_root: the embedding cache's folder (default :func:`mmdemo.cache.default_cache_dir`);
            entries are in its :data:`~mmdemo.cache.RUNTIME_DIR` subfolder.
        max_bytes: the cap shared with the embedding cache (default
            :func:`mmdemo.cache.default_cache_max_bytes`; None: no cap).
        conversions: how many conversions this object ran (tests read it).
    """

    def __init__(self, cache_root: str | os.PathLike | None = None, max_bytes: int | None | str = "default") -> None:
        self.cache_root = Path(cache_root) if cache_root is not None else default_cache_dir()
        self.folder = self.cache_root / RUNTIME_DIR
        self.max_bytes = default_cache_max_bytes() if max_bytes == "default" else max_bytes
        self.conversions = 0

    def xml_path(self, key: str) -> Path:
        return self.folder / f"{key}.xml"

    def load_or_convert(self, key: str, convert: Callable[[], Any], label: str) -> Any:
        """The OpenVINO model stored under ``key``, else ``convert()``'s, stored there.
        ``label`` names the model and tower in log lines."""
        stored = self._read(key, label)
        if stored is not None:
            return stored
        model = convert()
        self.conversions += 1
        self._write(key, model, label)
        return model

    def _read(self, key: str, label: str) -> Any | None:
        xml = self.xml_path(key)
        if not xml.is_file():
            return None
        try:
            model = openvino_runtime.read(xml)
        except RuntimeError as err:
            logger.warning("Rebuilding the converted model of %s: its cache entry %s is unreadable (%s)",
                           label, xml, str(err).splitlines()[0][:200])
            self.remove(key)
            return None
        touch(xml)
        touch(xml.with_suffix(".bin"))
        return model

    def _write(self, key: str, model: Any, label: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder))
        try:
            openvino_runtime.save(model, temp / "model.xml")
            size = sum(path.stat().st_size for path in temp.iterdir())
            if self.max_bytes is not None and size > self.max_bytes:
                logger.info("Not keeping the converted model of %s on disk: %d MiB is over the cache cap "
                            "(MMDEMO_CACHE_MAX_MB)", label, size >> 20)
                return
            os.replace(temp / "model.bin", self.xml_path(key).with_suffix(".bin"))
            os.replace(temp / "model.xml", self.xml_path(key))
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        if self.max_bytes is not None:
            evict_lru(self.cache_root, self.max_bytes, patterns=CACHE_FILES)

    def remove(self, key: str) -> None:
        """Delete the entry ``key`` (its ``.xml`` first: without it the entry does not exist)."""
        xml = self.xml_path(key)
        xml.unlink(missing_ok=True)
        xml.with_suffix(".bin").unlink(missing_ok=True)

    def entries(self) -> list[Path]:
        """The ``.xml`` of every entry."""
        return sorted(self.folder.glob("*.xml")) if self.folder.is_dir() else []
