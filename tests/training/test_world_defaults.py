"""The Lab's training defaults train every fused strategy but late fusion on the bundled world.

The world's labels need two or three modalities at once (``mmdemo/world/tasks.py``), so a single
modality, and late fusion of per-modality predictions, score chance on every task. Measured with
the Lab's defaults on its default world size (``LAB_WORLD_SAMPLES``, 4,500 samples), 3 seeds,
bundled-model features, one four-task head per strategy (test accuracy, mean over seeds; README,
"Fusion Lab"; ``python -m tests.training.test_world_defaults FOLDER`` prints the table, 1,269 s on
this 2-core machine shared with a pretraining run):

task (at-chance line)  concat  gmu    lmf    tfn    film   attention  late / late_w  baselines
claim (0.523)          0.740   0.741  0.731  0.695  0.647  0.674      0.50 / 0.50    0.48-0.51
sound_match (0.538)    0.942   0.916  0.798  0.832  0.620  0.762      0.49 / 0.48    0.48-0.50
verdict (0.285)        0.708   0.676  0.575  0.569  0.409  0.523      0.26 / 0.26    0.24
exactly_one (0.538)    0.723   0.688  0.618  0.625  0.553  0.595      0.51 / 0.53    0.49-0.52

film and attention are the unsteady ones: one seed of three stays near chance on sound_match
(intervals [0.11, 1.13] and [0.33, 1.20]), the mean still leaves it. How this was reached (issue 18):

- ``claim`` was at chance for most strategies (0.53-0.61) while the heads fit the training claims
  (0.85-0.99): the bundled CLIP had been trained on captions only and ranked a true claim above a
  false one at AUC 0.61. The CLIP now also learns the world's claims (``--clip-claims 1.0``, a
  sigmoid loss of every claim against every image of a batch, ``mmdemo/pretrain/train_clip.py``):
  AUC 0.84, and every non-late strategy leaves chance on claim (weight 3.0 scored 0.82).
- ``exactly_one`` needs both relations and a non-linearity after them: a head that composed its own
  claim (accuracy c) and sound_match (s) answers with independent errors would score at most
  1/2 + 2 (c - 1/2)(s - 1/2). Linear task heads stay at chance (0.50-0.52); one hidden layer in
  each task head (``FusionConfig.head_layers=1``, the Lab's default) lifts concat and gmu to the
  bound. At 1,500 samples lmf (c 0.62, s 0.73: bound 0.55), tfn (0.65, 0.73: 0.57) and attention
  (0.60, 0.67: 0.53) ended at chance on it (0.545, 0.524, 0.519; line 0.550), and at 3,000 still
  (0.548, 0.542, 0.557; line 0.552); what no setting at 1,500 changed (0.49-0.55 each: feature
  standardisation, dropout 0, feature noise 0.3, weight decay 1e-2, lmf hidden 16, tfn_dim 4 or
  16, rank 16, two head layers, per-strategy learning rates). At 4,500 their relations are strong
  enough (the table), so that is the Lab's default world size.
- attention (a transformer over three tokens) stayed at chance everywhere at lr 3e-3 and 1e-3 on
  these features and learns at 3e-4 (its ``strategy_lr``).

Before these defaults (lr 1e-3, early stopping on the validation loss), gmu, late_weighted, film and
attention kept their epoch-1 weights at chance on ``verdict``.
"""

from __future__ import annotations

import pytest

from mmdemo.evaluation.seeds import SeedStudy
from mmdemo.lab import LAB_TRAIN_DEFAULTS, LAB_WORLD_SAMPLES, TrainingConfig, run_training, world_manifest
from mmdemo.training.features import extract_features
from mmdemo.training.manifest import read_manifest

MODELS = {"text": "bundled-clip", "image": "bundled-clip", "audio": "bundled-audio"}
NOT_LATE = ["concat", "gmu", "tfn", "lmf", "attention", "film"]
TASKS = ["claim", "sound_match", "verdict", "exactly_one"]
CANNOT_LEAVE_CHANCE = ["late", "late_weighted", "only_text", "only_image", "only_audio"]


def world_features(folder, samples: int, labels: list[str] | None):
    manifest = read_manifest(world_manifest(folder, samples, seed=0), label_columns=labels)
    return extract_features(manifest, models=MODELS)


