"""The index over the real encoders, with the tiny checkpoints of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval import RetrievalIndex, default_embedder
from mmdemo.retrieval.evaluate import DIRECTIONS, PairedSet, evaluate_pairs


@pytest.fixture
def tiny_embedder(tiny_models):
    return default_embedder({"image": tiny_models.clip, "audio": tiny_models.audio}, batch_size=2)


def test_folder_index_answers_media_queries(media_folder: Path, tiny_models, tiny_embedder, tmp_path: Path) -> None:
    index = RetrievalIndex(embedder=tiny_embedder)
    report = index.add_folder(media_folder, batch_size=3)
    assert len(index) == 9
    assert [Path(f.path).name for f in report.failed] == ["broken.png"]
    assert index.models == {"image": tiny_models.clip, "text": tiny_models.clip, "audio": tiny_models.audio}
    assert index.space == tiny_models.clip  # the audio encoder is aligned into CLIP's space

    red = media_folder / "red.png"
    result = index.search_image(red, k=3, modality="image")
    assert result.hits[0].source == str(red.resolve()) and result.scores[0] == pytest.approx(1.0, abs=1e-4)
    low = media_folder / "sounds" / "low.wav"
    assert index.search_audio(str(low), k=1, modality="audio").hits[0].source == str(low.resolve())
    assert index.search_text("a blue square", k=1, modality="text").hits[0].source.endswith("b.txt")

    index.save(tmp_path / "ix")
    loaded = RetrievalIndex.load(tmp_path / "ix")  # default embedder: the index's own models
    assert loaded.search_image(red, k=3).ids == index.search_image(red, k=3).ids


def test_a_rebuild_is_served_by_the_embedding_cache(media_folder: Path, tiny_embedder, monkeypatch, tmp_path: Path) -> None:
    from mmdemo import encoders

    monkeypatch.setenv("MMDEMO_CACHE_DIR", str(tmp_path / "fresh-cache"))
    computed: list[int] = []
    real = encoders.embed_images

    def counting(*args, **kwargs):
        output = real(*args, **kwargs)
        computed.append(output.computed)
        return output

    monkeypatch.setattr(encoders, "embed_images", counting)
    RetrievalIndex(embedder=tiny_embedder).add_folder(media_folder, batch_size=2)
    first = sum(computed)
    computed.clear()
    fresh = RetrievalIndex(embedder=tiny_embedder)  # nothing in the index: only the cache can help
    assert len(fresh.add_folder(media_folder, batch_size=2).added) == 9
    assert first == 5 and sum(computed) == 0  # 5 readable images computed once, then cached
    assert len(computed) >= 3  # several batches, each through the cache


def test_other_models_are_refused(media_folder: Path, tiny_models, tiny_embedder, tmp_path: Path) -> None:
    index = RetrievalIndex(embedder=tiny_embedder)
    index.add_folder(media_folder)
    index.save(tmp_path / "ix")
    with pytest.raises(IncompatibleError, match=f"'{tiny_models.clip}', not '{tiny_models.open_clip}'"):
        RetrievalIndex.load(tmp_path / "ix", expect_models={"image": tiny_models.open_clip})
    index.embedder = default_embedder({"image": tiny_models.open_clip})
    with pytest.raises(IncompatibleError, match="space"):
        index.search_text("a red square")
    with pytest.raises(IncompatibleError):
        index.add_texts(["a new text"])


def test_world_pairs_evaluate_in_every_direction(tiny_models, tiny_embedder) -> None:
    pairs = PairedSet.from_world("test", n=6)
    assert len(pairs) == 6 and pairs.groups == pairs.texts
    report = evaluate_pairs(pairs, embedder=tiny_embedder)
    assert list(report.results) == list(DIRECTIONS)
    for result in report.results.values():
        assert result.n_queries == 6 and 1.0 <= result.median_rank <= 6.0
        assert 0.0 <= result.recall[1] <= result.recall[5] <= result.recall[10] == 1.0
