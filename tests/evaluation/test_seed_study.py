"""The multi-seed protocol on synthetic tasks whose answer is known (see mmdemo/training/synthetic.py)."""

from __future__ import annotations

import json

import pytest

from mmdemo.evaluation.robustness import corrupt
from mmdemo.fusion import FusionConfig
from mmdemo.lab import TrainingConfig, run_training
from mmdemo.training import TrainConfig, make_synthetic

LINEAR = FusionConfig(out_dim=16, hidden_dim=16, concat_hidden_layers=0, dropout=0.0)


def study(task: str, strategies: str, tmp_path, *, n: int = 500, epochs: int = 20, seeds: int = 3, fusion=LINEAR):
    features = make_synthetic(task, n, dims={"image": 4, "text": 4}, seed=1)
    train = TrainConfig(epochs=epochs, lr=0.01, patience=0, seed=1, test_fraction=0.3, fusion=fusion)
    return run_training(features, TrainingConfig(strategies=strategies, train=train, seeds=seeds), out_dir=tmp_path)


def test_on_xor_the_interval_of_linear_concat_excludes_that_of_tfn(tmp_path) -> None:
    run = study("xor", "concat,tfn", tmp_path)
    concat, tfn = run.study.summary("concat", "label"), run.study.summary("tfn", "label")
    assert len(concat.values) == len(tfn.values) == 3
    assert not concat.overlaps(tfn), (concat, tfn)
    assert tfn.low > 0.8 and concat.high < 0.7
    ranking = run.study.ranking("label")
    assert ranking[0].strategy == "tfn" and not next(r for r in ranking if r.strategy == "concat").overlaps_best
    # an XOR needs both modalities: each baseline sits at chance and tfn beats them (paired test)
    assert run.study.at_chance("only_image", "label") and run.study.at_chance("only_text", "label")
    assert "tfn" in run.study.beats_baselines("label")
    summary = json.loads(run.summary.read_text())
    per_seed = summary["study"]["per_seed"]
    assert {(r["seed"], r["strategy"]) for r in per_seed} == {
        (s, n) for s in (1, 2, 3) for n in ("concat", "tfn", "only_image", "only_text")}
    assert summary["seeds"] == [1, 2, 3]
    report = run.report.markdown.read_text()
    assert "95 % t-interval" in report and "paired t-test" in report and "robustness.png" in report


def test_on_the_additive_task_the_intervals_overlap(tmp_path) -> None:
    run = study("additive", "concat,tfn", tmp_path, n=300, epochs=15)
    concat, tfn = run.study.summary("concat", "label"), run.study.summary("tfn", "label")
    assert concat.overlaps(tfn), (concat, tfn)
    assert concat.mean > 0.8 and tfn.mean > 0.8


def test_a_baseline_on_the_informative_modality_matches_fusion_and_ignores_noise(tmp_path) -> None:
    run = study("first_only", "concat,gmu", tmp_path, n=400, epochs=15)
    s = run.study
    informative = s.summary("only_image", "label")
    for name in ("concat", "gmu"):
        assert informative.overlaps(s.summary(name, "label")), (name, informative, s.summary(name, "label"))
    assert informative.mean > 0.85 and s.at_chance("only_text", "label")
    assert s.beats_baselines("label") == []
    assert "no fusion strategy beats the best single-modality baseline (only_image" in s.verdict("label")
    # robustness: a head that ignores a modality has a flat curve for it; the informative one falls
    points = s.aggregated_robustness()
    flat = sorted((p.level, p.accuracy) for p in points
                  if (p.strategy, p.modality, p.corruption) == ("only_image", "text", "noise"))
    assert len(flat) >= 3 and len({acc for _, acc in flat}) == 1
    falling = {p.level: p.accuracy for p in points if (p.strategy, p.modality, p.corruption) == ("concat", "image", "missing")}
    assert falling[1.0] < falling[0.0] - 0.25
    costs = {c.strategy: c for c in s.complexity}
    assert costs["gmu"].n_parameters > costs["only_image"].n_parameters
    assert all(c.inference_ms_per_sample > 0 and c.peak_memory_bytes > 4 * c.n_parameters * 4 for c in costs.values())


def test_with_one_seed_the_verdict_says_where_fusion_stands_untested(tmp_path) -> None:
    """One seed gives no test: the sentence must not claim that no strategy beats the baselines
    when one is far ahead of them (tfn on the XOR task), nor that one does."""
    verdict = study("xor", "concat,tfn", tmp_path, seeds=1).study.verdict("label")
    assert "no fusion strategy beats" not in verdict
    assert "the best fusion strategy (tfn" in verdict and "is ahead of the best single-modality baseline" in verdict
    assert "one seed: untested" in verdict
    verdict = study("first_only", "concat", tmp_path / "noise", n=400, epochs=15, seeds=1).study.verdict("label")
    assert "(concat" in verdict and "untested" in verdict


def test_corruption_noise_is_relative_to_the_feature_std() -> None:
    features = make_synthetic("additive", 400, dims={"image": 8, "text": 8}, seed=0)
    noisy = corrupt(features, "image", "noise", 1.0, seed=0)
    added = (noisy.embeddings["image"] - features.embeddings["image"]).std()
    assert float(added) == pytest.approx(float(features.embeddings["image"].std()), rel=0.1)
    assert noisy.embeddings["text"] is features.embeddings["text"]
    dropped = corrupt(features, "text", "missing", 0.5, seed=0)
    assert 0.4 < 1 - dropped.masks["text"].float().mean() < 0.6
