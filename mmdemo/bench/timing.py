"""Interleaved timing: every case runs once per round, so a busy or throttling CPU slows all alike.

Rounds alternate the order (A B C, then C B A) so no case always runs right after the same
neighbour. Wall time is what is compared; process CPU time is recorded too, because on a shared
machine it shows how much of the wall time the process actually ran.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CaseTiming:
    """Timed runs of one case, in seconds."""

    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(self.cpu_s)

    @property
    def spread(self) -> float:
        """(max - min) / median of the wall times: how noisy the runs were."""
        return (max(self.wall_s) - min(self.wall_s)) / self.median_s if self.median_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": self.median_s, "cpu_median_s": self.cpu_median_s, "spread": self.spread,
            "wall_s": self.wall_s, "cpu_s": self.cpu_s,
        }


@dataclass
class Interleaved:
    """Timings by case name, and each case's output from its last run."""

    timings: dict[str, CaseTiming]
    outputs: dict[str, Any]


def interleave(
    cases: dict[str, Callable[[], Any]],
    repeats: int,
    *,
    warmup: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Interleaved:
    """Run each case ``warmup`` times untimed, then ``repeats`` timed rounds, interleaved."""
    if not cases:
        raise ValueError("Nothing to time: no cases given")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    names = list(cases)
    outputs: dict[str, Any] = {}
    for _ in range(warmup):
        for name in names:
            outputs[name] = cases[name]()
    timings = {name: CaseTiming() for name in names}
    for round_index in range(repeats):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            outputs[name] = cases[name]()
            timings[name].cpu_s.append(time.process_time() - cpu)
            timings[name].wall_s.append(time.perf_counter() - wall)
        if progress:
            progress(f"round {round_index + 1}/{repeats}: " + ", ".join(
                f"{name} {timings[name].wall_s[-1]:.3f} s" for name in names))
    return Interleaved(timings, outputs)
