"""Saving, loading and using a trained head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmdemo.errors import IncompatibleError, MediaError
from mmdemo.fusion import FusionConfig, list_fusions
from mmdemo.training import FusionHead, TrainConfig, make_synthetic, train_head
from mmdemo.training.head import CONFIG_FILE, WEIGHTS_FILE


@pytest.fixture(scope="module")
def features():
    return make_synthetic("additive", 120, dims={"image": 4, "text": 3, "audio": 2}, missing=0.2, seed=0)


@pytest.mark.parametrize("strategy", list_fusions())
def test_save_load_round_trip_predicts_identically(features, strategy: str, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, batch_size=32, patience=0, fusion=FusionConfig(out_dim=8, hidden_dim=8, tfn_dim=2, rank=2))
    head = FusionHead.from_result(train_head(features, strategy, config), metrics={"label": {"accuracy": 0.5}})
    folder = head.save(tmp_path / strategy)
    assert (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()
    loaded = FusionHead.load(folder)
    embeddings, masks, _ = features.batch(torch.arange(10))
    for task, probs in head.predict_embeddings(embeddings, masks).items():
        assert torch.equal(probs, loaded.predict_embeddings(embeddings, masks)[task])
    assert torch.equal(
        head.model.contributions(embeddings, masks).values, loaded.model.contributions(embeddings, masks).values
    )
    assert loaded.strategy == strategy
    assert loaded.fusion_config == head.fusion_config
    assert loaded.train_config == head.train_config
    assert loaded.history == head.history
    assert loaded.label_names == {"label": ["negative", "positive"]}
    assert loaded.metrics == {"label": {"accuracy": 0.5}}
    assert loaded.best_epoch == head.best_epoch


def test_head_json_records_what_is_needed(features, tmp_path: Path) -> None:
    head = FusionHead.from_result(train_head(features, "late_weighted", TrainConfig(epochs=1)))
    data = json.loads((head.save(tmp_path / "h") / CONFIG_FILE).read_text())
    assert data["format"] == "mmdemo-fusion-head" and data["version"] == 1
    assert data["strategy"] == "late_weighted"
    assert data["fusion"]["late_weighting"] == "learned"
    assert data["fusion"]["modalities"] == {"image": 4, "text": 3, "audio": 2}
    assert data["training"]["epochs"] == 1
    assert data["encoders"] == {}
    assert len(data["history"]) == 1


def test_loading_rejects_missing_or_foreign_folders(features, tmp_path: Path) -> None:
    with pytest.raises(IncompatibleError, match="not a fusion head folder"):
        FusionHead.load(tmp_path)
    folder = FusionHead.from_result(train_head(features, "concat", TrainConfig(epochs=1))).save(tmp_path / "h")
    data = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps(dict(data, version=99)))
    with pytest.raises(IncompatibleError, match="version 99"):
        FusionHead.load(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(dict(data, strategy="gmu")))  # weights of another strategy
    with pytest.raises(IncompatibleError, match="cannot load"):
        FusionHead.load(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(data))
    (folder / WEIGHTS_FILE).write_bytes(b"truncated")
    with pytest.raises(IncompatibleError, match="cannot load"):
        FusionHead.load(folder)


def test_synthetic_heads_cannot_embed_raw_inputs(features) -> None:
    head = FusionHead.from_result(train_head(features, "concat", TrainConfig(epochs=1)))
    with pytest.raises(MediaError, match="Nothing to classify"):
        head.predict()
    with pytest.raises(IncompatibleError, match="precomputed features"):
        head.predict(text="hello")
