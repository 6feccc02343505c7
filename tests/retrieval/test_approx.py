"""The approximate (FAISS) method against exact search: recall, routing, filters, removals."""

from __future__ import annotations

import pytest
import torch

from mmdemo.retrieval import ApproxConfig, IndexConfig, IndexItem, RetrievalIndex


def filled(vectors: torch.Tensor, config: IndexConfig, modalities: list[str] | None = None) -> RetrievalIndex:
    index = RetrievalIndex(config)
    kinds = modalities or ["image"]
    items = [IndexItem(f"i{i}", kinds[i % len(kinds)], f"src{i}") for i in range(vectors.shape[0])]
    index.add_embeddings(vectors, items, model="m", space="s")
    return index


def recall_at_10(index: RetrievalIndex, queries: torch.Tensor, **kwargs: object) -> float:
    exact = index.search_batch(queries, k=10, method="exact", **kwargs)
    approx = index.search_batch(queries, k=10, method="approx", **kwargs)
    return sum(len(set(e.ids) & set(a.ids)) for e, a in zip(exact, approx)) / sum(len(e) for e in exact)


def clustered(n: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(50, dim, generator=generator)
    return centres[torch.randint(0, 50, (n,), generator=generator)] + 0.5 * torch.randn(n, dim, generator=generator)


def test_hnsw_agrees_with_exact_search_on_a_seeded_random_set() -> None:
    index = filled(torch.randn(20_000, 64, generator=torch.Generator().manual_seed(0)), IndexConfig())
    queries = torch.randn(100, 64, generator=torch.Generator().manual_seed(1))
    assert index.search(queries[0], k=10, method="approx").method == "approx:hnsw"
    assert recall_at_10(index, queries) >= 0.95


def test_ivf_agrees_with_exact_search_on_clustered_data() -> None:
    data = clustered(5_100, 32, 0)
    index = filled(data[:5_000], IndexConfig(approx=ApproxConfig(kind="ivf")))
    assert index.search(data[5_000], k=10, method="approx").method == "approx:ivf"
    assert recall_at_10(index, data[5_000:]) >= 0.95


def test_auto_switches_to_approximate_search_at_the_threshold() -> None:
    vectors = torch.randn(90, 16, generator=torch.Generator().manual_seed(2))
    index = filled(vectors, IndexConfig(approx_threshold=60), modalities=["image", "text", "audio"])
    assert index.search(vectors[0]).method == "approx:hnsw"
    assert index.search(vectors[0], modality="image").method == "exact"  # 30 items pass the filter
    assert index.search(vectors[0], method="exact").method == "exact"
    small = filled(vectors[:10], IndexConfig())
    assert small.search(vectors[0]).method == "exact"
    assert small.search(vectors[0], method="approx").method == "approx:hnsw"  # on request


def test_approximate_search_honours_filters_additions_and_removals() -> None:
    vectors = torch.randn(400, 16, generator=torch.Generator().manual_seed(3))
    index = filled(vectors[:300], IndexConfig(method="approx"), modalities=["image", "text", "audio"])
    queries = torch.randn(20, 16, generator=torch.Generator().manual_seed(4))
    for result in index.search_batch(queries, k=5, modality="text"):
        assert {hit.modality for hit in result.hits} == {"text"}
    assert recall_at_10(index, queries, modality="audio") >= 0.95

    # Items added after the FAISS structure was built are found.
    index.add_embeddings(vectors[300:], [IndexItem(f"new{i}", "image", "x") for i in range(100)], model="m", space="s")
    assert index.search(vectors[350], k=1).ids == ["new50"]
    # Removed items never come back, although HNSW keeps them in its graph.
    index.remove(["new50", "i7"])
    assert "new50" not in index.search(vectors[350], k=10).ids
    assert "i7" not in index.search(vectors[7], k=10).ids
    assert recall_at_10(index, queries) >= 0.95


def test_a_tiny_filtered_subset_still_returns_k_results() -> None:
    vectors = torch.randn(2_000, 16, generator=torch.Generator().manual_seed(5))
    kinds = ["image"] * 2_000
    for row in (11, 500, 1500):
        kinds[row] = "audio"
    index = RetrievalIndex(IndexConfig(method="approx"))
    index.add_embeddings(vectors, [IndexItem(f"i{i}", kinds[i], "x") for i in range(2_000)], model="m", space="s")
    result = index.search(vectors[0], k=5, modality="audio")
    assert sorted(result.ids) == ["i11", "i1500", "i500"]
    exact = index.search(vectors[0], k=5, modality="audio", method="exact")
    assert result.ids == exact.ids


def test_many_removals_drop_the_structure_and_it_is_rebuilt() -> None:
    vectors = torch.randn(200, 16, generator=torch.Generator().manual_seed(6))
    index = filled(vectors, IndexConfig(method="approx", approx=ApproxConfig(max_tombstone_fraction=0.1)))
    index.build_approx()
    index.remove([f"i{i}" for i in range(10)])  # 5%: kept, as tombstones
    assert index.info().approx_built
    index.remove([f"i{i}" for i in range(10, 40)])  # 20%: dropped
    assert not index.info().approx_built
    assert index.search(vectors[50], k=1).ids == ["i50"]
    assert index.info().approx_built


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_approximate_scores_match_exact_scores_with_half_storage(dtype: str) -> None:
    vectors = torch.randn(500, 16, generator=torch.Generator().manual_seed(7))
    index = filled(vectors, IndexConfig(storage_dtype=dtype))
    exact = index.search(vectors[3], k=5, method="exact")
    approx = index.search(vectors[3], k=5, method="approx")
    assert approx.ids == exact.ids
    assert approx.scores == pytest.approx(exact.scores, abs=1e-6)


def test_approx_recall_measurement() -> None:
    index = filled(torch.randn(3_000, 32, generator=torch.Generator().manual_seed(8)), IndexConfig())
    assert index.approx_recall(n_queries=50) >= 0.95


def test_unknown_approximate_kind_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"valid: \['hnsw', 'ivf'\]"):
        ApproxConfig(kind="lsh")
    with pytest.raises(ValueError, match="max_tombstone_fraction"):
        ApproxConfig(max_tombstone_fraction=0.0)
