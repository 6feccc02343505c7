"""The index core on plain tensors: add, search, filters, top-k, removal, compatibility."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval import EmptyIndexError, IndexConfig, IndexItem, RetrievalIndex


def make_index(n: int = 30, dim: int = 16, seed: int = 0, dtype: str = "float32") -> tuple[RetrievalIndex, torch.Tensor]:
    vectors = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
    modalities = ["image", "text", "audio"]
    items = [IndexItem(f"item{i}", modalities[i % 3], f"/data/{i}", label=f"L{i % 2}") for i in range(n)]
    index = RetrievalIndex(IndexConfig(storage_dtype=dtype))
    index.add_embeddings(vectors, items, model="m", space="s")
    return index, F.normalize(vectors, dim=1)


def brute_force(vectors: torch.Tensor, query: torch.Tensor, rows: list[int], k: int) -> list[int]:
    scores = vectors[rows] @ F.normalize(query, dim=0)
    return [rows[i] for i in torch.argsort(scores, descending=True)[:k].tolist()]


def test_search_returns_cosine_scores_best_first() -> None:
    index, vectors = make_index()
    query = torch.randn(16, generator=torch.Generator().manual_seed(5))
    result = index.search(query, k=5)
    expected = brute_force(vectors, query, list(range(30)), 5)
    assert result.ids == [f"item{i}" for i in expected]
    assert result.scores == sorted(result.scores, reverse=True)
    cosine = (vectors[expected] @ F.normalize(query, dim=0)).tolist()
    assert result.scores == pytest.approx(cosine, abs=1e-6)
    assert [hit.rank for hit in result.hits] == [1, 2, 3, 4, 5]
    assert result.method == "exact"
    top = result.hits[0]
    assert (top.modality, top.source, top.label) == (index.get(top.id).modality, index.get(top.id).source, index.get(top.id).label)


def test_stored_vector_finds_itself_first() -> None:
    index, vectors = make_index()
    result = index.search(vectors[7] * 3.0, k=1)  # scale does not matter: cosine similarity
    assert result.ids == ["item7"]
    assert result.scores[0] == pytest.approx(1.0, abs=1e-6)


def test_batch_search_equals_single_searches() -> None:
    index, vectors = make_index()
    queries = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    batch = index.search_batch(queries, k=3)
    assert [r.ids for r in batch] == [index.search(q, k=3).ids for q in queries]


def test_top_k_larger_than_index_returns_everything() -> None:
    index, _ = make_index(n=4)
    result = index.search(torch.ones(16), k=50)
    assert len(result) == 4
    assert sorted(result.ids) == [f"item{i}" for i in range(4)]


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_invalid_k_is_refused(k: object) -> None:
    index, _ = make_index(n=4)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(torch.ones(16), k=k)  # type: ignore[arg-type]


def test_modality_filter_returns_only_that_modality_and_the_right_ranking() -> None:
    index, vectors = make_index(n=60)
    query = torch.randn(16, generator=torch.Generator().manual_seed(3))
    for modality, offset in (("image", 0), ("text", 1), ("audio", 2)):
        result = index.search(query, k=4, modality=modality)
        assert {hit.modality for hit in result.hits} == {modality}
        rows = list(range(offset, 60, 3))
        assert result.ids == [f"item{i}" for i in brute_force(vectors, query, rows, 4)]
    both = index.search(query, k=60, modality=["image", "audio"])
    assert len(both) == 40 and {hit.modality for hit in both.hits} == {"image", "audio"}


def test_filter_of_a_large_share_masks_instead_of_gathering() -> None:
    # 2 of 3 modalities keep > 25% of the rows: the masked path; results still match brute force.
    index, vectors = make_index(n=90)
    query = torch.randn(16, generator=torch.Generator().manual_seed(4))
    rows = [i for i in range(90) if i % 3 != 2]
    result = index.search(query, k=10, modality=("image", "text"))
    assert result.ids == [f"item{i}" for i in brute_force(vectors, query, rows, 10)]


def test_unknown_modality_filter_lists_valid_ones() -> None:
    index, _ = make_index(n=3)
    with pytest.raises(ValueError, match="valid modalities"):
        index.search(torch.ones(16), modality="video")


def test_empty_index_and_empty_filter_raise() -> None:
    with pytest.raises(EmptyIndexError, match="empty"):
        RetrievalIndex().search(torch.ones(4))
    with pytest.raises(EmptyIndexError, match="empty"):
        RetrievalIndex().query(text="anything")
    index = RetrievalIndex()
    index.add_embeddings(torch.randn(2, 4), [IndexItem("a", "image", "a"), IndexItem("b", "image", "b")], model="m", space="s")
    with pytest.raises(EmptyIndexError, match="no audio items.*'image': 2"):
        index.search(torch.ones(4), modality="audio")


def test_removal() -> None:
    index, vectors = make_index(n=30)
    assert index.search(vectors[4], k=1).ids == ["item4"]
    assert index.remove(["item4", "item5"]) == 2
    assert len(index) == 28 and "item4" not in index
    assert index.counts() == {"image": 10, "text": 9, "audio": 9}  # item4 was text, item5 audio
    assert "item4" not in index.search(vectors[4], k=28).ids
    assert index.search(vectors[6], k=1).ids == ["item6"]  # rows after the removed ones still line up
    with pytest.raises(KeyError, match="item4"):
        index.get("item4")
    with pytest.raises(KeyError, match="nope"):
        index.remove(["nope"])
    assert index.remove(["nope", "item6"], missing_ok=True) == 1
    index.remove([item.id for item in index.items()])
    with pytest.raises(EmptyIndexError):
        index.search(vectors[0])


def test_adding_an_existing_id_replaces_it() -> None:
    index, vectors = make_index(n=6)
    new = torch.randn(1, 16, generator=torch.Generator().manual_seed(9))
    index.add_embeddings(new, [IndexItem("item2", "text", "replaced")], model="m", space="s")
    assert len(index) == 6
    assert index.get("item2").source == "replaced"
    assert torch.allclose(index.vector("item2"), F.normalize(new, dim=1)[0], atol=1e-6)
    assert index.search(new[0], k=1).ids == ["item2"]


def test_items_listing_and_counts() -> None:
    index, _ = make_index(n=7)
    assert [item.id for item in index.items()] == [f"item{i}" for i in range(7)]
    assert [item.id for item in index.items("audio")] == ["item2", "item5"]
    assert index.counts() == {"image": 3, "text": 2, "audio": 2}
    info = index.info()
    assert (info.count, info.dim, info.space, info.models) == (7, 16, "s", {"audio": "m", "image": "m", "text": "m"})


def test_other_space_model_or_dimension_is_refused() -> None:
    index, _ = make_index(n=3)
    item = [IndexItem("new", "image", "x")]
    with pytest.raises(IncompatibleError, match="space 'other'.*space 's'"):
        index.add_embeddings(torch.randn(1, 16), item, model="m", space="other")
    with pytest.raises(IncompatibleError, match="embedded with 'm', not 'm2'"):
        index.add_embeddings(torch.randn(1, 16), item, model="m2", space="s")
    with pytest.raises(IncompatibleError, match="dimension 8"):
        index.add_embeddings(torch.randn(1, 8), item, model="m", space="s")
    with pytest.raises(IncompatibleError, match="dimension 8"):
        index.search(torch.randn(8))
    assert len(index) == 3


def test_a_new_modality_may_come_from_another_model_of_the_same_space() -> None:
    index = RetrievalIndex()
    index.add_embeddings(torch.randn(2, 4), [IndexItem("i1", "image", "a"), IndexItem("i2", "image", "b")], model="clip", space="clip")
    index.add_embeddings(torch.randn(1, 4), [IndexItem("a1", "audio", "c")], model="audio-proj", space="clip")
    assert index.models == {"image": "clip", "audio": "audio-proj"}


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (torch.tensor([[float("nan"), 1.0]]), "NaN"),
        (torch.zeros(1, 2), "all-zero"),
        (torch.ones(2), r"\[N, D\]"),
    ],
)
def test_bad_vectors_are_refused(vectors: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetrievalIndex().add_embeddings(vectors, [IndexItem("a", "image", "a")], model="m", space="s")


def test_item_count_and_duplicate_ids_are_checked() -> None:
    index = RetrievalIndex()
    with pytest.raises(ValueError, match="2 embeddings for 1 items"):
        index.add_embeddings(torch.randn(2, 4), [IndexItem("a", "image", "a")], model="m", space="s")
    with pytest.raises(ValueError, match="Duplicate item ids"):
        index.add_embeddings(torch.randn(2, 4), [IndexItem("a", "image", "a")] * 2, model="m", space="s")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_storage_agrees_with_float32(dtype: str) -> None:
    full, _ = make_index(n=3000, dim=32, seed=2)
    half, _ = make_index(n=3000, dim=32, seed=2, dtype=dtype)
    queries = torch.randn(20, 32, generator=torch.Generator().manual_seed(8))
    found = 0
    for exact, approx in zip(full.search_batch(queries, k=10), half.search_batch(queries, k=10)):
        found += len(set(exact.ids) & set(approx.ids))
        assert approx.scores == sorted(approx.scores, reverse=True)
        assert approx.scores[0] == pytest.approx(exact.scores[0], abs=1e-2)
    assert found / 200 >= 0.95
    assert half.vector("item0").dtype == torch.float32


def test_unknown_config_values_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: \\['float32', 'bfloat16', 'float16'\\]"):
        IndexConfig(storage_dtype="int8")
    with pytest.raises(ValueError, match="valid: \\['auto', 'exact', 'approx'\\]"):
        IndexConfig(method="fast")
    index, _ = make_index(n=3)
    with pytest.raises(ValueError, match="Unknown search method 'fast'"):
        index.search(torch.ones(16), method="fast")


def test_vectors_are_the_stored_unit_vectors_in_insertion_order() -> None:
    index, expected = make_index(5, 8, seed=4)
    assert torch.allclose(index.vectors, expected, atol=1e-6)
    assert torch.allclose(index.vectors.norm(dim=1), torch.ones(5), atol=1e-6)
