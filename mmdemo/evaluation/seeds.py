"""The multi-seed comparison a reviewer can trust: every strategy and every single-modality
baseline trained with several seeds, summarised with intervals, ranked, tested and costed.

Protocol (what :func:`mmdemo.lab.run_training` does, and the report and README state):

- each seed ``s`` draws its own stratified train / validation / test split and initialisation;
  every strategy and baseline of that seed shares the split, so scores are paired by seed;
- per strategy, task and metric: mean, sample std and the 95 % t-interval over seeds
  (:mod:`mmdemo.evaluation.stats`);
- the table ranks by mean accuracy and marks every row whose interval overlaps the best one's;
- the best fused strategy is compared with each other row by a paired t-test on the per-seed
  accuracy differences (two-sided);
- a fused strategy *beats* the baselines when its mean accuracy exceeds the best baseline's and
  the paired test gives p < 0.05 (with one seed no test is possible, so nothing beats them);
- a row is *at chance* when its mean accuracy is below ``chance + 2 sqrt(chance (1 - chance) /
  (n_test * seeds))``, where chance is the majority class's share of the test samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mmdemo.evaluation.complexity import MEMORY_METHOD, Complexity
from mmdemo.evaluation.robustness import RobustnessPoint
from mmdemo.evaluation.stats import PairedTest, SeedSummary, paired_t_test, summarise
from mmdemo.training.baselines import is_baseline

METRICS = ("accuracy", "macro_f1", "auroc")
SIGNIFICANCE = 0.05
LATE_STRATEGIES = ("late", "late_weighted")


@dataclass
class SeedScore:
    """One strategy (or baseline) trained with one seed, scored on one task of that seed's test part."""

    seed: int
    strategy: str
    task: str
    accuracy: float
    macro_f1: float
    auroc: float
    train_seconds: float
    best_epoch: int
    epochs_run: int
    n_test: int
    chance: float

    def to_dict(self) -> dict[str, object]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


@dataclass
class RankedRow:
    """One row of the ranked table: a strategy's summaries on one task."""

    rank: int
    strategy: str
    task: str
    summaries: dict[str, SeedSummary]
    overlaps_best: bool
    at_chance: bool
    baseline: bool


