"""The benchmark's report: where it ran, every result, and its JSON and markdown forms."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
import transformers

from mmdemo.bench.config import RETRIEVAL_TARGET_MS, BenchConfig
from mmdemo.bench.results import AppStartResult, FusionResult, MemoryResult, WorkloadResult
from mmdemo.retrieval.bench import RetrievalBench


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """The CPU, cores, threads, library versions and the load average (other processes' share)."""
    from mmdemo.loading import cpu_has_fast_bfloat16

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "bfloat16_matrix_units": cpu_has_fast_bfloat16(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native"),
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


@dataclass
class BenchReport:
    """Everything one run measured."""

    config: BenchConfig
    machine: dict[str, Any] = field(default_factory=machine_info)
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    finished: str | None = None
    load_average_end: list[float] | None = None
    workloads: list[WorkloadResult] = field(default_factory=list)
    retrieval: RetrievalBench | None = None
    fusion: FusionResult | None = None
    memory: list[MemoryResult] = field(default_factory=list)
    app_start: AppStartResult | None = None

    def finish(self) -> None:
        self.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.load_average_end = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.workloads)

    def to_json(self) -> dict[str, Any]:
        config = {k: (str(v) if k == "models_dir" else v) for k, v in vars(self.config).items()}
        return {
            "config": config, "machine": self.machine, "started": self.started, "finished": self.finished,
            "load_average_end": self.load_average_end, "passed": self.passed,
            "workloads": [result.to_json() for result in self.workloads],
            "retrieval": self.retrieval.to_json() if self.retrieval else None,
            "fusion": self.fusion.to_json() if self.fusion else None,
            "memory": [result.to_json() for result in self.memory],
            "app_start": self.app_start.to_json() if self.app_start else None,
        }

    def markdown(self, command: str = "") -> str:
        """The report as markdown: machine, main table, ablations, retrieval, fusion, memory, app start."""
        m = self.machine
        lines = [
            f"Measured {self.started} on {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), "
            f"torch {m['torch']}, transformers {m['transformers']}; load average at start "
            f"{_load(m['load_average'])}, at end {_load(self.load_average_end)}.",
        ]
        if command:
            lines += ["", f"Command: `{command}`"]
        if self.workloads:
            lines += ["", *_main_table(self.workloads)]
            held_back = _off_by_default_table(self.workloads)
            if held_back:
                lines += ["", "Fast paths off by default (they miss a fidelity bar; checked on the same inputs, on top of "
                          "the project path):", "", *held_back]
            peers = _runtime_table(self.workloads)
            if peers:
                lines += ["", f"Against other runtimes (same rounds; speed-up over the model-card baseline; ISA "
                          f"{m.get('onednn_max_cpu_isa', 'native')}):", "", *peers]
            ablations = _ablation_table(self.workloads)
            if ablations:
                lines += ["", "Single ideas, timed in the same loops (speed-up over the baseline):", "", *ablations]
        if self.retrieval:
            lines += ["", "Retrieval (one query per call, top-10, 512-d; " + _retrieval_targets(self.retrieval) + "):",
                      "", self.retrieval.table()]
        if self.fusion:
            f = self.fusion
            per = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in f.per_strategy_s.items())
            lines += ["", f"Fusion Lab: every strategy on {f.samples:,} synthetic samples x {f.epochs} epochs "
                      f"({', '.join(f'{k} {v}-d' for k, v in f.dims.items())}): **{f.total_s:.1f} s** in total ({per})."]
        if self.memory:
            lines += ["", "Memory with the four default models (image-text, caption, VQA, audio) in one fresh process:", "",
                      "| dtype policy | RSS after one call each | of which allocated | of which mapped checkpoints | "
                      "peak RSS | load-time speed-ups |",
                      "|---|---|---|---|---|---|"]
            for r in self.memory:
                speedups = "; ".join(f"{name}: {', '.join(s)}" for name, s in r.speedups.items() if s) or "none"
                lines.append(f"| {r.dtype} | {r.used_mib:,.0f} MiB | {_mib(r.anonymous_mib)} | {_mib(r.file_mib)} | "
                             f"{r.peak_mib:,.0f} MiB | {speedups} |")
        if self.app_start:
            a = self.app_start
            result = f"**{a.seconds:.1f} s**" if a.seconds is not None else f"not measured ({a.error.splitlines()[0]})"
            lines += ["", f"App start (`python app.py` until its page answers HTTP 200, models load lazily): {result}."]
        return "\n".join(lines) + "\n"


