"""Recall@K and median rank, checked by hand."""

from __future__ import annotations

import pytest
import torch

from mmdemo.retrieval import recall_report, retrieval_ranks


def test_ranks_by_hand_with_groups() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    gallery = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    # q0 ("x") scores 1.0, 0.8, 0.0: its only relevant item (g1) is second. q1 ("y") scores
    # 0.0, 0.6, 1.0: g0 and g2 are relevant; the best of them (g2) is first.
    ranks = retrieval_ranks(queries, gallery, ["x", "y"], ["y", "x", "y"])
    assert ranks.tolist() == [2, 1]
    report = recall_report(ranks, direction="text->image", gallery_size=3, ks=(1, 2, 5))
    assert report.recall == {1: 0.5, 2: 1.0, 5: 1.0}
    assert (report.median_rank, report.mean_rank, report.n_queries) == (1.5, 1.5, 2)
    assert report.to_json()["recall"] == {"R@1": 0.5, "R@2": 1.0, "R@5": 1.0}


def test_vectors_are_normalised_and_ties_count_for_the_query() -> None:
    queries = torch.tensor([[3.0, 0.0]])
    gallery = torch.tensor([[2.0, 0.0], [5.0, 0.0], [0.0, 1.0]])  # g0 and g1 tie at cosine 1
    assert retrieval_ranks(queries, gallery, ["b"], ["a", "b", "c"]).tolist() == [1]


def test_paired_identity_gives_perfect_scores_and_a_shuffle_does_not() -> None:
    vectors = torch.nn.functional.normalize(torch.randn(50, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    groups = list(range(50))
    perfect = recall_report(retrieval_ranks(vectors, vectors, groups, groups), gallery_size=50)
    assert perfect.recall == {1: 1.0, 5: 1.0, 10: 1.0} and perfect.median_rank == 1.0
    shuffled = recall_report(retrieval_ranks(vectors, vectors.flip(0), groups, groups), gallery_size=50)
    assert shuffled.recall[1] < 0.2 and shuffled.median_rank > 5


def test_median_rank_of_an_odd_count() -> None:
    assert recall_report(torch.tensor([1, 7, 3]), gallery_size=10).median_rank == 3.0


def test_errors() -> None:
    with pytest.raises(ValueError, match="no relevant gallery item"):
        retrieval_ranks(torch.ones(2, 2), torch.ones(1, 2), ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="query groups"):
        retrieval_ranks(torch.ones(2, 2), torch.ones(1, 2), ["a"], ["a"])
    with pytest.raises(ValueError, match=r"\[Q, D\]"):
        retrieval_ranks(torch.ones(2, 3), torch.ones(1, 2), ["a", "a"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        recall_report(torch.tensor([], dtype=torch.int64), gallery_size=1)
