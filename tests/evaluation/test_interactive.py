"""The interactive figures' data: per task, built from the comparison and the multi-seed study."""

from __future__ import annotations

import pytest

from mmdemo.errors import ConfigError
from mmdemo.evaluation.interactive import CURVES, task_figures
from mmdemo.fusion import FusionConfig
from mmdemo.lab import TrainingConfig, run_training
from mmdemo.training import TrainConfig
from tests.evaluation.test_compare import image_only_task


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    train = TrainConfig(epochs=6, lr=0.03, batch_size=32, patience=0, fusion=FusionConfig(out_dim=8, hidden_dim=8, dropout=0.0))
    config = TrainingConfig(strategies="concat,gmu", train=train, seeds=2, source_name="my data.zip")
    return run_training(image_only_task(160), config, out_dir=tmp_path_factory.mktemp("run"))


def test_each_task_has_its_own_figures(run) -> None:
    label, other = (task_figures(run.comparison, run.study, task) for task in ("label", "other"))
    assert set(label.curves) == set(CURVES.values()) and set(label.curves["training loss"]["strategy"]) == {"concat", "gmu"}
    # metric bars: fusion and baselines, best first, with the study's interval of that task
    assert list(label.metrics["accuracy"]) == sorted(label.metrics["accuracy"], reverse=True)
    assert set(label.metrics["kind"]) == {"fusion", "baseline"} and set(label.metrics["seeds"]) == {2}
    best = label.metrics.iloc[0]
    summary = run.study.summary(best["strategy"], "label")
    assert best["95% low"] == pytest.approx(summary.low, abs=1e-4) and best["95% high"] == pytest.approx(summary.high, abs=1e-4)
    # the label lives in the image, "other" in the text: the baselines swap places between tasks
    top = {f.task: f.metrics[f.metrics["kind"] == "baseline"].iloc[0]["strategy"] for f in (label, other)}
    assert top == {"label": "only_image", "other": "only_text"}
    # confusion cells add up to the scored samples, per strategy, with the task's class names
    n = run.comparison.n_samples
    assert label.confusion.groupby("strategy")["count"].sum().to_dict() == {"concat": n, "gmu": n}
    assert "pos → neg" in set(label.confusion["cell"]) and "yes → no" in set(other.confusion["cell"])
    assert label.confusion_title == "true class → predicted class"
    # the PCA map: every scored sample of each strategy, coloured by that task's classes
    assert len(label.fused_of("gmu")) == n and set(label.fused["label"]) == {"neg", "pos"}
    assert set(other.fused["label"]) == {"no", "yes"}
    without_image = label.ablation[(label.ablation["condition"] == "without image")]["accuracy"]
    assert (without_image < 0.75).all()
    assert label.modalities == ["image", "text"] and label.missing["level"].max() > 0
    text_noise = label.robustness_of("noise", "text")
    assert set(text_noise["modality"]) == {"text"} and set(text_noise["strategy"]) >= {"concat", "gmu", "only_text"}
    with pytest.raises(ConfigError, match="unknown task 'nope'; valid: label, other"):
        task_figures(run.comparison, run.study, "nope")


def test_the_report_names_the_data_as_given(run) -> None:
    assert "- data: `my data.zip`" in run.report.markdown.read_text()
