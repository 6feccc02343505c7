"""Adding files, folders and texts in batches: skips, reports, progress, resume, the encoder seam."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mmdemo.retrieval import BuildProgress, RetrievalIndex, default_embedder, discover_files, modality_of_path
from mmdemo.retrieval.build import text_id

from .conftest import FakeEmbedder, fake_vector, write_png


def test_discovery_sorts_skips_hidden_and_separates_other_files(media_folder: Path) -> None:
    media, other = discover_files(media_folder)
    names = [p.relative_to(media_folder).as_posix() for p in media]
    assert names == [
        "blue.png", "broken.png", "green.png", "red.png", "cats/cat1.png", "cats/cat2.png",
        "notes/a.txt", "notes/b.txt", "sounds/high.wav", "sounds/low.wav",
    ]
    assert [p.name for p in other] == ["readme.md"]
    flat, _ = discover_files(media_folder, recursive=False)
    assert len(flat) == 4
    assert [modality_of_path(p) for p in ("a.JPG", "b.flac", "c.txt", "d.mp4")] == ["image", "audio", "text", None]
    with pytest.raises(FileNotFoundError):
        discover_files(media_folder / "nope")


def test_folder_build_adds_all_modalities_with_labels_and_reports_unreadable_files(media_folder: Path) -> None:
    embedder = FakeEmbedder()
    index = RetrievalIndex(embedder=embedder)
    report = index.add_folder(media_folder, batch_size=2)
    assert len(report.added) == 9 and len(index) == 9
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [("broken.png", "cannot decode it")]
    assert [Path(p).name for p in report.ignored] == ["readme.md"]
    assert index.counts() == {"image": 5, "text": 2, "audio": 2}
    cat = index.get(str((media_folder / "cats" / "cat1.png").resolve()))
    assert (cat.modality, cat.label, cat.source) == ("image", "cats", cat.id)
    assert index.get(str((media_folder / "red.png").resolve())).label is None
    # Text files are embedded by their content; images by their bytes.
    note = str((media_folder / "notes" / "a.txt").resolve())
    assert torch.allclose(index.vector(note), fake_vector(b"a red square"), atol=1e-6)
    hit = index.search(fake_vector((media_folder / "green.png").read_bytes()), k=1)
    assert hit.hits[0].source.endswith("green.png") and hit.scores[0] == pytest.approx(1.0, abs=1e-6)
    assert index.models == {"image": "fake-clip", "text": "fake-clip", "audio": "fake-audio"}
    assert index.space == "fake-space"


def test_batches_are_bounded_and_progress_is_reported(media_folder: Path) -> None:
    embedder = FakeEmbedder()
    seen: list[BuildProgress] = []
    RetrievalIndex(embedder=embedder).add_folder(media_folder, batch_size=2, progress=seen.append)
    assert max(n for _, n in embedder.calls) <= 2
    assert [m for m, _ in embedder.calls] == ["text"] + ["image"] * 3 + ["audio"]  # in MODALITIES order
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == 10
    assert [s.done for s in seen] == sorted(s.done for s in seen)
    assert (seen[-1].added, seen[-1].failed, seen[-1].unchanged) == (9, 1, 0)


def test_a_batch_that_fails_as_a_whole_is_split_to_isolate_bad_files(media_folder: Path) -> None:
    embedder = FakeEmbedder(skip_support=False)
    index = RetrievalIndex(embedder=embedder)
    report = index.add_folder(media_folder, batch_size=8)
    assert len(index) == 9
    assert [Path(f.path).name for f in report.failed] == ["broken.png"]
    assert "cannot decode it" in report.failed[0].reason


def test_an_interrupted_build_resumes_without_embedding_again(media_folder: Path) -> None:
    embedder = FakeEmbedder()
    index = RetrievalIndex(embedder=embedder)

    def interrupt(state: BuildProgress) -> None:
        if state.done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index.add_folder(media_folder, batch_size=2, progress=interrupt)
    assert len(index) == 3  # two batches of images, one with the broken file
    first = embedder.embedded()
    report = index.add_folder(media_folder, batch_size=2)
    assert len(report.unchanged) == 3 and len(report.added) == 6
    assert embedder.embedded() - first == 7  # 6 new inputs + the broken one again, nothing twice

    # A rerun embeds nothing; a rewritten file is embedded again.
    before = embedder.embedded()
    assert len(index.add_folder(media_folder).unchanged) == 9
    assert embedder.embedded() - before == 1  # only the broken file is retried
    changed = write_png(media_folder / "red.png", (10, 10, 10))
    os.utime(changed, ns=(1, 1))
    again = index.add_folder(media_folder)
    assert again.added == [str(changed.resolve())]
    assert len(index) == 9


def test_checkpoint_callback_runs_after_every_batch(media_folder: Path) -> None:
    index = RetrievalIndex(embedder=FakeEmbedder())
    saved: list[int] = []
    index.add_folder(media_folder, batch_size=3, after_batch=lambda report: saved.append(len(report.added)))
    assert saved == [2, 4, 7, 9]  # texts 2; images: blue + broken + green (2 added), then 3; audio 2


def test_add_files_reports_missing_and_unsupported_files(media_folder: Path) -> None:
    index = RetrievalIndex(embedder=FakeEmbedder())
    report = index.add_files([media_folder / "red.png", media_folder / "gone.png", media_folder / "readme.md"])
    assert report.added == [str((media_folder / "red.png").resolve())]
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert "cannot read it" in reasons["gone.png"]
    assert "unsupported file type" in reasons["readme.md"] and ".png" in reasons["readme.md"]


def test_add_texts_ids_labels_and_deduplication() -> None:
    embedder = FakeEmbedder()
    index = RetrievalIndex(embedder=embedder)
    report = index.add_texts(["a dog", "a cat", "a dog"])
    assert report.added == [text_id("a dog"), text_id("a cat")] and len(index) == 2
    assert index.get(text_id("a cat")).source == "a cat"
    assert index.add_texts(["a dog"]).unchanged == [text_id("a dog")]
    index.add_texts(["a bird"], ids=["bird"], labels=["animal"])
    assert index.get("bird").label == "animal"
    assert index.search_text("a cat", k=1).ids == [text_id("a cat")]
    with pytest.raises(ValueError, match="list of texts"):
        index.add_texts("a dog")
    with pytest.raises(ValueError, match="2 ids for 1 texts"):
        index.add_texts(["x"], ids=["a", "b"])


def test_media_queries_embed_with_the_index_embedder(media_folder: Path) -> None:
    index = RetrievalIndex(embedder=FakeEmbedder())
    index.add_folder(media_folder)
    image = media_folder / "blue.png"
    result = index.search_image(str(image), k=2, modality="image")
    assert result.hits[0].source == str(image.resolve())
    assert (result.query_modality, result.model) == ("image", "fake-clip")
    audio = index.search_audio(str(media_folder / "sounds" / "low.wav"), k=1)
    assert audio.hits[0].source.endswith("low.wav") and audio.model == "fake-audio"
    with pytest.raises(ValueError, match="exactly one of text, image or audio"):
        index.query(text="x", image=str(image))


def test_default_embedder_goes_through_the_encoders_and_their_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmdemo import encoders

    calls = []

    def fake_embed_images(images, **kwargs):
        calls.append((list(images), kwargs))
        return FakeEmbedder().functions["image"](images)

    monkeypatch.setattr(encoders, "embed_images", fake_embed_images)
    embedder = default_embedder({"image": "clip-x", "audio": "audio-y"}, batch_size=7)
    assert embedder.models == {"image": "clip-x", "text": "clip-x", "audio": "audio-y"}
    embedder.embed("image", [Path(__file__)], skip_errors=True)
    (inputs, kwargs), = calls
    assert kwargs == {"model": "clip-x", "batch_size": 7, "use_cache": True, "skip_errors": True}
    with pytest.raises(ValueError, match="valid modalities"):
        embedder.embed("video", ["x"])
