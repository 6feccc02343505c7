"""The training program on precomputed synthetic features."""

from __future__ import annotations

import math

import pytest
import torch

from mmdemo.fusion import ConfigError, FusionConfig
from mmdemo.training import DataSplit, FeatureSet, TrainConfig, TrainProgress, make_synthetic, split_features, train_head, train_heads
from mmdemo.training.augment import add_feature_noise, drop_modalities
from mmdemo.training.optim import lr_factor
from mmdemo.training.trainer import task_loss

SMALL = FusionConfig(out_dim=8, hidden_dim=8, tfn_dim=3, rank=2)


def small_config(**overrides) -> TrainConfig:
    values = dict(epochs=4, batch_size=16, lr=0.01, patience=0, fusion=SMALL)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def additive() -> FeatureSet:
    return make_synthetic("additive", 240, dims={"image": 4, "text": 4}, seed=0)


def state(result) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in result.model.state_dict().items()}


@pytest.mark.parametrize("strategy", ["concat", "attention"])
def test_training_is_reproducible_from_a_seed(additive: FeatureSet, strategy: str) -> None:
    config = small_config(feature_noise=0.2, modality_dropout=0.3, fusion=FusionConfig(out_dim=8, hidden_dim=8, dropout=0.2))
    first = train_head(additive, strategy, config)
    torch.manual_seed(123)  # the caller's random state must not matter
    second = train_head(additive, strategy, config)
    for name, value in state(first).items():
        assert torch.equal(value, state(second)[name]), name
    assert [r.train_loss for r in first.history] == [r.train_loss for r in second.history]
    other = train_head(additive, strategy, small_config(seed=1, feature_noise=0.2, modality_dropout=0.3))
    assert not all(torch.equal(v, state(other)[k]) for k, v in state(first).items())


def test_training_leaves_the_global_random_state_alone(additive: FeatureSet) -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train_head(additive, "concat", small_config(epochs=1))
    torch.testing.assert_close(torch.rand(3), expected)


def test_history_progress_and_shared_split(additive: FeatureSet) -> None:
    events: list[TrainProgress] = []
    results = train_heads(additive, "concat,gmu", small_config(epochs=3), progress=events.append)
    assert [r.strategy for r in results] == ["concat", "gmu"]
    assert len(events) == 6
    fractions = [event.fraction for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert events[0].describe().startswith("concat epoch 1/3")
    for result in results:
        assert [r.epoch for r in result.history] == [1, 2, 3]
        assert all(r.val_loss is not None and 0 <= r.val_accuracy <= 1 for r in result.history)
        assert result.history[-1].train_loss < result.history[0].train_loss
        assert not result.model.training
        assert result.config.fusion.modalities == {"image": 4, "text": 4}
    assert torch.equal(results[0].split.test, results[1].split.test)
    sizes = results[0].split.sizes()
    assert sizes == {"train": 168, "val": 36, "test": 36}


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine"])
def test_every_optimizer_and_schedule_trains(additive: FeatureSet, optimizer: str, schedule: str) -> None:
    lr = 0.1 if optimizer == "sgd" else 0.01
    result = train_head(additive, "concat", small_config(optimizer=optimizer, schedule=schedule, lr=lr, epochs=3, step_size=1))
    assert all(math.isfinite(r.train_loss) for r in result.history)
    assert result.history[-1].train_loss < result.history[0].train_loss
    if schedule == "step":
        assert [r.lr for r in result.history] == pytest.approx([lr * 0.5, lr * 0.25, lr * 0.125])
    if schedule == "cosine":
        assert result.history[-1].lr == pytest.approx(0.0, abs=1e-12)


def test_lr_factor_schedules() -> None:
    step = TrainConfig(schedule="step", step_size=2, step_gamma=0.1, epochs=6)
    assert [lr_factor(s, steps_per_epoch=10, total_steps=60, config=step) for s in (0, 19, 20, 45)] == pytest.approx([1, 1, 0.1, 0.01])
    cosine = TrainConfig(schedule="cosine", warmup_epochs=1, epochs=3, min_lr_ratio=0.1)
    factors = [lr_factor(s, steps_per_epoch=4, total_steps=12, config=cosine) for s in range(12)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0) and factors[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors[4:], factors[5:]))


def test_early_stopping_restores_the_best_epoch() -> None:
    noise = make_synthetic("xor", 200, dims={"image": 8, "text": 8}, seed=4)
    noise.targets["label"] = torch.randint(0, 2, (200,), generator=torch.Generator().manual_seed(0))  # no signal
    result = train_head(noise, "concat", small_config(epochs=60, lr=0.05, patience=3))
    assert result.stopped_early and len(result.history) < 60
    assert len(result.history) - result.best_epoch == 3
    best = result.history[result.best_epoch - 1].val_loss
    assert best == min(r.val_loss for r in result.history)
    embeddings, masks, targets = noise.batch(result.split.val)
    with torch.no_grad():
        loss = float(task_loss(result.model(embeddings, masks).logits, targets))
    assert loss == pytest.approx(best, rel=1e-5)


def test_multi_task_heads_learn_both_label_columns() -> None:
    base = make_synthetic("additive", 300, dims={"image": 4, "text": 4}, seed=2)
    image_only = (base.embeddings["image"][:, 0] > 0).long()
    features = FeatureSet.from_tensors(
        base.embeddings, {"sum": base.targets["label"], "image_sign": image_only}, masks=base.masks
    )
    result = train_head(features, "concat", small_config(epochs=12))
    assert set(result.model.heads) == {"sum", "image_sign"}
    assert result.history[-1].val_accuracy > 0.8


