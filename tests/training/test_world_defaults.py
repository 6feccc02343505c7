"""The Lab's training defaults train every strategy that can leave chance on the bundled world.

The world's labels need two or three modalities at once (``mmdemo/world/tasks.py``), so a single
modality, and late fusion of per-modality predictions, score chance on every task. Measured with
the Lab's defaults on 1,500 samples, 3 seeds, bundled-model features, one four-task head per
strategy (test accuracy, mean over seeds; README, "Fusion Lab"):

task (at-chance line)  concat  gmu    lmf    tfn    film   attention  late / late_w  baselines
sound_match (0.575)    0.884   0.828  0.733  0.727  0.661  0.671      0.49 / 0.49    0.49-0.51
verdict (0.308)        0.585   0.566  0.464  0.441  0.413  0.403      0.24 / 0.23    0.23-0.24
claim (0.541)          0.647   0.665  0.616  0.646  0.618  0.603      0.51 / 0.50    0.47-0.49
exactly_one (0.550)    0.615   0.604  0.545  0.524  0.554  0.519      0.48 / 0.47    0.49-0.51

So ``sound_match``, ``verdict`` and ``claim``: every non-late strategy; ``exactly_one`` (claim XOR
sound_match): concat and gmu are asserted (film is 0.004 above the line, within noise; lmf, tfn and
attention are at chance and reported so). How this was reached (issue 18):

- ``claim`` was at chance for most strategies (0.53-0.61) while the heads fit the training claims
  (0.85-0.99): the bundled CLIP had been trained on captions only and ranked a true claim above a
  false one at AUC 0.61. The CLIP now also learns the world's claims (``--clip-claims 1.0``, a
  sigmoid loss of every claim against every image of a batch, ``mmdemo/pretrain/train_clip.py``):
  AUC 0.84, and every non-late strategy leaves chance on claim (weight 3.0 scored 0.82).
- ``exactly_one`` needs both relations and a non-linearity after them: a head that composed its own
  claim (accuracy c) and sound_match (s) answers with independent errors would score at most
  1/2 + 2 (c - 1/2)(s - 1/2). Linear task heads stay at chance (0.50-0.52); one hidden layer in
  each task head (``FusionConfig.head_layers=1``, now the Lab's default) lifts concat and gmu to
  the bound (0.62, 0.60). lmf (c 0.62, s 0.73: bound 0.55), tfn (0.65, 0.73: 0.57) and attention
  (0.60, 0.67: 0.53) have bounds at or below the at-chance line at this size: what they lack is
  the two relations, learnt better with more samples.
- attention (a transformer over three tokens) stayed at chance everywhere at lr 3e-3 and 1e-3 on
  these features and learns at 3e-4 (its ``strategy_lr``).

Before these defaults (lr 1e-3, early stopping on the validation loss), gmu, late_weighted, film and
attention kept their epoch-1 weights at chance on ``verdict``.
"""

from __future__ import annotations

import pytest

from mmdemo.lab import LAB_TRAIN_DEFAULTS, TrainingConfig, run_training, world_manifest
from mmdemo.training.features import extract_features
from mmdemo.training.manifest import read_manifest

MODELS = {"text": "bundled-clip", "image": "bundled-clip", "audio": "bundled-audio"}
NOT_LATE = ["concat", "gmu", "tfn", "lmf", "attention", "film"]
LEAVES_CHANCE = {
    "sound_match": NOT_LATE,
    "verdict": NOT_LATE,
    "claim": NOT_LATE,
    "exactly_one": ["concat", "gmu"],
}
AT_CHANCE_ON_EXACTLY_ONE = ["lmf", "tfn", "attention"]  # their two relations are too weak at 1,500 samples
CANNOT_LEAVE_CHANCE = ["late", "late_weighted", "only_text", "only_image", "only_audio"]


def world_features(folder, samples: int, labels: list[str] | None):
    manifest = read_manifest(world_manifest(folder, samples, seed=0), label_columns=labels)
    return extract_features(manifest, models=MODELS)


@pytest.mark.slow
def test_every_strategy_that_can_leave_chance_does_on_each_world_task(tmp_path) -> None:
    features = world_features(tmp_path / "worlds", 1500, None)  # every task, in the manifest's order: the Lab's run
    assert list(features.targets) == ["claim", "sound_match", "verdict", "exactly_one"]
    run = run_training(features, TrainingConfig(train=LAB_TRAIN_DEFAULTS, seeds=3, robustness=False),
                       out_dir=tmp_path / "run")
    study = run.study
    for task, expected in LEAVES_CHANCE.items():
        for name in expected:
            assert not study.at_chance(name, task), (task, name, study.summary(name, task), study.chance(task))
        chance, two_sigma = study.chance(task)
        three_sigma = chance + 1.5 * (two_sigma - chance)  # 20 checks at chance: a looser bound
        for name in CANNOT_LEAVE_CHANCE:
            assert study.summary(name, task).mean < three_sigma, (task, name, study.summary(name, task), chance)
    best_epochs = {(s.strategy, s.seed): s.best_epoch for s in study.scores}
    assert all(epoch > 1 for (name, _), epoch in best_epochs.items() if name in NOT_LATE), best_epochs
    # what ends at chance is said plainly: late fusion everywhere (expected), the weak ones on exactly_one
    warned = {(line.split(" ends at chance on ")[0], line.split(" ends at chance on ")[1].split(" ")[0]): line
              for line in study.chance_warnings()}
    for task in LEAVES_CHANCE:
        for name in ("late", "late_weighted"):
            assert "expected if the label needs two modalities at once" in warned[(name, task)]
    assert all((name, "exactly_one") in warned for name in AT_CHANCE_ON_EXACTLY_ONE), sorted(warned)


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
