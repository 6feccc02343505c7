"""Named results of each benchmark workload (JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mmdemo.bench.fidelity import Fidelity
from mmdemo.bench.timing import CaseTiming


@dataclass
class RuntimeResult:
    """One peer on one workload.

    Attributes:
        peer: one of :data:`RUNTIME_PEERS`.
        status: ``"ok"``, ``"skipped"`` (runtime missing or not for this CPU) or ``"failed"``.
        reason: why it was skipped or failed; what ran otherwise.
        conversion_s: seconds to export / quantise / compile (the first call, for ``compile``).
        rss_added_mib: resident memory the converted model added to the process.
        peak_rss_mib: the process's peak resident memory after conversion (includes earlier peaks).
        fidelity: the workload's checks against float32 torch (all must pass).
    """

    peer: str
    status: str
    reason: str = ""
    conversion_s: float | None = None
    rss_added_mib: float | None = None
    peak_rss_mib: float | None = None
    fidelity: list[Fidelity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "ok" and all(check.passed for check in self.fidelity)

    def to_json(self) -> dict[str, Any]:
        return {"peer": self.peer, "status": self.status, "reason": self.reason, "conversion_s": self.conversion_s,
                "rss_added_mib": self.rss_added_mib, "peak_rss_mib": self.peak_rss_mib, "passed": self.passed,
                "fidelity": [check.to_json() for check in self.fidelity]}


@dataclass
class WorkloadResult:
    """Baseline and project path (and ablations) of one model workload, timed in the same loop.

    Attributes:
        name: the workload (``"image"``, ``"text"``, …).
        description: what one timed run does, e.g. ``"64 images"``.
        cases: case name -> what it runs; ``"baseline"`` and ``"project"`` always, then ablations.
        timings: case name -> its timed runs.
        target: the speed-up the project path must reach over the baseline.
        fidelity: checks of the project path against float32 (all must pass).
        off_by_default: speed-up name -> the same checks of a fast path the backend keeps off by
            default (it missed a bar): reported, not counted in :attr:`passed`.
        notes: anything a reader needs to interpret the numbers.
        runtimes: the runtime peers (:class:`RuntimeResult`): status, conversion time and
            memory, and their fidelity checks; a converted peer's timings are under its name.
    """

    name: str
    description: str
    cases: dict[str, str]
    timings: dict[str, CaseTiming]
    target: float | None
    fidelity: list[Fidelity] = field(default_factory=list)
    off_by_default: dict[str, list[Fidelity]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    runtimes: list[RuntimeResult] = field(default_factory=list)

    def ratio(self, case: str = "project") -> float:
        """Baseline median time / ``case``'s median time."""
        return self.timings["baseline"].median_s / self.timings[case].median_s

    @property
    def passed(self) -> bool:
        fast = self.target is None or self.ratio() >= self.target
        return fast and all(check.passed for check in self.fidelity)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "cases": self.cases,
            "timings": {name: timing.to_json() for name, timing in self.timings.items()},
            "ratios": {name: self.ratio(name) for name in self.timings if name != "baseline"},
            "target": self.target, "passed": self.passed,
            "fidelity": [check.to_json() for check in self.fidelity],
            "off_by_default": {name: [check.to_json() for check in checks] for name, checks in self.off_by_default.items()},
            "notes": self.notes,
            "runtimes": [result.to_json() for result in self.runtimes],
        }


@dataclass
class FusionResult:
    """Training every fusion strategy on synthetic samples: total and per-strategy seconds, and each
    head's validation accuracy at its kept epoch (a sanity check that training did its job)."""

    samples: int
    epochs: int
    dims: dict[str, int]
    total_s: float
    per_strategy_s: dict[str, float]
    val_accuracy: dict[str, float | None]
    threads: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MemoryResult:
    """Peak resident memory of a process that loaded the four default models under one policy.

    Attributes:
        dtype: the policy (``"auto"``: the project's; ``"float32"``: fast paths off).
        models: the models loaded.
        baseline_mib: resident memory after imports, before any model.
        loaded_mib: resident memory with the four models loaded (float32 weights load lazily from
            memory-mapped files, so part of them is not resident yet).
        used_mib: resident memory after one call to every part of each model: the steady state.
        anonymous_mib: of ``used_mib``, memory the process allocated (None off Linux).
        file_mib: of ``used_mib``, memory-mapped checkpoint pages (clean, reclaimable).
        peak_mib: peak resident memory of the process by then (includes one-off load-time
            conversions).
        speedups: model -> load-time speed-ups applied.
        dtypes: model -> compute dtype.
    """

    dtype: str
    models: list[str]
    baseline_mib: float
    loaded_mib: float
    used_mib: float
    anonymous_mib: float | None
    file_mib: float | None
    peak_mib: float
    speedups: dict[str, list[str]]
    dtypes: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AppStartResult:
    """Seconds from starting ``python app.py`` to the first HTTP 200 of its page."""

    command: list[str]
    seconds: float | None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
