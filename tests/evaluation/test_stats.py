"""Intervals and the paired t-test, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from mmdemo.errors import ConfigError
from mmdemo.evaluation.stats import paired_t_test, summarise


def test_t_interval_matches_the_textbook_formula() -> None:
    summary = summarise([0.6, 0.7, 0.8])
    assert summary.mean == pytest.approx(0.7) and summary.std == pytest.approx(0.1)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, 2) = 4.3027
    assert summary.low == pytest.approx(0.7 - half) and summary.high == pytest.approx(0.7 + half)


def test_one_seed_has_no_spread_and_counts_as_overlapping() -> None:
    one = summarise([0.5])
    assert one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.low)
    assert one.overlaps(summarise([0.9, 0.91]))


def test_overlap_is_symmetric_and_detects_separation() -> None:
    low, high, middle = summarise([0.50, 0.51, 0.52]), summarise([0.90, 0.91, 0.92]), summarise([0.4, 0.6, 0.95])
    assert not low.overlaps(high) and not high.overlaps(low)
    assert middle.overlaps(low) and low.overlaps(middle)


def test_paired_t_test_on_the_differences() -> None:
    test = paired_t_test([0.8, 0.9, 0.85], [0.7, 0.75, 0.8], ("a", "b"))
    differences = [0.1, 0.15, 0.05]
    mean = sum(differences) / 3
    std = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2)
    assert test.mean_difference == pytest.approx(mean)
    assert test.t == pytest.approx(mean / (std / math.sqrt(3)))
    assert 0.0 < test.p < 0.1 and test.n == 3
    # a constant offset is paired perfectly: certain, even though the unpaired intervals overlap
    assert paired_t_test([0.5, 0.7, 0.9], [0.4, 0.6, 0.8]).p == 0.0
    with pytest.raises(ConfigError, match="as many scores"):
        paired_t_test([0.1], [0.1, 0.2])
