"""Saving and loading: identical round trips, atomic saves under crashes, refusing other models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval import IndexConfig, IndexItem, IndexNotFoundError, RetrievalIndex
from mmdemo.retrieval import persist

from .conftest import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]
QUERIES = torch.randn(6, 16, generator=torch.Generator().manual_seed(42))


def build(n: int = 40, dtype: str = "float32", approx: bool = False) -> RetrievalIndex:
    vectors = torch.randn(n, 16, generator=torch.Generator().manual_seed(0))
    kinds = ["image", "text", "audio"]
    items = [
        IndexItem(f"item{i}", kinds[i % 3], f"/data/{i}.x", label=None if i % 4 else "four", fingerprint=f"{i}:1" if i % 2 else None)
        for i in range(n)
    ]
    index = RetrievalIndex(IndexConfig(storage_dtype=dtype))
    index.add_embeddings(vectors, items, model="clip-a", space="clip-a")
    if approx:
        index.build_approx()
    return index


def answers(index: RetrievalIndex, method: str = "exact") -> list[tuple[list[str], list[float]]]:
    results = index.search_batch(QUERIES, k=8, method=method)
    results += index.search_batch(QUERIES[:2], k=3, modality="audio", method=method)
    return [(r.ids, r.scores) for r in results]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_round_trip_gives_identical_results(tmp_path: Path, dtype: str) -> None:
    index = build(dtype=dtype)
    index.remove(["item3"])
    index.save(tmp_path / "ix")
    loaded = RetrievalIndex.load(tmp_path / "ix")
    assert answers(loaded) == answers(index)
    assert loaded.items() == index.items()
    assert (loaded.space, loaded.models, loaded.config) == (index.space, index.models, index.config)
    assert loaded.vector("item5").tolist() == index.vector("item5").tolist()
    manifest = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert manifest["format_version"] == persist.FORMAT_VERSION
    assert manifest["models"] == {"image": "clip-a", "text": "clip-a", "audio": "clip-a"}
    # Keys keep growing after a reload: new items never collide with removed ones.
    loaded.add_embeddings(torch.randn(1, 16), [IndexItem("late", "image", "x")], model="clip-a", space="clip-a")
    assert loaded.search(loaded.vector("late"), k=1).ids == ["late"]


def test_round_trip_keeps_the_approximate_structure(tmp_path: Path) -> None:
    index = build(approx=True)
    index.remove(["item1", "item2"])  # tombstones inside the FAISS structure
    index.save(tmp_path / "ix")
    assert (tmp_path / "ix" / json.loads((tmp_path / "ix" / "index.json").read_text())["generation"] / "ann.faiss").is_file()
    loaded = RetrievalIndex.load(tmp_path / "ix")
    assert loaded.info().approx_built  # loaded, not rebuilt
    assert answers(loaded, "approx") == answers(index, "approx")
    assert "item1" not in loaded.search(index.vector("item0"), k=40, method="approx").ids


def test_an_index_saved_with_the_old_backend_field_still_loads(tmp_path: Path) -> None:
    index = RetrievalIndex(IndexConfig(method="approx"))
    index.add_embeddings(torch.randn(5, 8), [IndexItem(f"i{n}", "image", f"/{n}") for n in range(5)], model="m", space="s")
    index.save(tmp_path / "ix")
    path = tmp_path / "ix" / "index.json"
    manifest = json.loads(path.read_text())
    assert manifest["config"]["method"] == "approx" and "backend" not in manifest["config"]  # written as method
    manifest["config"]["backend"] = manifest["config"].pop("method")  # what earlier versions wrote
    path.write_text(json.dumps(manifest))
    loaded = RetrievalIndex.load(tmp_path / "ix")
    assert loaded.config.method == "approx"
    assert loaded.search(torch.ones(8), k=2).method == "approx:hnsw"
    assert IndexConfig.from_json({"backend": "approx", "method": "exact"}).method == "exact"  # the new name wins


def test_state_round_trip_is_the_public_seam(tmp_path: Path) -> None:
    index = build(n=12)
    state = index.state()
    copy = RetrievalIndex.from_state(state)
    assert answers(copy) == answers(index) and copy.models == index.models
    saved = persist.save_state(state, tmp_path / "ix")
    loaded = RetrievalIndex.from_state(persist.load_state(saved))
    assert answers(loaded) == answers(index)


def test_empty_index_round_trip(tmp_path: Path) -> None:
    RetrievalIndex().save(tmp_path / "ix")
    loaded = RetrievalIndex.load(tmp_path / "ix")
    assert len(loaded) == 0 and loaded.dim is None
    loaded.add_embeddings(torch.randn(2, 4), [IndexItem("a", "image", "a"), IndexItem("b", "text", "b")], model="m", space="s")
    assert loaded.search(torch.ones(4), k=5).method == "exact"


def test_loading_with_another_dtype_converts(tmp_path: Path) -> None:
    build().save(tmp_path / "ix")
    loaded = RetrievalIndex.load(tmp_path / "ix", config=IndexConfig(storage_dtype="bfloat16"))
    assert loaded.config.storage_dtype == "bfloat16"
    assert loaded.search(QUERIES[0], k=3).ids == build().search(QUERIES[0], k=3).ids


def _crash_in_tensors(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut while writing embeddings")
    monkeypatch.setattr(persist, "save_tensors_atomic", crash)


def _crash_in_items(monkeypatch: pytest.MonkeyPatch) -> None:
    real = persist.write_json_atomic

    def crash(path: Path, obj: object) -> Path:
        if Path(path).name == persist.ITEMS_FILE:
            Path(path).write_text('{"items": [', encoding="utf-8")  # a torn write
            raise KeyboardInterrupt("power cut while writing items")
        return real(path, obj)
    monkeypatch.setattr(persist, "write_json_atomic", crash)


def _crash_in_approx(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: object, path: Path) -> None:
        Path(path).write_bytes(b"\0" * 100)
        raise KeyboardInterrupt("power cut while writing the FAISS index")
    monkeypatch.setattr(persist.ApproxSearcher, "write", crash)


def _crash_in_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace

    def crash(src: str, dst: str) -> None:
        if Path(dst).name == persist.MANIFEST:  # the new index.json is written but not renamed
            raise KeyboardInterrupt("power cut during the commit")
        real(src, dst)
    monkeypatch.setattr(os, "replace", crash)


@pytest.mark.parametrize("crash", [_crash_in_tensors, _crash_in_items, _crash_in_approx, _crash_in_commit])
def test_an_interrupted_save_leaves_the_previous_index_loadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash) -> None:
    folder = tmp_path / "ix"
    old = build(approx=True)
    old.save(folder)
    expected = answers(old)

    changed = RetrievalIndex.load(folder)
    changed.remove(["item0", "item1"])
    changed.add_embeddings(torch.randn(3, 16), [IndexItem(f"new{i}", "image", "x") for i in range(3)], model="clip-a", space="clip-a")
    with monkeypatch.context() as patch:
        crash(patch)
        with pytest.raises(KeyboardInterrupt):
            changed.save(folder)

    survivor = RetrievalIndex.load(folder)
    assert answers(survivor) == expected
    assert [item.id for item in survivor.items()] == [item.id for item in old.items()]
    # The next save works and clears the leftovers of the interrupted one.
    changed.save(folder)
    assert answers(RetrievalIndex.load(folder)) == answers(changed)
    leftovers = sorted(p.name for p in folder.iterdir())
    assert len(leftovers) == 2 and leftovers[1] == "index.json" and leftovers[0].startswith("gen-")


def test_a_process_killed_mid_save_leaves_the_previous_index_loadable(tmp_path: Path) -> None:
    folder = tmp_path / "ix"
    old = build()
    old.save(folder)
    script = f"""
