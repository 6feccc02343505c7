"""Task heads over the fused vector: linear by default, ``head_layers`` hidden layers on request,
always linear for late fusion (whose meaning rests on it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mmdemo.fusion import ConfigError, FusionClassifier, FusionConfig, build_fusion, list_fusions
from mmdemo.training import FusionHead, TrainConfig, make_synthetic, train_head

DIMS = {"text": 5, "image": 7, "audio": 3}
LATE = ("late", "late_weighted")


def classifier(name: str, head_layers: int) -> FusionClassifier:
    torch.manual_seed(0)
    config = FusionConfig(modalities=dict(DIMS), out_dim=6, hidden_dim=8, tfn_dim=3, rank=2, head_layers=head_layers)
    return FusionClassifier(build_fusion(name, config), {"claim": 2, "verdict": 4}, name).eval()


@pytest.mark.parametrize("name", list_fusions())
def test_head_layers_add_hidden_layers_except_for_late_fusion(name: str) -> None:
    assert isinstance(classifier(name, 0).heads["verdict"], nn.Linear)
    deep = classifier(name, 1).heads["verdict"]
    if name in LATE:
        assert isinstance(deep, nn.Linear)
    else:
        assert [type(layer) for layer in deep] == [nn.Linear, nn.ReLU, nn.Linear]
        assert deep[0].in_features == deep[0].out_features == 6 and deep[-1].out_features == 4


def test_late_fusion_logits_stay_the_mean_of_per_modality_logits_with_head_layers() -> None:
    model = classifier("late", 2)
    inputs = {name: torch.randn(3, dim) for name, dim in DIMS.items()}
    per_modality = [model.heads["claim"](model.fusion.branches[name](inputs[name])) for name in DIMS]
    torch.testing.assert_close(model(inputs).logits["claim"], sum(per_modality) / 3)


def test_negative_head_layers_are_refused() -> None:
    with pytest.raises(ConfigError, match="head_layers must be an integer >= 0, got -1"):
        FusionConfig(modalities=dict(DIMS), head_layers=-1).validate()


def test_a_head_with_hidden_task_layers_saves_and_loads(tmp_path: Path) -> None:
    features = make_synthetic("xor", 120, dims={"image": 4, "text": 3}, seed=0)
    config = TrainConfig(epochs=2, patience=0, fusion=FusionConfig(out_dim=8, hidden_dim=8, head_layers=1))
    head = FusionHead.from_result(train_head(features, "gmu", config))
    loaded = FusionHead.load(head.save(tmp_path / "gmu"))
    assert loaded.fusion_config.head_layers == 1
    embeddings, masks, _ = features.batch(torch.arange(10))
    assert torch.equal(head.predict_embeddings(embeddings, masks)["label"], loaded.predict_embeddings(embeddings, masks)["label"])
