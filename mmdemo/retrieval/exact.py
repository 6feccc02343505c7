"""Exact search: one matrix-vector (or matrix-matrix) product and a top-k.

Single queries use ``torch.mv``, which on CPUs with AVX-512-BF16 runs bfloat16 storage about twice
as fast as float32 (the product is memory-bound, and bfloat16 halves the bytes read). Half-precision
scores are rounded to 8 (bfloat16) or 11 (float16) mantissa bits, so for those dtypes a few more
candidates than ``k`` are taken and re-scored in float32 before the final top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Scores held at once for a batch of queries: [chunk, N] float32 <= 2**25 elements (128 MiB).
_SCORE_ELEMENTS = 1 << 25
# A filter that keeps at most this share of the rows gathers them instead of masking all scores.
_GATHER_SHARE = 0.25
# block_topk: scores per block, and the rows below which plain torch.topk is used.
_BLOCK = 1024
_BLOCK_TOPK_MIN_ROWS = 64 * _BLOCK


@dataclass
class TopK:
    """Best matches of a batch of queries.

    Attributes:
        scores: [Q, k] float32 cosine similarities, best first.
        rows: [Q, k] int64 rows of the searched matrix.
    """

    scores: torch.Tensor
    rows: torch.Tensor


def rescore_candidates(dtype: torch.dtype, k: int) -> int:
    """How many candidates to take before float32 re-scoring (``k`` for float32 storage)."""
    return k if dtype == torch.float32 else 2 * k + 16


def block_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(scores, k, dim=1)`` as (values, indices), faster for long rows [Q, N].

    Why it is exact: a score outside the ``k`` blocks with the highest maxima has ``k`` block
    maxima at least as high as itself, so it is not needed; the top-k of the ``k`` best blocks (and
    of the tail that fills no whole block) is the top-k of the row. Ties may pick other indices of
    equal scores, as ``torch.topk`` itself may.
    """
    q, n = scores.shape
    blocks = n // _BLOCK
    if n < _BLOCK_TOPK_MIN_ROWS or 4 * k > blocks:
        top = torch.topk(scores, k, dim=1)
        return top.values, top.indices
    maxima = scores[:, : blocks * _BLOCK].view(q, blocks, _BLOCK).amax(dim=2)  # [Q, N] -> [Q, blocks, B] -> [Q, blocks]
    best_blocks = torch.topk(maxima, k, dim=1).indices  # [Q, k]
    offsets = torch.arange(_BLOCK, device=scores.device)
    rows = (best_blocks.unsqueeze(2) * _BLOCK + offsets).flatten(1)  # [Q, k, B] -> [Q, k * B]
    tail = torch.arange(blocks * _BLOCK, n, device=scores.device).expand(q, -1)  # [Q, N mod B]
    rows = torch.cat([rows, tail], dim=1)
    top = torch.topk(scores.gather(1, rows), k, dim=1)
    return top.values, rows.gather(1, top.indices)


def exact_topk(
    matrix: torch.Tensor, queries: torch.Tensor, k: int, allowed: torch.Tensor | None = None
) -> TopK:
    """Top-``k`` rows of ``matrix`` [N, D] by inner product with each of ``queries`` [Q, D].

    Args:
        matrix: stored unit vectors (float32, bfloat16 or float16), contiguous.
        queries: unit query vectors, float32.
        k: results per query; capped at the number of searchable rows (which must be >= 1).
        allowed: optional [N] bool mask of the rows that may be returned.
    """
    n = matrix.shape[0]
    if allowed is not None:
        count = int(allowed.sum())
        if count <= _GATHER_SHARE * n:
            rows = allowed.nonzero().squeeze(1)  # [count]
            sub = exact_topk(matrix.index_select(0, rows), queries, k)
            return TopK(sub.scores, rows[sub.rows])
    else:
        count = n
    k = min(k, count)
    candidates = min(rescore_candidates(matrix.dtype, k), count)
    chunk = max(1, _SCORE_ELEMENTS // max(n, 1))
    score_parts, row_parts = [], []
    for start in range(0, queries.shape[0], chunk):
        query = queries[start : start + chunk]  # [q, D] float32
        stored = query.to(matrix.dtype)
        if stored.shape[0] == 1 and matrix.dtype != torch.float16:
            scores = torch.mv(matrix, stored[0]).unsqueeze(0)  # [1, N]
        else:
            scores = stored @ matrix.T  # [q, N]
        if allowed is not None:
            scores.masked_fill_(~allowed, float("-inf"))
        top_scores, top_rows = block_topk(scores, candidates)
        if matrix.dtype == torch.float32:
            score_parts.append(top_scores)
            row_parts.append(top_rows)
            continue
        vectors = matrix[top_rows].float()  # [q, c, D]
        exact = torch.bmm(vectors, query.unsqueeze(2)).squeeze(2)  # [q, c]
        if allowed is not None:
            exact.masked_fill_(~allowed[top_rows], float("-inf"))
        best = torch.topk(exact, k, dim=1)
        score_parts.append(best.values)
        row_parts.append(top_rows.gather(1, best.indices))
    return TopK(torch.cat(score_parts), torch.cat(row_parts))