import os, torch
from mmdemo.retrieval import RetrievalIndex, IndexItem, persist
index = RetrievalIndex.load({str(folder)!r})
index.remove(["item0"])
index.add_embeddings(torch.randn(2, 16), [IndexItem("a", "image", "a"), IndexItem("b", "image", "b")], model="clip-a", space="clip-a")
real = persist.write_json_atomic
def die(path, obj):
    if path.name == persist.MANIFEST:  # the new generation is complete; the commit never happens
        os._exit(3)
    return real(path, obj)
persist.write_json_atomic = die
index.save({str(folder)!r})
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert any(p.name.startswith("gen-") and p.name != json.loads((folder / "index.json").read_text())["generation"] for p in folder.iterdir())
    assert answers(RetrievalIndex.load(folder)) == answers(old)


def test_loading_an_index_built_with_other_models_is_refused(tmp_path: Path) -> None:
    build().save(tmp_path / "ix")
    with pytest.raises(IncompatibleError, match="built with image model 'clip-a', not 'clip-b'"):
        RetrievalIndex.load(tmp_path / "ix", expect_models={"image": "clip-b"})
    with pytest.raises(IncompatibleError, match="audio model 'clip-a', not 'fake-audio'"):
        RetrievalIndex.load(tmp_path / "ix", embedder=FakeEmbedder(model="clip-a"))
    # The same models (or none stated) load.
    assert len(RetrievalIndex.load(tmp_path / "ix", expect_models={"image": "clip-a", "audio": None})) == 40


def test_querying_with_another_space_is_refused(tmp_path: Path) -> None:
    index = build()
    index.embedder = FakeEmbedder(model="clip-b", space="clip-b")
    with pytest.raises(IncompatibleError, match="space 'clip-b'.*space 'clip-a'"):
        index.query(text="a red circle")


def test_not_an_index_and_other_versions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="index.json not found"):
        RetrievalIndex.load(tmp_path / "missing")
    folder = tmp_path / "ix"
    build().save(folder)
    manifest = json.loads((folder / "index.json").read_text())
    (folder / "index.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IncompatibleError, match="format version 99; this mmdemo reads version 1"):
        RetrievalIndex.load(folder)
    (folder / "index.json").write_text(json.dumps({**manifest, "count": 41}))
    with pytest.raises(IncompatibleError, match="damaged: 41 items announced"):
        RetrievalIndex.load(folder)
    (folder / "index.json").write_text(json.dumps({**manifest, "generation": "gen-999999"}))
    with pytest.raises(IncompatibleError, match="damaged: cannot read gen-999999"):
        RetrievalIndex.load(folder)


def test_saving_over_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="holds other files"):
        build().save(tmp_path / "photos")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="it is a file"):
        build().save(tmp_path / "file")
