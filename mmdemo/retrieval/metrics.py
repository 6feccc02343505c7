"""Retrieval metrics: the rank of the first relevant item, recall@K and the median rank.

A gallery item is relevant to a query when both belong to the same *group* (for a paired set: the
pair itself, or every pair with the same description, so that equally good answers all count). The
rank of a query is 1 + the number of gallery items scored strictly higher than its best relevant
item (exact ties count in the query's favour).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
# Scores held at once: [chunk, G] float32 <= 2**24 elements (64 MiB).
_SCORE_ELEMENTS = 1 << 24


@dataclass
class RecallReport:
    """Retrieval quality of one direction.

    Attributes:
        direction: e.g. ``"text->image"``.
        n_queries: queries scored.
        gallery_size: items searched per query.
        recall: K -> share of queries with a relevant item in the top K.
        median_rank: median rank of the first relevant item (1 is best; the mean of the two
            middle ranks for an even number of queries).
        mean_rank: mean rank of the first relevant item.
    """

    direction: str
    n_queries: int
    gallery_size: int
    recall: dict[int, float]
    median_rank: float
    mean_rank: float

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recall"] = {f"R@{k}": value for k, value in self.recall.items()}
        return data


def _codes(query_groups: Sequence[Hashable], gallery_groups: Sequence[Hashable]) -> tuple[torch.Tensor, torch.Tensor]:
    table: dict[Hashable, int] = {}
    query = torch.tensor([table.setdefault(g, len(table)) for g in query_groups], dtype=torch.int64)
    gallery = torch.tensor([table.setdefault(g, len(table)) for g in gallery_groups], dtype=torch.int64)
    return query, gallery


def retrieval_ranks(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    query_groups: Sequence[Hashable],
    gallery_groups: Sequence[Hashable],
) -> torch.Tensor:
    """Rank [Q] (int64, 1-based) of the best relevant gallery item for each query.

    Args:
        queries: [Q, D] query vectors; gallery: [G, D] gallery vectors (both normalised here).
        query_groups, gallery_groups: the group of each query and gallery item.

    Raises:
        ValueError: shapes disagree, or a query has no relevant item in the gallery.
    """
    if queries.dim() != 2 or gallery.dim() != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"Need [Q, D] queries and [G, D] gallery, got {tuple(queries.shape)} and {tuple(gallery.shape)}")
    if len(query_groups) != queries.shape[0] or len(gallery_groups) != gallery.shape[0]:
        raise ValueError(
            f"Got {len(query_groups)} query groups for {queries.shape[0]} queries and "
            f"{len(gallery_groups)} gallery groups for {gallery.shape[0]} gallery items"
        )
    query_codes, gallery_codes = _codes(query_groups, gallery_groups)
    orphans = (~torch.isin(query_codes, gallery_codes)).nonzero().squeeze(1)
    if orphans.numel():
        raise ValueError(f"{orphans.numel()} queries have no relevant gallery item (first: query {int(orphans[0])})")
    queries = F.normalize(queries.float(), dim=1)
    gallery = F.normalize(gallery.float(), dim=1)
    chunk = max(1, _SCORE_ELEMENTS // gallery.shape[0])
    ranks = []
    for start in range(0, queries.shape[0], chunk):
        scores = queries[start : start + chunk] @ gallery.T  # [c, G]
        relevant = query_codes[start : start + chunk, None] == gallery_codes[None, :]  # [c, G]
        best = scores.masked_fill(~relevant, float("-inf")).max(dim=1).values  # [c]
        ranks.append((scores > best[:, None]).sum(dim=1) + 1)
    return torch.cat(ranks)


def recall_report(
    ranks: torch.Tensor, *, direction: str = "", gallery_size: int, ks: Sequence[int] = DEFAULT_KS
) -> RecallReport:
    """Recall@K for each K in ``ks``, median and mean rank, from the ranks of :func:`retrieval_ranks`."""
    if ranks.numel() == 0:
        raise ValueError("No ranks to summarise: the query set is empty")
    if any(k < 1 for k in ks):
        raise ValueError(f"Every K must be >= 1, got {list(ks)}")
    values = ranks.float()
    return RecallReport(
        direction=direction,
        n_queries=int(ranks.numel()),
        gallery_size=gallery_size,
        recall={int(k): float((ranks <= k).float().mean()) for k in ks},
        median_rank=float(values.quantile(0.5)),
        mean_rank=float(values.mean()),
    )
