"""Every fusion strategy follows one contract: dict of embeddings (+ optional mask) in, [B, out_dim] out."""

from __future__ import annotations

import pytest
import torch

from mmdemo.errors import IncompatibleError
from mmdemo.fusion import (
    ConfigError,
    FusionClassifier,
    FusionConfig,
    UnknownStrategyError,
    build_fusion,
    get_fusion_spec,
    list_fusions,
    parse_strategies,
)

DIMS = {"text": 5, "image": 7, "audio": 3}
STRATEGIES = list_fusions()


def config(**overrides) -> FusionConfig:
    values = dict(modalities=dict(DIMS), out_dim=6, hidden_dim=8, tfn_dim=3, rank=2, num_heads=2, dropout=0.0)
    values.update(overrides)
    return FusionConfig(**values)


def batch(size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(size, dim, generator=generator) for name, dim in DIMS.items()}


def built(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_fusion(name, config()).eval()


def test_registry_lists_every_required_strategy() -> None:
    assert {"concat", "late", "late_weighted", "gmu", "tfn", "lmf", "attention", "film"} <= set(STRATEGIES)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("size", [1, 2])
def test_output_shape_and_finite(name: str, size: int) -> None:
    fused = built(name)(batch(size))
    assert fused.shape == (size, 6)
    assert torch.isfinite(fused).all()


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("size", [1, 2])
def test_missing_key_equals_false_mask_and_ignores_masked_values(name: str, size: int) -> None:
    module = built(name)
    inputs = batch(size)
    without_key = module({k: v for k, v in inputs.items() if k != "image"})
    masked = module(inputs, {"image": torch.zeros(size, dtype=torch.bool)})
    garbage = dict(inputs, image=torch.full((size, DIMS["image"]), 1e3))
    masked_garbage = module(garbage, {"image": torch.zeros(size, dtype=torch.bool)})
    assert without_key.shape == (size, 6)
    torch.testing.assert_close(without_key, masked)
    torch.testing.assert_close(masked, masked_garbage)
    # Removing a modality changes the output (the modality is actually used).
    assert not torch.allclose(module(inputs), masked)


@pytest.mark.parametrize("name", STRATEGIES)
def test_samples_are_independent_of_their_batch(name: str) -> None:
    module = built(name)
    inputs = batch(2)
    mask = {"text": torch.tensor([True, False]), "audio": torch.tensor([False, True])}
    together = module(inputs, mask)
    for row in range(2):
        alone = module({k: v[row : row + 1] for k, v in inputs.items()}, {k: v[row : row + 1] for k, v in mask.items()})
        torch.testing.assert_close(together[row : row + 1], alone)


@pytest.mark.parametrize("name", STRATEGIES)
def test_sample_with_no_modality_has_a_finite_output(name: str) -> None:
    module = built(name)
    fused = module(batch(2), {name_: torch.tensor([False, True]) for name_ in DIMS})
    assert torch.isfinite(fused).all()


@pytest.mark.parametrize("name", STRATEGIES)
def test_gradients_reach_every_modality_projection(name: str) -> None:
    torch.manual_seed(0)
    module = build_fusion(name, config()).train()
    module(batch(2)).pow(2).sum().backward()
    with_grad = [p for p in module.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert with_grad, "no parameter received a gradient"


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("size", [1, 2])
def test_contributions_shape_kind_and_absent_modality_is_zero(name: str, size: int) -> None:
    torch.manual_seed(0)
    classifier = FusionClassifier(build_fusion(name, config()), {"label": 3}, name).eval()
    mask = {"audio": torch.tensor([False] * size)}
    contributions = classifier.contributions(batch(size), mask)
    assert contributions.kind == get_fusion_spec(name).contribution_kind
    assert contributions.modalities == list(DIMS)
    assert contributions.values.shape == (size, 3)
    assert torch.all(contributions.values[:, 2] == 0)
    if contributions.kind in ("gate", "attention"):
        torch.testing.assert_close(contributions.values.sum(dim=1), torch.ones(size))
        assert (contributions.values[:, :2] > 0).all()
    assert set(contributions.as_dicts()[0]) == set(DIMS)


def test_ablation_contribution_is_the_probability_drop() -> None:
    torch.manual_seed(0)
    classifier = FusionClassifier(build_fusion("concat", config()), {"label": 3}, "concat").eval()
    inputs = batch(2)
    contributions = classifier.contributions(inputs)
    probs = classifier.probabilities(inputs)["label"]
    predicted = probs.argmax(dim=1)
    without_text = classifier.probabilities(inputs, {"text": torch.zeros(2, dtype=torch.bool)})["label"]
    expected = probs[torch.arange(2), predicted] - without_text[torch.arange(2), predicted]
    torch.testing.assert_close(contributions.values[:, 0], expected)
    assert contributions.task == "label"


def test_late_fusion_averages_the_present_branches() -> None:
    module = built("late")
    inputs = batch(2)
    branch = {name: module.branches[name](inputs[name]) for name in DIMS}
    torch.testing.assert_close(module(inputs), (branch["text"] + branch["image"] + branch["audio"]) / 3)
    only_text_and_audio = module(inputs, {"image": torch.zeros(2, dtype=torch.bool)})
    torch.testing.assert_close(only_text_and_audio, (branch["text"] + branch["audio"]) / 2)
    assert not module.weight_logits.requires_grad
    assert build_fusion("late_weighted", config()).weight_logits.requires_grad


def test_tfn_with_one_modality_present_keeps_its_unimodal_terms() -> None:
    module = built("tfn")
    inputs = batch(1)
    only_text = module({"text": inputs["text"]})
    other_text = module({"text": inputs["text"] + 1.0})
    assert not torch.allclose(only_text, other_text)


def test_unknown_strategy_lists_valid_names() -> None:
    with pytest.raises(UnknownStrategyError, match="valid: concat, late"):
        build_fusion("sum", config())
    with pytest.raises(UnknownStrategyError, match="'nope'"):
        parse_strategies("concat,nope")
    assert parse_strategies("all") == STRATEGIES
    assert parse_strategies(" gmu , lmf,gmu") == ["gmu", "lmf"]


def test_bad_inputs_are_rejected_with_the_expected_shape() -> None:
    module = built("concat")
    with pytest.raises(IncompatibleError, match=r"expected \(2, 7\)"):
        module(dict(batch(2), image=torch.randn(2, 4)))
    with pytest.raises(IncompatibleError, match="no modality \\['depth'\\]"):
        module(dict(batch(2), depth=torch.randn(2, 2)))
    with pytest.raises(IncompatibleError, match="different batch sizes"):
        module(dict(batch(2), image=torch.randn(3, 7)))
    with pytest.raises(IncompatibleError, match="no embeddings given"):
        module({})
    with pytest.raises(IncompatibleError, match="mask for 'text'"):
        module(batch(2), {"text": torch.ones(3, dtype=torch.bool)})


def test_config_validation_names_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="empty"):
        build_fusion("concat", FusionConfig())
    with pytest.raises(ConfigError, match="num_heads=3 does not divide hidden_dim=8"):
        config(num_heads=3).validate()
    with pytest.raises(ConfigError, match="film_base 'depth'.*valid: text, image, audio"):
        config(film_base="depth").validate()
    with pytest.raises(ConfigError, match="late_weighting.*valid: mean, learned"):
        config(late_weighting="max").validate()
    with pytest.raises(ConfigError, match="tfn_dim <= "):
        build_fusion("tfn", config(tfn_dim=200))
    with pytest.raises(ConfigError, match="unknown FusionConfig fields"):
        FusionConfig.from_dict({"modalities": {}, "width": 3})


def test_config_round_trips_through_a_dict() -> None:
    original = config(film_base="image", concat_hidden_layers=0)
    assert FusionConfig.from_dict(original.to_dict()) == original


def test_film_base_choice_changes_which_modality_is_modulated() -> None:
    torch.manual_seed(0)
    module = build_fusion("film", config(film_base="audio"))
    assert module.base == "audio"
    assert module.conditioners == ["text", "image"]


def test_concat_without_hidden_layers_is_linear() -> None:
    module = build_fusion("concat", config(concat_hidden_layers=0)).eval()
    a, b = batch(1, seed=1), batch(1, seed=2)
    zero = module({k: torch.zeros_like(v) for k, v in a.items()})
    total = module({k: a[k] + b[k] for k in a})
    torch.testing.assert_close(total - zero, (module(a) - zero) + (module(b) - zero))
