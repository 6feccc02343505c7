"""Evaluation on paired sets: directions, groups, skipped inputs, manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval.embedder import Embedder
from mmdemo.retrieval.evaluate import DIRECTIONS, PairedSet, evaluate_pairs

from .conftest import FakeEmbedder, FakeOutput, fake_vector


def by_name_embedder(spaces: dict[str, str] | None = None) -> Embedder:
    """Embeds any input by its string: the image, text and audio of pair "p3" get one vector."""
    spaces = spaces or {}

    def make(modality: str):
        def embed(inputs: list[Any], *, skip_errors: bool = False) -> FakeOutput:
            import torch

            keep = [i for i, x in enumerate(inputs) if not str(x).startswith("bad")]
            errors = {i: "unreadable" for i in range(len(inputs)) if i not in keep}
            vectors = torch.stack([fake_vector(str(inputs[i]).split("#")[0].encode()) for i in keep])
            return FakeOutput(vectors, f"{modality}-model", spaces.get(modality, "space"), keep, errors)
        return embed

    return Embedder({m: make(m) for m in ("image", "text", "audio")})


def test_matching_pairs_score_perfectly_in_every_direction() -> None:
    names = [f"p{i}" for i in range(12)]
    pairs = PairedSet(images=names, texts=names, audio=names, groups=names)
    report = evaluate_pairs(pairs, embedder=by_name_embedder())
    assert list(report.results) == list(DIRECTIONS)
    for result in report.results.values():
        assert result.recall == {1: 1.0, 5: 1.0, 10: 1.0}
        assert (result.median_rank, result.n_queries, result.gallery_size) == (1.0, 12, 12)
    assert report.models == {"audio": "audio-model", "image": "image-model", "text": "text-model"}
    assert "| text->image | 12 | 12 | 1.000 | 1.000 | 1.000 | 1 |" in report.table()


def test_pairs_with_the_same_description_all_count_as_hits() -> None:
    # Texts "p0#a" and "p0#b" embed alike; images of pairs 0 and 1 differ. Grouped by description,
    # each text's best image is in its group; with one group per pair, one of them must miss.
    images = ["p0", "q1", "p2", "p3"]
    texts = ["p0#a", "p0#b", "p2", "p3"]
    grouped = evaluate_pairs(PairedSet(images, texts, None, ["d0", "d0", "d2", "d3"]),
                             embedder=by_name_embedder(), directions=["text->image"])
    assert grouped.results["text->image"].recall[1] == 1.0
    single = evaluate_pairs(PairedSet(images, texts, None, ["0", "1", "2", "3"]),
                            embedder=by_name_embedder(), directions=["text->image"])
    assert single.results["text->image"].recall[1] == 0.75


def test_unreadable_and_missing_inputs_are_left_out_and_reported() -> None:
    pairs = PairedSet(
        images=["p0", "bad-image", "p2", "p3"], texts=["p0", "p1", None, "p3"], audio=None,
        groups=["0", "1", "2", "3"],
    )
    report = evaluate_pairs(pairs, embedder=by_name_embedder())
    assert set(report.results) == {"text->image", "image->text"}
    assert report.results["text->image"].n_queries == 2  # pairs 0 and 3 have both
    assert report.skipped == ["image of pair 1: unreadable"]


def test_direction_checks() -> None:
    pairs = PairedSet(images=["a"], texts=["a"], audio=None, groups=["a"])
    with pytest.raises(ValueError, match="has no audio"):
        evaluate_pairs(pairs, embedder=by_name_embedder(), directions=["audio->image"])
    with pytest.raises(ValueError, match="Unknown retrieval directions"):
        evaluate_pairs(pairs, embedder=by_name_embedder(), directions=["image->audio"])
    with pytest.raises(ValueError, match="at least two"):
        PairedSet(images=["a"], texts=None, audio=None, groups=["a"])
    with pytest.raises(ValueError, match="2 text entries for 1 pairs"):
        PairedSet(images=["a"], texts=["a", "b"], audio=None, groups=["a"])


def test_different_spaces_are_refused() -> None:
    pairs = PairedSet(images=["a"], texts=["a"], audio=None, groups=["a"])
    with pytest.raises(IncompatibleError, match="different spaces"):
        evaluate_pairs(pairs, embedder=by_name_embedder({"image": "other"}))


def test_manifest_pairs_with_a_bad_row(media_folder: Path) -> None:
    manifest = media_folder / "pairs.csv"
    manifest.write_text(
        "text,image,audio\n"
        "a red picture,red.png,sounds/low.wav\n"
        "a green picture,green.png,sounds/high.wav\n"
        "a blue picture,missing.png,sounds/low.wav\n"
        "a broken picture,broken.png,sounds/high.wav\n",
        encoding="utf-8",
    )
    pairs = PairedSet.from_manifest(manifest)
    assert len(pairs) == 3 and pairs.texts == ["a red picture", "a green picture", "a broken picture"]
    assert pairs.images[0] == str(media_folder / "red.png")
    assert len(pairs.skipped) == 1 and "line 4" in pairs.skipped[0] and "missing.png" in pairs.skipped[0]
    report = evaluate_pairs(pairs, embedder=FakeEmbedder())
    assert report.results["text->image"].n_queries == 2  # the broken image is left out
    assert report.results["audio->text"].n_queries == 3
    assert any("broken" in line or "image of pair 2" in line for line in report.skipped)
    assert len(PairedSet.from_manifest(manifest, limit=1)) == 1