def test_unlabelled_targets_are_ignored_in_the_loss() -> None:
    logits = {"a": torch.tensor([[2.0, 0.0], [0.0, 2.0]]), "b": torch.tensor([[0.0, 0.0], [5.0, 0.0]])}
    targets = {"a": torch.tensor([0, -1]), "b": torch.tensor([-1, -1])}
    expected = torch.nn.functional.cross_entropy(logits["a"][:1], targets["a"][:1])
    torch.testing.assert_close(task_loss(logits, targets), expected)


def test_l1_makes_weights_smaller(additive: FeatureSet) -> None:
    def weight_mass(l1: float) -> float:
        model = train_head(additive, "concat", small_config(epochs=5, l1=l1, weight_decay=0.0)).model
        return sum(float(p.detach().abs().sum()) for p in model.parameters() if p.dim() >= 2)

    assert weight_mass(0.01) < 0.7 * weight_mass(0.0)


def test_modality_dropout_never_drops_everything() -> None:
    torch.manual_seed(0)
    masks = {"a": torch.ones(2000, dtype=torch.bool), "b": torch.tensor([True, False] * 1000)}
    dropped = drop_modalities(masks, 0.5)
    present = torch.stack([dropped["a"], dropped["b"]], dim=1)
    assert present.any(dim=1).all()
    assert not (dropped["b"] & ~masks["b"]).any()  # absent modalities never come back
    rate = 1 - dropped["a"][1::2].float().mean().item()  # rows where "a" is the only modality
    assert rate == 0.0
    rate_both = 1 - dropped["a"][0::2].float().mean().item()
    assert 0.2 < rate_both < 0.45  # 0.5 drop, minus the rescued rows where both were dropped
    assert drop_modalities(masks, 0.0) is masks


def test_feature_noise_is_relative_to_the_rms() -> None:
    torch.manual_seed(0)
    values = {"a": torch.full((500, 100), 3.0)}
    noisy = add_feature_noise(values, 0.1)
    assert (noisy["a"] - 3.0).std().item() == pytest.approx(0.3, rel=0.05)
    assert add_feature_noise(values, 0.0) is values


def test_manifest_split_column_is_respected() -> None:
    features = make_synthetic("additive", 6, seed=0)
    features.splits = ["train", "test", None, "val", "train", "test"]
    split = split_features(features)
    assert split.train.tolist() == [0, 2, 4] and split.val.tolist() == [3] and split.test.tolist() == [1, 5]


def test_stratified_split_keeps_class_shares() -> None:
    features = make_synthetic("additive", 400, seed=0)
    split = split_features(features, val_fraction=0.2, test_fraction=0.2, seed=3)
    labels = features.targets["label"]
    everything = torch.cat([split.train, split.val, split.test]).sort().values
    assert torch.equal(everything, torch.arange(400))
    for part in (split.val, split.test):
        assert abs(labels[part].float().mean() - labels.float().mean()) < 0.03
    tiny = make_synthetic("additive", 3, seed=0)
    assert len(split_features(tiny, val_fraction=0.4, test_fraction=0.4).train) >= 1


def test_training_without_validation_keeps_the_last_epoch(additive: FeatureSet) -> None:
    split = DataSplit(train=torch.arange(200), val=torch.tensor([], dtype=torch.long), test=torch.arange(200, 240))
    result = train_head(additive, "gmu", small_config(epochs=3, patience=1), split=split)
    assert result.best_epoch == 3 and result.history[-1].val_loss is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optimizer": "lbfgs"}, "valid: adam, adamw, sgd, rmsprop"),
        ({"schedule": "linear"}, "valid: none, step, cosine"),
        ({"monitor": "f1"}, "valid: val_loss, val_accuracy"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"modality_dropout": 1.0}, "below 1"),
        ({"lr": -1.0}, "lr must be a positive number"),
        ({"threads": 0}, "threads must be"),
    ],
)
def test_bad_settings_raise_config_error(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**overrides).validate()


def test_bad_split_fractions_raise(additive: FeatureSet) -> None:
    with pytest.raises(ConfigError, match="sum to less than 1"):
        split_features(additive, val_fraction=0.6, test_fraction=0.5)


def test_train_config_round_trips(additive: FeatureSet) -> None:
    config = small_config(optimizer="sgd", schedule="cosine")
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"epochs": 3, "colour": "red"})


def test_training_runs_with_the_configured_threads_and_restores_them(additive: FeatureSet) -> None:
    before = torch.get_num_threads()
    seen: list[int] = []
    train_head(additive, "concat", small_config(epochs=1, threads=1), progress=lambda _: seen.append(torch.get_num_threads()))
    assert seen == [1]
    assert torch.get_num_threads() == before


def test_unlabelled_validation_part_counts_as_no_validation() -> None:
    features = make_synthetic("additive", 100, dims={"image": 3, "text": 3}, seed=0)
    features.targets["label"][80:] = -1
    split = DataSplit(train=torch.arange(80), val=torch.arange(80, 100), test=torch.tensor([], dtype=torch.long))
    result = train_head(features, "concat", small_config(epochs=3, patience=1), split=split)
    assert result.best_epoch == 3 and not result.stopped_early
