"""Listing, shard planning, shard files and the job manifest: no Ray needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.errors import ConfigError, IncompatibleError
from mmdemo.scale.listing import SourceFile, list_source
from mmdemo.scale.shards import JobManifest, ShardRows, plan_shards, read_shard, write_shard

ROOT = Path(__file__).resolve().parents[2]


def _files(tmp_path: Path) -> Path:
    (tmp_path / "pics" / "cats").mkdir(parents=True)
    for name in ("b.png", "a.png", "cats/c.png", "note.txt", "song.wav", "readme.md", ".hidden.png"):
        (tmp_path / "pics" / name).write_bytes(b"x")
    return tmp_path / "pics"


def test_a_folder_lists_like_the_local_engine(tmp_path: Path) -> None:
    listing = list_source(_files(tmp_path))
    assert [Path(f.id).name for f in listing.files] == ["a.png", "b.png", "note.txt", "song.wav", "c.png"]
    assert {Path(f.id).name: f.label for f in listing.files}["c.png"] == "cats"
    assert [Path(p).name for p in listing.ignored] == ["readme.md"]


def test_a_manifest_lists_its_paths_and_reports_missing_ones(tmp_path: Path) -> None:
    folder = _files(tmp_path)
    manifest = folder / "list.csv"
    manifest.write_text("path,other\na.png,1\ncats/c.png,2\ngone.png,3\nreadme.md,4\n")
    listing = list_source(manifest)
    assert [Path(f.id).name for f in listing.files] == ["a.png", "c.png"]
    assert [Path(p).name for p, _ in listing.missing] == ["gone.png"]
    assert [Path(p).name for p in listing.ignored] == ["readme.md"]


def test_a_pyarrow_uri_lists_the_files_under_it(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow comes with requirements-scale.txt")
    folder = _files(tmp_path)
    listing = list_source(f"file://{folder}")
    assert sorted(Path(f.id).name for f in listing.files) == ["a.png", "b.png", "c.png", "note.txt", "song.wav"]
    assert all(f.id.startswith("file://") for f in listing.files)


def test_an_unknown_source_names_the_valid_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a folder, a manifest"):
        list_source(tmp_path / "nothing-here")


def _source(name: str, modality: str = "image") -> SourceFile:
    return SourceFile(f"/d/{name}", f"/d/{name}", modality, None, "1:1")


def test_batches_follow_the_local_engine_and_shards_have_fixed_names_and_keys() -> None:
    files = [_source(f"{i}.png") for i in range(7)] + [_source("t.txt", "text")]
    shards = plan_shards(files, batch_size=3, batches_per_shard=2)
    # texts first (MODALITIES order), then images in runs of 3
    assert [[f.id for f in b.files] for s in shards for b in s.batches] == [
        ["/d/t.txt"], ["/d/0.png", "/d/1.png", "/d/2.png"], ["/d/3.png", "/d/4.png", "/d/5.png"], ["/d/6.png"]]
    assert [s.name for s in shards] == ["shard-000000.parquet", "shard-000001.parquet"]
    again = plan_shards(files, batch_size=3, batches_per_shard=2)
    assert [s.key for s in again] == [s.key for s in shards]
    changed = plan_shards(files[:-2] + [SourceFile("/d/6.png", "/d/6.png", "image", None, "2:2"), files[-1]],
                          batch_size=3, batches_per_shard=2)
    assert changed[0].key == shards[0].key and changed[1].key != shards[1].key  # only the changed shard
    assert plan_shards(files, batch_size=3, batches_per_shard=2, settings={"dtype": "bfloat16"})[0].key != shards[0].key


def test_a_shard_file_is_replaced_not_duplicated_and_the_manifest_survives(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow comes with requirements-scale.txt")
    shard = plan_shards([_source("a.png"), _source("b.png")], batch_size=2)[0]
    for attempt in range(2):
        rows = ShardRows()
        rows.add(shard.files[0], [0.5, float(attempt)], None, "m", "s")
        rows.add(shard.files[1], None, "corrupt", None, None)
        write_shard(tmp_path, shard, rows)
    assert [p.name for p in tmp_path.iterdir()] == [shard.name]
    table = read_shard(tmp_path / shard.name).to_pydict()
    assert table["vector"] == [[0.5, 1.0], None] and table["error"] == [None, "corrupt"]
    job = JobManifest.load(tmp_path, {"dtype": "float32"})
    job.mark_done(shard, 2, [("/d/b.png", "corrupt")])
    reread = JobManifest.load(tmp_path, {"dtype": "float32"})
    assert reread.is_done(shard) and reread.finished[shard.name].failed == [("/d/b.png", "corrupt")]
    (tmp_path / "job.json").write_text("{broken")
    with pytest.raises(IncompatibleError, match="delete it"):
        JobManifest.load(tmp_path, {})


def test_without_ray_the_engine_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmdemo.scale.cluster import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install -r requirements-scale.txt"):
        require_ray()


def test_the_cli_without_ray_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmdemo.cli import index as index_cli

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"--engine ray needs Ray Data.*pip install -r requirements-scale.txt"):
        index_cli.main(["build", str(_files(tmp_path)), "--out", str(tmp_path / "idx"), "--engine", "ray"])
    assert not (tmp_path / "idx").exists()  # nothing written


def test_mmdemo_does_not_import_ray_unless_the_ray_engine_runs() -> None:
    code = ("import sys, mmdemo, mmdemo.cli.index, mmdemo.scale.listing, mmdemo.scale.shards, mmdemo.scale.merge, "
            "mmdemo.scale.ray_embed, mmdemo.scale.features, mmdemo.scale.bench; "
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_workers_that_would_take_every_cpu_leave_room_for_the_readers() -> None:
    from mmdemo.scale.ray_embed import RayJobConfig, fit_to_cluster

    config = RayJobConfig(workers=2, cpus_per_worker=1.0, read_cpus=0.25)
    assert fit_to_cluster(config, 8.0) == config
    fitted = fit_to_cluster(config, 2.0)
    assert fitted.workers == 2 and fitted.workers * fitted.cpus_per_worker + fitted.read_cpus <= 2.0
    with pytest.raises(ConfigError, match="--workers"):
        fit_to_cluster(RayJobConfig(workers=40), 2.0)


def test_the_pipeline_stages_read_uris_and_embed_like_the_local_encoders(world_images: Path) -> None:
    """read_batch and BatchEmbedder run here without Ray: file:// URIs, a corrupt file, float32 bits."""
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with requirements-scale.txt")
    import numpy as np

    import mmdemo.encoders
    from mmdemo.loading import SETTINGS, configure_runtime
    from mmdemo.scale.ray_embed import BatchEmbedder, read_batch

    paths = sorted(str(p) for p in (world_images / "a").glob("*.png"))[:5] + [str(world_images / "b" / "broken.png")]
    row = read_batch({"batch": 0, "modality": "image", "paths": [f"file://{p}" for p in paths], "literal": False})
    assert [e is None for e in row["errors"]] == [True] * 5 + [False]
    import torch

    before, threads = SETTINGS.dtype, torch.get_num_threads()
    configure_runtime(dtype="float32")
    try:
        out = BatchEmbedder({}, "bundled", "float32", "cpu", 1)(pa.Table.from_pylist([row])).to_pylist()[0]
        local = mmdemo.encoders.embed("image", paths[:5], batch_size=5, use_cache=False).embeddings.numpy()
    finally:
        configure_runtime(dtype=before)
        torch.set_num_threads(threads)  # the actor sets its own thread count
    assert out["vectors"][5] is None and "not an image" in out["errors"][5]
    assert np.array_equal(np.stack([np.frombuffer(v, dtype=np.float32) for v in out["vectors"][:5]]), local)
