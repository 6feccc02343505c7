"""The side-by-side benchmark: the model cards' float32 code against mmdemo's default path.

``python -m mmdemo.bench --help`` (or ``python -m mmdemo bench``). Modules, one concept each:

- :mod:`~mmdemo.bench.config`: what to measure and the targets;
- :mod:`~mmdemo.bench.models`: full-size random-weight checkpoints, built once and registered;
- :mod:`~mmdemo.bench.inputs`: deterministic images, prompts, questions and clips;
- :mod:`~mmdemo.bench.baselines`: the model cards' code (and one-idea-at-a-time ablations);
- :mod:`~mmdemo.bench.timing`: interleaved timing, medians;
- :mod:`~mmdemo.bench.fidelity`: checks against float32 that can fail (bars in :mod:`~mmdemo.bench.config`);
- :mod:`~mmdemo.bench.teacher_forcing`: per-step log-probabilities of float32's tokens under any path;
- :mod:`~mmdemo.bench.embedding`, :mod:`~mmdemo.bench.generation`, :mod:`~mmdemo.bench.system`,
  :mod:`~mmdemo.bench.memory`, :mod:`~mmdemo.bench.app_start`: the workloads;
- :mod:`~mmdemo.bench.report`, :mod:`~mmdemo.bench.runner`, :mod:`~mmdemo.bench.cli`.
"""

from mmdemo.bench.config import WORKLOADS, BenchConfig
from mmdemo.bench.report import BenchReport
from mmdemo.bench.runner import run_bench

__all__ = ["WORKLOADS", "BenchConfig", "BenchReport", "run_bench"]
