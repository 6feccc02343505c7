import csv
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import soundfile
from PIL import Image

from mmdemo.errors import MediaError
from mmdemo.lab import LAB_TRAIN_DEFAULTS, find_manifest, prepare_data, run_lab, world_manifest
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
    assert {"heads/gmu/head.json", "report.md", "summary.json", "fused_map.png"} <= set(names)
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
    seen = []  # the generation reports its progress (the first Fusion Lab run is not stuck at 0 %)
    world_manifest(tmp_path, samples=20, seed=5, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 20) for k in range(1, 21)]
    world_manifest(tmp_path, samples=20, seed=5, progress=seen.append)  # reused: nothing to report
    assert len(seen) == 20
    with pytest.raises(MediaError, match="between 20 and 20,000"):
        world_manifest(tmp_path, samples=5)


def _layout(folder):
    """The files of a run folder (the download zip left out), relative to it."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.suffix != ".zip")


def test_cli_and_run_lab_write_the_same_layout(tiny_models, tmp_path):
    from mmdemo.cli import train as train_cli

    data = tmp_path / "data"
    data.mkdir()
    manifest = _write_dataset(data, n=24)
    # the CLI's defaults are the Lab's (LAB_TRAIN_DEFAULTS)
    lab = run_lab(manifest, "concat,lmf", replace(LAB_TRAIN_DEFAULTS, epochs=2, seed=3), out_dir=tmp_path / "lab",
                  models={"text": tiny_models.clip, "image": tiny_models.clip, "audio": tiny_models.audio})
    code = train_cli.main([
        "--data", str(manifest), "--fusion", "concat,lmf", "--epochs", "2", "--seed", "3", "--quiet",
        "--text-model", tiny_models.clip, "--image-model", tiny_models.clip, "--audio-model", tiny_models.audio,
        "--out", str(tmp_path / "cli"),
    ])
    assert code == 0
    layout = _layout(tmp_path / "lab")
    assert layout == _layout(tmp_path / "cli")
    assert {"report.md", "summary.json", "fused_map.png", "heads/concat/head.json", "heads/lmf/head.json"} <= set(layout)
    assert lab.archive is not None and not (tmp_path / "cli" / "fusion-lab-run.zip").exists()
    assert set(zipfile.ZipFile(lab.archive).namelist()) == set(layout)
    for folder in (tmp_path / "lab", tmp_path / "cli"):
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["split"] == lab.split and sum(lab.split.values()) == 24
        for strategy in ("concat", "lmf"):
            head = FusionHead.load(folder / "heads" / strategy)
            assert head.metrics["colour"]["n"] == lab.split["test"]  # the test metrics, in head.json
    # same settings, same seed: the same scores
    cli_rows = json.loads((tmp_path / "cli" / "summary.json").read_text())["rows"]
    assert [round(r["accuracy"], 6) for r in cli_rows] == [round(r.accuracy, 6) for r in lab.comparison.rows()]


def test_run_training_on_features_and_bad_settings(tmp_path):
    from mmdemo.errors import ConfigError
    from mmdemo.lab import TrainingConfig, run_training
    from mmdemo.training.synthetic import make_synthetic

    features = make_synthetic("xor", 120, seed=0)
    with pytest.raises(ConfigError, match="unknown subset 'dev'"):
        run_training(features, TrainingConfig(subset="dev"), out_dir=tmp_path / "bad")
    with pytest.raises(ConfigError, match="few_shot must be a positive"):
        run_training(features, TrainingConfig(few_shot=0), out_dir=tmp_path / "bad")
    events = []
    run = run_training(features, TrainingConfig(strategies="concat", train=TrainConfig(epochs=2), archive=True),
                       out_dir=tmp_path / "run", progress=events.append)
    assert run.manifest is None and run.archive == tmp_path / "run" / "fusion-lab-run.zip"
    assert FusionHead.load(run.heads["concat"]).metrics["label"]["n"] == run.split["test"]
    assert events[-1].finished and events[-1].fraction == 1.0
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)
