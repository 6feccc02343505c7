"""The rows of an index: vectors in one growable buffer, stable keys, items, modality codes.

Rows are kept in insertion order. Every row has a *key*, an int64 that is never reused and grows
with insertion, so keys stay sorted through removals; the approximate method refers to rows by key.
Appends grow the buffer geometrically (amortised O(1) per row, no copy of the whole matrix per add);
removals compact it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mmdemo.retrieval.items import IndexItem

_MIN_CAPACITY = 64
# Modality -> uint8 code, in the order older code used; kept fixed so codes mean the same in every version.
MODALITY_CODES: tuple[str, ...] = ("image", "text", "audio")


class VectorStore:
    """Unit vectors [N, D] in the storage dtype, aligned with keys [N], items and modality codes [N]."""

    def __init__(self, dim: int | None, dtype: torch.dtype) -> None:
        self.dim = dim
        self.dtype = dtype
        self._buf = torch.empty(0, dim or 0, dtype=dtype)
        self._keys = torch.empty(0, dtype=torch.int64)
        self._codes = torch.empty(0, dtype=torch.uint8)
        self._n = 0
        self.items: list[IndexItem] = []
        self._row_of: dict[str, int] = {}
        self._counts = dict.fromkeys(MODALITY_CODES, 0)
        self.next_key = 0

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return self._n

    @property
    def vectors(self) -> torch.Tensor:
        """[N, D] view of the stored vectors (no copy)."""
        return self._buf[: self._n]

    @property
    def keys(self) -> torch.Tensor:
        """[N] int64 keys, strictly increasing."""
        return self._keys[: self._n]

    def row_of(self, item_id: str) -> int | None:
        return self._row_of.get(item_id)

    def modality_mask(self, modalities: Sequence[str]) -> torch.Tensor:
        """[N] bool: rows whose modality is one of ``modalities``."""
        codes = self._codes[: self._n]
        mask = torch.zeros(self._n, dtype=torch.bool)
        for modality in modalities:
            mask |= codes == MODALITY_CODES.index(modality)
        return mask

    def counts(self) -> dict[str, int]:
        """Items per modality (every modality listed, zeros included)."""
        return dict(self._counts)

    def _recount(self) -> None:
        codes = self._codes[: self._n]
        self._counts = {m: int((codes == i).sum()) for i, m in enumerate(MODALITY_CODES)}

    # ------------------------------------------------------------------ mutation
    def append(self, vectors: torch.Tensor, items: Sequence[IndexItem]) -> torch.Tensor:
        """Append unit-normalised copies of ``vectors`` [M, D]; returns their new keys [M]."""
        m = vectors.shape[0]
        if m != len(items):
            raise ValueError(f"Got {m} vectors for {len(items)} items")
        if self.dim is None:
            self.dim = vectors.shape[1]
            self._buf = torch.empty(0, self.dim, dtype=self.dtype)
        self._reserve(self._n + m)
        rows = slice(self._n, self._n + m)
        self._buf[rows] = F.normalize(vectors.float(), dim=1).to(self.dtype)
        keys = torch.arange(self.next_key, self.next_key + m, dtype=torch.int64)
        self._keys[rows] = keys
        self._codes[rows] = torch.tensor([MODALITY_CODES.index(item.modality) for item in items], dtype=torch.uint8)
        for offset, item in enumerate(items):
            self._row_of[item.id] = self._n + offset
            self._counts[item.modality] += 1
        self.items.extend(items)
        self._n += m
        self.next_key += m
        return keys

    def remove_rows(self, rows: Sequence[int]) -> torch.Tensor:
        """Remove the given rows (compacting); returns the keys they had."""
        if not rows:
            return torch.empty(0, dtype=torch.int64)
        keep = torch.ones(self._n, dtype=torch.bool)
        keep[torch.as_tensor(list(rows), dtype=torch.int64)] = False
        removed = self.keys[~keep].clone()
        kept_rows = keep.nonzero().squeeze(1)
        self._buf = self.vectors.index_select(0, kept_rows)
        self._keys = self.keys.index_select(0, kept_rows)
        self._codes = self._codes[: self._n].index_select(0, kept_rows)
        self.items = [self.items[i] for i in kept_rows.tolist()]
        self._n = len(self.items)
        self._row_of = {item.id: row for row, item in enumerate(self.items)}
        self._recount()
        return removed

    def _reserve(self, capacity: int) -> None:
        if capacity <= self._buf.shape[0]:
            return
        new_capacity = max(capacity, 2 * self._buf.shape[0], _MIN_CAPACITY)
        buf = torch.empty(new_capacity, self.dim, dtype=self.dtype)
        buf[: self._n] = self.vectors
        keys = torch.empty(new_capacity, dtype=torch.int64)
        keys[: self._n] = self.keys
        codes = torch.empty(new_capacity, dtype=torch.uint8)
        codes[: self._n] = self._codes[: self._n]
        self._buf, self._keys, self._codes = buf, keys, codes

    # ------------------------------------------------------------------ persistence
    @classmethod
    def from_saved(
        cls, vectors: torch.Tensor, keys: torch.Tensor, items: list[IndexItem], next_key: int
    ) -> VectorStore:
        """Rebuild a store from saved tensors (already validated by the caller)."""
        store = cls(vectors.shape[1] if len(items) else None, vectors.dtype)
        store._buf = vectors.contiguous() if len(items) else store._buf
        store._keys = keys.to(torch.int64).contiguous()
        store._codes = torch.tensor([MODALITY_CODES.index(item.modality) for item in items], dtype=torch.uint8)
        store._n = len(items)
        store.items = list(items)
        store._row_of = {item.id: row for row, item in enumerate(items)}
        store._recount()
        store.next_key = next_key
        return store

    def with_dtype(self, dtype: torch.dtype) -> VectorStore:
        """A copy of this store in another storage dtype."""
        return VectorStore.from_saved(self.vectors.to(dtype), self.keys.clone(), self.items, self.next_key)
