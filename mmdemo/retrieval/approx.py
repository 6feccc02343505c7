"""Approximate search with FAISS (HNSW or IVF) over the index's keys.

The FAISS structure is an ``IndexIDMap2`` whose ids are the store's row keys. Items added after it
was built are appended to it; removed items become *tombstones*: HNSW cannot delete, so they stay in
the graph and every search excludes them through an ``IDSelectorBitmap``, which also implements
modality filters. Past ``max_tombstone_fraction`` the owner drops the structure and rebuilds it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval.config import ApproxConfig

logger = logging.getLogger(__name__)

# IVF: k-means wants at least this many training points per cell (FAISS warns below 39).
_MIN_POINTS_PER_CELL = 39
# IVF training: at most this many sample points per cell, and k-means iterations (training cost
# grows with both; at 1M vectors and 4,000 cells this keeps training to a few CPU-minutes).
_MAX_POINTS_PER_CELL = 40
_KMEANS_ITERATIONS = 10
# Largest HNSW candidate list a filtered search may scale up to.
_MAX_EF_SEARCH = 4096
# FAISS parallelises a search over its queries; below this many queries per thread a search runs
# on one thread. A single query gains nothing from a parallel region, and on a busy CPU waiting for
# a descheduled worker measured 20 ms instead of 0.1 ms for one HNSW query.
_QUERIES_PER_THREAD = 8


@contextmanager
def _faiss_threads_for(n_queries: int) -> Iterator[None]:
    """Run FAISS single-threaded for small batches (the setting is per calling thread in OpenMP)."""
    threads = faiss.omp_get_max_threads()
    if n_queries >= threads * _QUERIES_PER_THREAD or threads == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@dataclass
class KeyFilter:
    """Which keys a search may return: a bitmap over [0, n_bits) (bit i set = key i allowed).

    Attributes:
        bitmap: packed little-endian bits, uint8; kept referenced while FAISS reads it.
        n_bits: length of the key space covered.
        fraction: share of the searched structure the filter keeps (used to widen HNSW's search).
    """

    bitmap: np.ndarray
    n_bits: int
    fraction: float

    @classmethod
    def from_keys(cls, keys: np.ndarray, n_bits: int, total: int) -> KeyFilter:
        bits = np.zeros(n_bits, dtype=bool)
        bits[keys] = True
        return cls(np.packbits(bits, bitorder="little"), n_bits, len(keys) / max(total, 1))

    def selector(self) -> faiss.IDSelector:
        return faiss.IDSelectorBitmap(self.n_bits, faiss.swig_ptr(self.bitmap))


def ivf_cells(n: int, requested: int | None) -> int:
    """Number of IVF cells for ``n`` training points: ``requested`` or 4*sqrt(n), capped by n/39."""
    wanted = requested if requested is not None else int(4 * math.sqrt(n))
    return max(1, min(wanted, n // _MIN_POINTS_PER_CELL))


class ApproxSearcher:
    """A FAISS structure over (vector, key) pairs with tombstones.

    Attributes:
        config: the settings it was built with.
        tombstones: keys removed since the build (still inside the FAISS structure).
    """

    def __init__(self, index: faiss.IndexIDMap2, config: ApproxConfig, tombstones: set[int] | None = None) -> None:
        self._index = index
        self.config = config
        self.tombstones: set[int] = set(tombstones or ())
        self._inner = faiss.downcast_index(index.index)

    @classmethod
    def build(cls, vectors: np.ndarray, keys: np.ndarray, config: ApproxConfig) -> ApproxSearcher:
        """Build over ``vectors`` [N, D] float32 (unit rows) with ``keys`` [N] int64."""
        n, dim = vectors.shape
        if config.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = config.ef_construction
        else:
            cells = ivf_cells(n, config.ivf_nlist)
            inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
            inner.cp.spherical = True
            inner.cp.seed = config.seed
            inner.cp.niter = _KMEANS_ITERATIONS
            sample = min(n, cells * _MAX_POINTS_PER_CELL)
            rows = np.random.default_rng(config.seed).choice(n, size=sample, replace=False)
            inner.train(vectors[np.sort(rows)])
        index = faiss.IndexIDMap2(inner)
        logger.info("Building a FAISS %s index over %d vectors of dimension %d", config.kind, n, dim)
        index.add_with_ids(vectors, keys)
        return cls(index, config)

    # ------------------------------------------------------------------ state
    @property
    def size(self) -> int:
        """Entries in the FAISS structure, tombstones included."""
        return int(self._index.ntotal)

    @property
    def tombstone_fraction(self) -> float:
        return len(self.tombstones) / max(self.size, 1)

    def add(self, vectors: np.ndarray, keys: np.ndarray) -> None:
        self._index.add_with_ids(vectors, keys)

    def mark_removed(self, keys: np.ndarray) -> None:
        self.tombstones.update(int(key) for key in keys)

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int, keep: KeyFilter | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores [Q, k] float32, keys [Q, k] int64; key -1 where fewer were found)."""
        fraction = keep.fraction if keep is not None else 1.0
        selector = keep.selector() if keep is not None else None
        if self.config.kind == "hnsw":
            ef = max(self.config.ef_search, k)
            if fraction < 1.0:
                ef = min(max(ef, math.ceil(ef / max(fraction, 1e-6))), max(_MAX_EF_SEARCH, ef))
            params = faiss.SearchParametersHNSW(efSearch=ef)
        else:
            params = faiss.SearchParametersIVF(nprobe=min(self.config.ivf_nprobe, self._inner.nlist))
        if selector is not None:
            params.sel = selector
        with _faiss_threads_for(queries.shape[0]):
            scores, keys = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        return scores, keys

    # ------------------------------------------------------------------ persistence
    def write(self, path: str | os.PathLike) -> None:
        """Write the FAISS structure to ``path`` (FAISS's own binary format, no pickle)."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: str | Path, config: ApproxConfig, tombstones: set[int]) -> ApproxSearcher:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise IncompatibleError(f"{path} is a {type(index).__name__}, not the FAISS IndexIDMap2 an index saves")
        return cls(index, config, tombstones)
