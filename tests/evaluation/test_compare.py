"""Comparison of strategies: table, ablation, 2-D map, figures and the markdown report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

from mmdemo.errors import IncompatibleError
from mmdemo.evaluation import compare_heads, compare_results, modality_ablation, pca_2d, write_report
from mmdemo.fusion import FusionConfig
from mmdemo.training import DataSplit, FeatureSet, FusionHead, TrainConfig, train_heads
from mmdemo.training.manifest import BadRow

CONFIG = TrainConfig(epochs=12, lr=0.02, batch_size=32, patience=0, fusion=FusionConfig(out_dim=8, hidden_dim=8, dropout=0.0))


def image_only_task(n: int = 300, seed: int = 0) -> FeatureSet:
    """The label is the sign of the first image feature; text is noise. Second task: text sign."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.randn(n, 4, generator=generator)
    text = torch.randn(n, 4, generator=generator)
    features = FeatureSet.from_tensors(
        {"image": image, "text": text},
        {"label": (image[:, 0] > 0).long(), "other": (text[:, 1] > 0).long()},
        label_names={"label": ["neg", "pos"], "other": ["no", "yes"]},
    )
    features.bad_rows = [BadRow(7, "image file not found: x.png")]
    features.source = "unit-test"
    return features


@pytest.fixture(scope="module")
def trained():
    features = image_only_task()
    return features, train_heads(features, "concat,gmu,attention", CONFIG)


def test_table_rows_and_best(trained) -> None:
    features, results = trained
    comparison = compare_results(results, features)
    assert comparison.subset == "test" and comparison.n_samples == len(results[0].split.test)
    rows = comparison.rows()
    assert [(row.strategy, row.task) for row in rows] == [
        (s, t) for t in ("label", "other") for s in ("concat", "gmu", "attention")
    ]
    assert all(row.accuracy > 0.85 for row in rows)
    assert comparison.best("label") in {"concat", "gmu", "attention"}
    assert rows[0].n_parameters == results[0].n_parameters
    assert rows[0].train_seconds == results[0].seconds


def test_ablation_shows_which_modality_carries_the_label(trained) -> None:
    features, results = trained
    ablation = modality_ablation(results[0].model, features, results[0].split.test)
    rows = {(row.condition, row.task): row for row in ablation.rows}
    assert set(c for c, _ in rows) == {"all modalities", "without image", "without text"}
    assert rows[("without image", "label")].accuracy < 0.7
    assert rows[("without image", "label")].delta_accuracy < -0.2
    assert rows[("without text", "label")].delta_accuracy > -0.1
    assert rows[("without text", "other")].accuracy < 0.7
    assert rows[("all modalities", "label")].delta_accuracy == 0.0


def test_mean_contributions_point_at_the_informative_modality(trained) -> None:
    features, results = trained
    comparison = compare_results(results, features)
    for report in comparison.strategies:
        assert set(report.contributions) == {"image", "text"}
    gmu = comparison.strategies[1]
    assert gmu.contribution_kind == "gate"
    assert sum(gmu.contributions.values()) == pytest.approx(1.0)


def test_pca_map_of_points_on_a_line() -> None:
    direction = torch.tensor([1.0, 2.0, -1.0])
    vectors = torch.linspace(-1, 1, 20)[:, None] * direction + 0.001 * torch.randn(20, 3)
    projection = pca_2d(vectors)
    assert projection.points.shape == (20, 2)
    assert projection.explained[0] > 0.99 and projection.method == "PCA"
    assert pca_2d(torch.randn(1, 3)).points.shape == (1, 2)


def test_figures_and_report(trained, tmp_path: Path) -> None:
    features, results = trained
    comparison = compare_results(results, features)
    figures = comparison.figures("other")
    assert all(isinstance(figure, Figure) for figure in figures.as_dict().values())
    assert figures.task == "other"
    files = write_report(comparison, tmp_path / "report")
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "| strategy | accuracy | macro-F1 | AUROC |" in markdown
    assert "## Scores: label" in markdown and "## Scores: other" in markdown
    assert "without image" in markdown and "PCA" in markdown
    assert "line 7: image file not found: x.png" in markdown
    for name, path in files.figures.items():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"]({path.name})" in markdown
    names = sorted(path.name for path in files.figures.values())
    assert "learning_curves.png" in names and "confusion_matrices_other.png" in names and "fused_map_label.png" in names


def test_compare_heads_matches_compare_results(trained, tmp_path: Path) -> None:
    features, results = trained
    heads = [FusionHead.load(FusionHead.from_result(r).save(tmp_path / r.strategy)) for r in results]
    from_heads = compare_heads(heads, features, indices=results[0].split.test, subset="test")
    from_results = compare_results(results, features)
    for a, b in zip(from_heads.rows(), from_results.rows()):
        assert (a.strategy, a.task, a.accuracy, a.macro_f1) == (b.strategy, b.task, b.accuracy, b.macro_f1)
    assert from_heads.strategies[0].history == results[0].history


def test_empty_test_part_falls_back_and_mismatched_splits_are_refused(trained) -> None:
    features, _ = trained
    split = DataSplit(train=torch.arange(250), val=torch.arange(250, 300), test=torch.tensor([], dtype=torch.long))
    results = train_heads(features, "concat", TrainConfig(epochs=1), split=split)
    comparison = compare_results(results, features)
    assert comparison.subset == "val" and comparison.n_samples == 50 and comparison.notes
    other = train_heads(features, "gmu", TrainConfig(epochs=1))
    with pytest.raises(IncompatibleError, match="another split"):
        compare_results(results + other, features)


def test_compare_heads_refuses_other_labels(trained, tmp_path: Path) -> None:
    features, results = trained
    head = FusionHead.from_result(results[0])
    head.label_names = {"label": ["a", "b"], "other": ["no", "yes"]}
    with pytest.raises(IncompatibleError, match="has labels"):
        compare_heads([head], features)
