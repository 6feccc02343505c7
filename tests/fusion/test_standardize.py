"""Per-modality standardisation inside a head: fitted on the training part, saved, reapplied."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdemo.fusion.standardize import FeatureStandardizer
from mmdemo.training import FusionHead, TrainConfig, make_synthetic, train_head
from mmdemo.training.trainer import config_split


def test_fit_centres_and_scales_each_dimension_over_present_samples_only() -> None:
    values = torch.tensor([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [100.0, -100.0]])
    present = torch.tensor([True, True, True, False])  # the last row is absent: ignored
    scaler = FeatureStandardizer({"image": 2}).fit({"image": values}, {"image": present})
    out = scaler({"image": values[:3], "text": torch.ones(3, 4)})
    assert torch.allclose(out["image"][:, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(out["image"][:, 1], torch.zeros(3))  # constant dimension: centred, not blown up
    assert torch.equal(out["text"], torch.ones(3, 4))  # a modality it was not built for passes through


def test_unfitted_standardizer_is_the_identity() -> None:
    values = torch.randn(5, 3)
    assert torch.equal(FeatureStandardizer({"audio": 3})({"audio": values})["audio"], values)


def test_a_standardized_head_keeps_its_training_statistics_through_save_and_load(tmp_path: Path) -> None:
    features = make_synthetic("additive", 120, dims={"image": 4, "text": 3}, seed=0)
    features.embeddings["image"] = features.embeddings["image"] * 0.05 + 2.0  # small, off-centre, like CLIP's
    config = TrainConfig(epochs=2, patience=0, standardize=True)
    result = train_head(features, "gmu", config)
    train = config_split(features, config).train
    scaled = result.model.standardize(features.batch(train)[0])["image"]
    assert torch.allclose(scaled.mean(dim=0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(scaled.std(dim=0), torch.ones(4), atol=1e-5)
    loaded = FusionHead.load(FusionHead.from_result(result).save(tmp_path / "head"))
    assert loaded.model.standardize is not None and loaded.train_config.standardize
    embeddings, masks, _ = features.batch(torch.arange(12))
    assert torch.equal(result.model.probabilities(embeddings, masks)["label"],
                       loaded.predict_embeddings(embeddings, masks)["label"])


def test_heads_without_standardisation_have_no_statistics(tmp_path: Path) -> None:
    features = make_synthetic("additive", 60, dims={"image": 4, "text": 3}, seed=0)
    result = train_head(features, "concat", TrainConfig(epochs=1))
    assert result.model.standardize is None
    assert FusionHead.load(FusionHead.from_result(result).save(tmp_path / "head")).model.standardize is None