@dataclass
class SeedStudy:
    """All per-seed scores of a run and what follows from them.

    Attributes:
        seeds: the seeds, in training order.
        names: strategies then baselines, in training order.
        scores: one :class:`SeedScore` per seed, name and task.
        complexity: one :class:`Complexity` per name (train seconds: mean over seeds).
        robustness: robustness points of every seed (their ``accuracy`` is per seed).
    """

    seeds: list[int]
    names: list[str]
    scores: list[SeedScore]
    complexity: list[Complexity] = field(default_factory=list)
    robustness: list[tuple[int, RobustnessPoint]] = field(default_factory=list)

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(score.task for score in self.scores))

    @property
    def fused(self) -> list[str]:
        return [name for name in self.names if not is_baseline(name)]

    @property
    def baselines(self) -> list[str]:
        return [name for name in self.names if is_baseline(name)]

    def values(self, name: str, task: str, metric: str = "accuracy") -> list[float]:
        """Per-seed ``metric`` of ``name`` on ``task``, in seed order."""
        by_seed = {s.seed: getattr(s, metric) for s in self.scores if s.strategy == name and s.task == task}
        return [by_seed.get(seed, float("nan")) for seed in self.seeds]

    def summary(self, name: str, task: str, metric: str = "accuracy") -> SeedSummary:
        return summarise(self.values(name, task, metric))

    def chance(self, task: str) -> tuple[float, float]:
        """(chance accuracy, at-chance threshold) of ``task`` (see the module docstring)."""
        rows = [s for s in self.scores if s.task == task]
        chance = sum(s.chance for s in rows) / len(rows)
        n = sum(s.n_test for s in rows) / len(rows) * len(self.seeds)
        return chance, chance + 2 * math.sqrt(chance * (1 - chance) / max(n, 1))

    def at_chance(self, name: str, task: str) -> bool:
        mean = self.summary(name, task).mean
        return math.isnan(mean) or mean < self.chance(task)[1]

    def ranking(self, task: str) -> list[RankedRow]:
        """Every name on ``task``, best mean accuracy first; ``overlaps_best`` marks rows whose
        accuracy interval overlaps the best row's."""
        summaries = {name: {metric: self.summary(name, task, metric) for metric in METRICS} for name in self.names}
        order = sorted(self.names, key=lambda n: -_or_minus_inf(summaries[n]["accuracy"].mean))
        best = summaries[order[0]]["accuracy"]
        return [RankedRow(rank, name, task, summaries[name], summaries[name]["accuracy"].overlaps(best),
                          self.at_chance(name, task), is_baseline(name))
                for rank, name in enumerate(order, start=1)]

    def best_fused(self, task: str) -> str | None:
        fused = [row.strategy for row in self.ranking(task) if not row.baseline]
        return fused[0] if fused else None

    def best_baseline(self, task: str) -> str | None:
        baselines = [row.strategy for row in self.ranking(task) if row.baseline]
        return baselines[0] if baselines else None

    def paired_tests(self, task: str) -> list[PairedTest]:
        """The best fused strategy against every other row (paired t-test on accuracy)."""
        best = self.best_fused(task)
        if best is None:
            return []
        return [paired_t_test(self.values(best, task), self.values(name, task), (best, name))
                for name in self.names if name != best]

    def beats_baselines(self, task: str) -> list[str]:
        """Fused strategies whose accuracy significantly exceeds the best baseline's on ``task``."""
        baseline = self.best_baseline(task)
        if baseline is None:
            return []
        winners = []
        for name in self.fused:
            test = paired_t_test(self.values(name, task), self.values(baseline, task), (name, baseline))
            if test.mean_difference > 0 and not math.isnan(test.p) and test.p < SIGNIFICANCE:
                winners.append(name)
        return winners

    def verdict(self, task: str) -> str:
        """One plain sentence: does any fusion strategy beat the best single-modality baseline?"""
        baseline = self.best_baseline(task)
        if baseline is None:
            return f"{task}: no single-modality baselines were trained."
        mean = self.summary(baseline, task).mean
        if len(self.seeds) < 2:  # no test across seeds: say where the best of each stands, untested
            best = self.best_fused(task)
            if best is None:
                return f"{task}: only single-modality baselines were trained (best: {baseline}, accuracy {mean:.3f})."
            fused = self.summary(best, task).mean
            side = "ahead of" if fused > mean else "not ahead of"
            return (f"{task}: the best fusion strategy ({best}, accuracy {fused:.3f}) is {side} the best "
                    f"single-modality baseline ({baseline}, accuracy {mean:.3f}) by {fused - mean:+.3f}; "
                    f"one seed: untested, run several seeds to test it.")
        winners = self.beats_baselines(task)
        if not winners:
            return (f"{task}: no fusion strategy beats the best single-modality baseline "
                    f"({baseline}, accuracy {mean:.3f}).")
        return (f"{task}: {', '.join(winners)} beat{'s' if len(winners) == 1 else ''} the best single-modality "
                f"baseline ({baseline}, accuracy {mean:.3f}; paired t-test over {len(self.seeds)} seeds, p < {SIGNIFICANCE}).")

    def chance_warnings(self) -> list[str]:
        """One line per fused strategy that ends at chance on a task, with what to change."""
        lines = []
        for task in self.tasks:
            chance, threshold = self.chance(task)
            for name in self.fused:
                if not self.at_chance(name, task):
                    continue
                epochs = [s.best_epoch for s in self.scores if s.strategy == name and s.task == task]
                mean = self.summary(name, task).mean
                text = f"{name} ends at chance on {task} (accuracy {mean:.3f}, chance {chance:.3f}, best epochs {epochs})"
                if name in LATE_STRATEGIES:
                    text += ("; expected if the label needs two modalities at once: late fusion averages "
                             "per-modality predictions and cannot represent their interaction")
                else:
                    text += ("; try a higher learning rate for it (strategy_lr), more epochs or patience, "
                             "monitor val_accuracy, or more samples")
                lines.append(text)
        return lines

    def aggregated_robustness(self) -> list[RobustnessPoint]:
        """Robustness points averaged over seeds (and kept per task)."""
        groups: dict[tuple, list[float]] = {}
        for _, point in self.robustness:
            key = (point.strategy, point.modality, point.corruption, point.level, point.task)
            groups.setdefault(key, []).append(point.accuracy)
        return [RobustnessPoint(*key, accuracy=sum(v) / len(v)) for key, v in groups.items()]

    def to_dict(self) -> dict[str, object]:
        return {
            "seeds": self.seeds,
            "names": self.names,
            "baselines": self.baselines,
            "per_seed": [score.to_dict() for score in self.scores],
            "statistics": [
                {"rank": row.rank, "strategy": row.strategy, "task": row.task, "baseline": row.baseline,
                 "overlaps_best": row.overlaps_best, "at_chance": row.at_chance,
                 **{metric: summary.to_dict() for metric, summary in row.summaries.items()}}
                for task in self.tasks for row in self.ranking(task)
            ],
            "paired_tests": {task: [test.to_dict() for test in self.paired_tests(task)] for task in self.tasks},
            "verdicts": {task: self.verdict(task) for task in self.tasks},
            "chance": {task: dict(zip(("chance", "threshold"), self.chance(task))) for task in self.tasks},
            "chance_warnings": self.chance_warnings(),
            "complexity": [c.to_dict() for c in self.complexity],
            "memory_method": MEMORY_METHOD,
            "robustness": [{"seed": seed, **point.to_dict()} for seed, point in self.robustness],
        }


