"""Statistics over seeds: mean, standard deviation, a t-interval, and a paired t-test.

A strategy trained with ``n`` seeds gives ``n`` scores. :func:`summarise` returns their mean, the
sample standard deviation (``ddof=1``) and the two-sided 95 % Student-t interval
``mean +/- t(0.975, n-1) * std / sqrt(n)``; with one seed the spread and the interval are NaN.
:func:`paired_t_test` compares two strategies trained on the same seeds (each seed: the same
split and data) by a one-sample t-test on the per-seed differences ``a_i - b_i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as scipy_stats

from mmdemo.errors import ConfigError

CONFIDENCE = 0.95


@dataclass
class SeedSummary:
    """Scores of one strategy on one metric across seeds.

    Attributes:
        values: the per-seed scores, in seed order.
        mean: their mean.
        std: sample standard deviation (NaN with one seed).
        low, high: the 95 % t-interval of the mean (NaN with one seed).
    """

    values: list[float]
    mean: float
    std: float
    low: float
    high: float

    @property
    def n(self) -> int:
        return len(self.values)

    def overlaps(self, other: SeedSummary) -> bool:
        """True when the two intervals share a point (undefined intervals count as overlapping)."""
        if any(math.isnan(x) for x in (self.low, self.high, other.low, other.high)):
            return True
        return self.low <= other.high and other.low <= self.high

    def to_dict(self) -> dict[str, object]:
        clean = lambda x: None if math.isnan(x) else x  # noqa: E731 - JSON has no NaN
        return {"values": [clean(v) for v in self.values], "mean": clean(self.mean), "std": clean(self.std),
                "ci95": [clean(self.low), clean(self.high)]}


def summarise(values: list[float], confidence: float = CONFIDENCE) -> SeedSummary:
    """Mean, std and t-interval of per-seed ``values`` (NaN values are left out)."""
    kept = [float(v) for v in values if not math.isnan(v)]
    if not kept:
        nan = float("nan")
        return SeedSummary(list(values), nan, nan, nan, nan)
    mean = sum(kept) / len(kept)
    if len(kept) < 2:
        return SeedSummary(list(values), mean, float("nan"), float("nan"), float("nan"))
    std = math.sqrt(sum((v - mean) ** 2 for v in kept) / (len(kept) - 1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, len(kept) - 1)) * std / math.sqrt(len(kept))
    return SeedSummary(list(values), mean, std, mean - half, mean + half)


@dataclass
class PairedTest:
    """A paired t-test of ``a`` against ``b`` on per-seed differences.

    Attributes:
        a, b: the names compared; ``mean_difference``: mean of ``a_i - b_i``.
        t: the t statistic; ``p``: its two-sided p-value (NaN with fewer than two seeds or when
            every difference is the same).
        n: number of paired seeds.
    """

    a: str
    b: str
    mean_difference: float
    t: float
    p: float
    n: int

    def to_dict(self) -> dict[str, object]:
        clean = lambda x: None if math.isnan(x) else x  # noqa: E731
        return {"a": self.a, "b": self.b, "mean_difference": clean(self.mean_difference), "t": clean(self.t),
                "p": clean(self.p), "n": self.n}


def paired_t_test(a: list[float], b: list[float], names: tuple[str, str] = ("a", "b")) -> PairedTest:
    """Two-sided paired t-test of the per-seed scores ``a`` and ``b`` (same seeds, same order)."""
    if len(a) != len(b):
        raise ConfigError(f"a paired test needs as many scores on each side, got {len(a)} and {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b) if not (math.isnan(x) or math.isnan(y))]
    differences = [x - y for x, y in pairs]
    n = len(differences)
    mean = sum(differences) / n if n else float("nan")
    if n < 2:
        return PairedTest(names[0], names[1], mean, float("nan"), float("nan"), n)
    std = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    if std == 0.0:
        return PairedTest(names[0], names[1], mean, float("nan"), float("nan") if mean == 0 else 0.0, n)
    t = mean / (std / math.sqrt(n))
    p = float(2 * scipy_stats.t.sf(abs(t), n - 1))
    return PairedTest(names[0], names[1], mean, t, p, n)