def lab_default_study(folder) -> SeedStudy:
    """The Lab's default run on the bundled world (its default size, every task, 3 seeds), every
    strategy and the baselines; ``python -m tests.training.test_world_defaults`` prints it."""
    features = world_features(folder / "worlds", LAB_WORLD_SAMPLES, None)  # every task, the manifest's order
    assert list(features.targets) == TASKS
    settings = TrainingConfig(train=LAB_TRAIN_DEFAULTS, seeds=3, robustness=False)
    return run_training(features, settings, out_dir=folder / "run").study


def check_lab_default_study(study: SeedStudy) -> None:
    for task in TASKS:
        for name in NOT_LATE:
            assert not study.at_chance(name, task), (task, name, study.summary(name, task), study.chance(task))
        chance, two_sigma = study.chance(task)
        three_sigma = chance + 1.5 * (two_sigma - chance)  # 20 checks at chance: a looser bound
        for name in CANNOT_LEAVE_CHANCE:
            assert study.summary(name, task).mean < three_sigma, (task, name, study.summary(name, task), chance)
    best_epochs = {(s.strategy, s.seed): s.best_epoch for s in study.scores}
    assert all(epoch > 1 for (name, _), epoch in best_epochs.items() if name in NOT_LATE), best_epochs
    # what ends at chance is said plainly: late fusion everywhere (expected), nothing else
    warned = {(line.split(" ends at chance on ")[0], line.split(" ends at chance on ")[1].split(" ")[0]): line
              for line in study.chance_warnings()}
    for task in TASKS:
        for name in ("late", "late_weighted"):
            assert "expected if the label needs two modalities at once" in warned[(name, task)]
    assert {name for name, _ in warned} <= {"late", "late_weighted"}, sorted(warned)


@pytest.mark.slow
def test_every_fused_strategy_but_late_fusion_leaves_chance_on_each_world_task(tmp_path) -> None:
    check_lab_default_study(lab_default_study(tmp_path))


@pytest.mark.slow  # ~40 s; the Lab's defaults learning is also the slow study's above
def test_the_strategies_that_used_to_stop_at_epoch_one_now_learn(tmp_path) -> None:
    """Fast version: 800 samples, one seed, the learnable ``sound_match``, the strategies that
    kept their epoch-1 weights under the old defaults (and concat for reference), and late fusion,
    which cannot leave chance and is reported so.

    film no longer keeps its epoch-1 weights, but at 800 samples and one seed whether it leaves
    chance depends on the seed (sound_match 0.51-0.68 over seeds 0-2 on the CLIP that knows claims,
    line 0.62), so that it does is asserted by the 1,500-sample, 3-seed test above (0.661)."""
    features = world_features(tmp_path / "worlds", 800, ["sound_match"])
    settings = TrainingConfig(strategies="concat,gmu,film,late", train=LAB_TRAIN_DEFAULTS, baselines=True, robustness=False)
    run = run_training(features, settings, out_dir=tmp_path / "run")
    study = run.study
    for name in ("concat", "gmu"):
        assert not study.at_chance(name, "sound_match"), (name, study.summary(name, "sound_match"))
    for name in ("concat", "gmu", "film"):
        assert all(s.best_epoch > 1 for s in study.scores if s.strategy == name), name
    for name in ("late", "only_audio", "only_image"):
        assert study.at_chance(name, "sound_match"), (name, study.summary(name, "sound_match"))
    warnings = study.chance_warnings()  # late fusion (and film, where this seed leaves it at chance)
    [late] = [line for line in warnings if line.startswith("late ")]
    assert late.startswith("late ends at chance on sound_match") and "cannot represent their interaction" in late
    assert all(line.startswith(("late ", "film ")) for line in warnings), warnings


if __name__ == "__main__":  # the figures of the docstring's table: python -m tests.training.test_world_defaults FOLDER
    import sys
    import time
    from pathlib import Path

    started = time.perf_counter()
    result = lab_default_study(Path(sys.argv[1]))
    print(f"{time.perf_counter() - started:.0f} s")
    for task in TASKS:
        chance, line = result.chance(task)
        print(f"{task} (chance {chance:.3f}; line {line:.3f})")
        for row in result.ranking(task):
            summary = row.summaries["accuracy"]
            print(f"  {row.strategy:14s} {summary.mean:.3f} [{summary.low:.3f}, {summary.high:.3f}]"
                  f"{' at chance' if row.at_chance else ''}")
    check_lab_default_study(result)
    print("checks pass")