def _or_minus_inf(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _interval(summary: SeedSummary) -> str:
    if math.isnan(summary.mean):
        return "n/a"
    if math.isnan(summary.low):
        return f"{summary.mean:.3f}"
    return f"{summary.mean:.3f} ± {summary.std:.3f} [{summary.low:.3f}, {summary.high:.3f}]"


def ranked_table(study: SeedStudy, task: str) -> str:
    """Markdown: the ranked rows with mean ± std [95 % interval] per metric and the marks."""
    complexity = {c.strategy: c for c in study.complexity}
    lines = ["| rank | strategy | accuracy | macro-F1 | AUROC | overlaps best | at chance | parameters | "
             "train s | inference ms/sample | peak memory KiB |", "|" + "---|" * 11]
    for row in study.ranking(task):
        cost = complexity.get(row.strategy)
        name = f"{row.strategy} (baseline)" if row.baseline else row.strategy
        costs = ([f"{cost.n_parameters:,}", f"{cost.train_seconds:.2f}", f"{cost.inference_ms_per_sample:.4f}",
                  f"{cost.peak_memory_bytes / 1024:.0f}"] if cost else ["n/a"] * 4)
        lines.append("| " + " | ".join([str(row.rank), name] + [_interval(row.summaries[m]) for m in METRICS]
                                       + ["yes" if row.overlaps_best else "no", "yes" if row.at_chance else "no"]
                                       + costs) + " |")
    return "\n".join(lines)


def study_markdown(study: SeedStudy) -> str:
    """The report's multi-seed section: protocol, ranked tables, tests, verdicts, warnings."""
    lines = [f"## Across seeds ({len(study.seeds)}: {', '.join(map(str, study.seeds))})", "",
             "Each seed draws its own split and initialisation; strategies and single-modality baselines "
             "(`only_<modality>`: a head trained on that modality alone, same budget) share it. Cells: mean ± "
             "standard deviation [95 % t-interval over seeds]. Rows are ranked by mean accuracy; *overlaps best* "
             "marks accuracy intervals that overlap the best row's. The paired test is a two-sided paired "
             "t-test on the per-seed accuracy differences. Peak memory: " + MEMORY_METHOD + " (CPU)."]
    for task in study.tasks:
        chance, threshold = study.chance(task)
        lines += ["", f"### {task}", "", f"**{study.verdict(task)}** (chance {chance:.3f}; at chance below "
                  f"{threshold:.3f})", "", ranked_table(study, task)]
        tests = study.paired_tests(task)
        if tests:
            lines += ["", "| paired t-test | mean accuracy difference | t | p |", "|---|---|---|---|"]
            lines += [f"| {t.a} vs {t.b} | {t.mean_difference:+.3f} | {_num(t.t)} | {_num(t.p)} |" for t in tests]
    warnings = study.chance_warnings()
    if warnings:
        lines += ["", "### Runs that end at chance", ""] + [f"- {line}" for line in warnings]
    return "\n".join(lines)


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"
