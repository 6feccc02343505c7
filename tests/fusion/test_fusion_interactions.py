"""Which strategies can learn a cross-modal interaction: XOR-like vs additive synthetic tasks."""

from __future__ import annotations

import pytest
import torch

from mmdemo.evaluation.compare import compare_results
from mmdemo.fusion import FusionConfig
from mmdemo.training import TrainConfig, make_synthetic, train_heads

MULTIPLICATIVE = ["tfn", "lmf", "attention"]


def scores(task: str, n: int, strategies: str, epochs: int) -> dict[str, float]:
    features = make_synthetic(task, n, dims={"image": 4, "text": 4}, seed=1)
    config = TrainConfig(
        epochs=epochs, lr=0.01, batch_size=32, patience=0, seed=1, test_fraction=0.3,
        # concat_hidden_layers=0: concatenation followed by a linear head is a linear model.
        fusion=FusionConfig(out_dim=16, hidden_dim=16, concat_hidden_layers=0, dropout=0.0),
    )
    comparison = compare_results(train_heads(features, strategies, config), features)
    return {row.strategy: row.accuracy for row in comparison.rows()}


def test_multiplicative_strategies_learn_xor_and_linear_concat_cannot() -> None:
    accuracy = scores("xor", 500, "concat," + ",".join(MULTIPLICATIVE), epochs=20)
    assert accuracy["concat"] < 0.65, accuracy
    for name in MULTIPLICATIVE:
        assert accuracy[name] >= 0.8, accuracy
        assert accuracy[name] - accuracy["concat"] >= 0.25, accuracy


def test_every_strategy_learns_the_additive_task() -> None:
    accuracy = scores("additive", 300, "all", epochs=15)
    for name, value in accuracy.items():
        assert value >= 0.8, (name, accuracy)


def test_synthetic_tasks_are_reproducible_and_balanced() -> None:
    first = make_synthetic("xor", 200, seed=3)
    second = make_synthetic("xor", 200, seed=3)
    torch.testing.assert_close(first.embeddings["image"], second.embeddings["image"])
    assert torch.equal(first.targets["label"], second.targets["label"])
    share = first.targets["label"].float().mean().item()
    assert 0.35 < share < 0.65
    norms = first.embeddings["text"].norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(200))


def test_synthetic_missing_modalities_never_leave_a_sample_empty() -> None:
    features = make_synthetic("additive", 300, dims={"image": 3, "text": 3, "audio": 2}, missing=0.6, seed=0)
    present = torch.stack([features.masks[name] for name in features.modalities], dim=1)
    assert present.any(dim=1).all()
    assert (~present).any()
    assert torch.all(features.embeddings["audio"][~features.masks["audio"]] == 0)


def test_synthetic_rejects_unknown_task() -> None:
    from mmdemo.fusion import ConfigError

    with pytest.raises(ConfigError, match="valid: additive, xor"):
        make_synthetic("parity")
