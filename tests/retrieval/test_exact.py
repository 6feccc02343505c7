"""Exact top-k: float32 and half-precision storage, masked and gathered filters, query batching."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmdemo.retrieval import exact
from mmdemo.retrieval.exact import exact_topk


def unit(n: int, dim: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


def reference(matrix: torch.Tensor, queries: torch.Tensor, k: int, allowed: torch.Tensor | None = None) -> torch.Tensor:
    scores = queries @ matrix.float().T
    if allowed is not None:
        scores[:, ~allowed] = float("-inf")
    return torch.topk(scores, k, dim=1).indices


@pytest.mark.parametrize("share", [0.1, 0.6])  # gathered rows vs masked scores
@pytest.mark.parametrize("n_queries", [1, 3])
def test_filtered_topk_matches_reference(share: float, n_queries: int) -> None:
    matrix, queries = unit(500, 16, 0), unit(n_queries, 16, 1)
    allowed = torch.rand(500, generator=torch.Generator().manual_seed(2)) < share
    top = exact_topk(matrix, queries, 7, allowed)
    assert torch.equal(top.rows, reference(matrix, queries, 7, allowed))
    assert bool(allowed[top.rows].all())
    expected = torch.gather(queries @ matrix.T, 1, top.rows)
    assert torch.allclose(top.scores, expected, atol=1e-6)


def test_k_is_capped_by_the_allowed_rows() -> None:
    matrix, queries = unit(50, 8, 0), unit(2, 8, 1)
    allowed = torch.zeros(50, dtype=torch.bool)
    allowed[[3, 30]] = True
    for dtype in (torch.float32, torch.bfloat16):
        top = exact_topk(matrix.to(dtype), queries, 10, allowed)
        assert top.rows.shape == (2, 2)
        assert set(top.rows[0].tolist()) == {3, 30}


def test_half_precision_candidates_are_rescored_in_float32() -> None:
    matrix, queries = unit(2000, 32, 3), unit(4, 32, 4)
    stored = matrix.to(torch.bfloat16)
    top = exact_topk(stored, queries, 10)
    assert top.scores.dtype == torch.float32
    # Scores are the float32 products of the stored (rounded) vectors, not bfloat16-rounded scores.
    expected = torch.gather(queries @ stored.float().T, 1, top.rows)
    assert torch.allclose(top.scores, expected, atol=1e-6)
    assert torch.equal(top.rows, reference(stored, queries, 10))


def test_query_batches_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact, "_SCORE_ELEMENTS", 300)  # 300 // 100 rows = 3 queries per chunk
    matrix, queries = unit(100, 8, 5), unit(7, 8, 6)
    top = exact_topk(matrix, queries, 4)
    assert torch.equal(top.rows, reference(matrix, queries, 4))


# block_topk: long rows take the block path (>= exact._BLOCK_TOPK_MIN_ROWS scores).
LONG = exact._BLOCK_TOPK_MIN_ROWS + 300  # a tail of 300 scores that fills no whole block


def long_scores(n_queries: int, seed: int) -> torch.Tensor:
    return torch.randn(n_queries, LONG, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n_queries", [1, 2])
def test_block_topk_equals_topk_on_long_rows(n_queries: int) -> None:
    scores = long_scores(n_queries, 0)
    values, indices = exact.block_topk(scores, 10)
    expected = torch.topk(scores, 10, dim=1)
    assert torch.equal(values, expected.values)
    assert torch.equal(indices, expected.indices)


def test_block_topk_finds_several_winners_in_one_block_and_in_the_tail() -> None:
    scores = long_scores(2, 1)
    scores[0, 5 * exact._BLOCK : 5 * exact._BLOCK + 8] = torch.arange(8) + 10.0  # 8 of the top 10 in one block
    scores[1, -1] = 100.0  # the best score in the tail after the last whole block
    values, indices = exact.block_topk(scores, 10)
    expected = torch.topk(scores, 10, dim=1)
    assert torch.equal(indices, expected.indices)
    assert set(range(5 * exact._BLOCK, 5 * exact._BLOCK + 8)) <= set(indices[0].tolist())
    assert int(indices[1, 0]) == LONG - 1 and float(values[1, 0]) == 100.0


def test_block_topk_skips_masked_scores() -> None:
    scores = long_scores(1, 2)
    keep = torch.zeros(LONG, dtype=torch.bool)
    keep[[7, 40_000, LONG - 2]] = True
    scores[:, ~keep] = float("-inf")
    values, indices = exact.block_topk(scores, 3)
    assert sorted(indices[0].tolist()) == [7, 40_000, LONG - 2]
    assert bool(torch.isfinite(values).all())


def test_exact_topk_on_a_long_matrix_uses_blocks_and_matches_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix, queries = unit(LONG, 8, 3), unit(2, 8, 4)
    calls = []
    original = exact.block_topk
    monkeypatch.setattr(exact, "block_topk", lambda s, k: calls.append(s.shape) or original(s, k))
    top = exact_topk(matrix, queries, 10)
    assert torch.equal(top.rows, reference(matrix, queries, 10))
    assert calls == [(2, LONG)]