def _load(values: list[float] | None) -> str:
    return "n/a" if not values else f"{values[0]:.1f}"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} MiB"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _main_table(workloads: list[WorkloadResult]) -> list[str]:
    lines = [
        "| workload | baseline (median) | project path (median) | speed-up | target | fidelity vs float32 | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in workloads:
        base, proj = r.timings["baseline"], r.timings["project"]
        fidelity = "; ".join(check.summary() for check in r.fidelity)
        target = f">= {r.target:g}x" if r.target else ""
        lines.append(
            f"| {r.description} | {_seconds(base.median_s)}: {r.cases['baseline']} | {_seconds(proj.median_s)}: "
            f"{r.cases['project']} | **{r.ratio():.1f}x** | {target} | {fidelity} | {'yes' if r.passed else 'NO'} |"
        )
    return lines


def _off_by_default_table(workloads: list[WorkloadResult]) -> list[str]:
    rows = [
        f"| {r.name} | {name} | {'; '.join(check.summary() for check in checks)} | "
        f"{'meets every bar' if all(c.passed for c in checks) else 'misses a bar'} |"
        for r in workloads for name, checks in r.off_by_default.items()
    ]
    return ["| workload | speed-up | fidelity vs float32 | verdict |", "|---|---|---|---|", *rows] if rows else []


def _runtime_table(workloads: list[WorkloadResult]) -> list[str]:
    """One row per workload with peers: baseline, project, then a column per peer (median, speed-up,
    fidelity verdict); then a row per peer with its conversion time, memory and checks."""
    with_peers = [r for r in workloads if r.runtimes]
    if not with_peers:
        return []
    peers = list(dict.fromkeys(result.peer for r in with_peers for result in r.runtimes))
    lines = ["| workload | baseline | mmdemo default | " + " | ".join(peers) + " |", "|---" * (3 + len(peers)) + "|"]
    for r in with_peers:
        by_peer = {result.peer: result for result in r.runtimes}
        cells = []
        for peer in peers:
            result = by_peer.get(peer)
            if result is None or result.status != "ok":
                cells.append(result.status if result else "")
                continue
            verdict = "passes the bars" if result.passed else "MISSES a bar"
            cells.append(f"{_seconds(r.timings[peer].median_s)}, **{r.ratio(peer):.1f}x**, {verdict}")
        lines.append(f"| {r.name} | {_seconds(r.timings['baseline'].median_s)} | "
                     f"{_seconds(r.timings['project'].median_s)}, **{r.ratio():.1f}x** | " + " | ".join(cells) + " |")
    lines += ["", "| workload | peer | status | conversion | RSS added | peak RSS | fidelity vs float32 torch |",
              "|---|---|---|---|---|---|---|"]
    for r in with_peers:
        for result in r.runtimes:
            if result.status != "ok":
                lines.append(f"| {r.name} | {result.peer} | {result.status}: {result.reason} | | | | |")
                continue
            checks = "; ".join(check.summary() for check in result.fidelity)
            lines.append(f"| {r.name} | {result.peer} | ok | {_seconds(result.conversion_s)} | "
                         f"{_mib(result.rss_added_mib)} | {_mib(result.peak_rss_mib)} | {checks} |")
    return lines


def _ablation_table(workloads: list[WorkloadResult]) -> list[str]:
    rows = [
        f"| {r.name} | {case} | {r.cases[case]} | {_seconds(r.timings[case].median_s)} | {r.ratio(case):.1f}x |"
        for r in workloads for case in r.timings
        if case not in ("baseline", "project") and case not in {p.peer for p in r.runtimes}
    ]
    return ["| workload | case | what changes | median | speed-up |", "|---|---|---|---|---|", *rows] if rows else []


def _retrieval_targets(bench: RetrievalBench) -> str:
    parts = []
    for timing in bench.exact:
        target = RETRIEVAL_TARGET_MS.get(timing.size)
        if timing.dtype == "float32" and target is not None:
            verdict = "meets" if timing.median_ms <= target else "MISSES"
            parts.append(f"exact float32 at {timing.size:,} vectors {timing.median_ms:.2f} ms {verdict} <= {target:g} ms")
    return "; ".join(parts) if parts else "no size with a target was measured"
