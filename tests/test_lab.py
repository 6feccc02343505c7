import csv
import zipfile

import numpy as np
import pytest
import soundfile
from PIL import Image

from mmdemo.errors import MediaError
from mmdemo.lab import find_manifest, prepare_data, run_lab, world_manifest
from mmdemo.training.head import FusionHead
from mmdemo.training.trainer import TrainConfig


def _write_dataset(folder, n=40):
    rows = []
    for i in range(n):
        colour = ["red", "blue"][i % 2]
        Image.new("RGB", (24, 24), (255, 0, 0) if colour == "red" else (0, 0, 255)).save(folder / f"{i}.png")
        tone = (0.3 * np.sin(np.arange(3200) * (0.05 if colour == "red" else 0.2))).astype(np.float32)
        soundfile.write(folder / f"{i}.wav", tone, 16_000)
        rows.append({"text": f"a {colour} thing", "image": f"{i}.png", "audio": f"{i}.wav", "colour": colour})
    rows.append({"text": "broken", "image": "missing.png", "audio": "0.wav", "colour": "red"})
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "image", "audio", "colour"])
        writer.writeheader()
        writer.writerows(rows)
    return folder / "manifest.csv"


def test_run_lab_trains_compares_saves_and_reports_bad_rows(tiny_models, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    manifest = _write_dataset(data)
    events = []
    models = {"text": tiny_models.clip, "image": tiny_models.clip, "audio": tiny_models.audio}
    run = run_lab(manifest, "concat,gmu", TrainConfig(epochs=15, lr=0.01, seed=1), out_dir=tmp_path / "run",
                  models=models, progress=events.append)
    assert list(run.heads) == ["concat", "gmu"]
    assert [row.strategy for row in run.comparison.rows()] == ["concat", "gmu"]
    # colour is visible in every modality: both strategies learn it
    assert all(row.accuracy >= 0.8 for row in run.comparison.rows())
    assert len(run.bad_rows) == 1 and "missing.png" in str(run.bad_rows[0])
    assert events[-1].fraction == 1.0 and {e.stage for e in events} >= {"embedding", "training", "report"}
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    names = zipfile.ZipFile(run.archive).namelist()
    assert "heads/gmu/head.json" in names and "report/report.md" in names
    head = FusionHead.load(run.heads["gmu"])
    prediction = head.predict(image=str(data / "0.png"))  # image only: text and audio missing
    assert prediction.labels["colour"] == "red"


def test_prepare_data_extracts_zip_and_finds_the_manifest(tmp_path):
    data = tmp_path / "src"
    data.mkdir()
    (data / "sub").mkdir()
    (data / "sub" / "m.jsonl").write_text('{"text": "a", "label": "x"}\n')
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(data / "sub" / "m.jsonl", "sub/m.jsonl")
    manifest = prepare_data(archive, tmp_path / "work")
    assert manifest.name == "m.jsonl" and manifest.is_file()
    with pytest.raises(MediaError, match="Unsupported data file"):
        prepare_data(tmp_path / "notes.txt", tmp_path / "work2")


def test_find_manifest_errors(tmp_path):
    with pytest.raises(MediaError, match="no manifest"):
        find_manifest(tmp_path)
    (tmp_path / "a.csv").write_text("text,label\n")
    (tmp_path / "b.jsonl").write_text("")
    with pytest.raises(MediaError, match="several manifests"):
        find_manifest(tmp_path)


def test_world_manifest_is_written_once_per_size_and_seed(tmp_path):
    first = world_manifest(tmp_path, samples=20, seed=3)
    stamp = first.stat().st_mtime_ns
    assert world_manifest(tmp_path, samples=20, seed=3) == first and first.stat().st_mtime_ns == stamp
    assert world_manifest(tmp_path, samples=20, seed=4) != first
    with pytest.raises(MediaError, match="between 20 and 20,000"):
        world_manifest(tmp_path, samples=5)
