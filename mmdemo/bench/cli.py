"""``python -m mmdemo.bench`` (also ``python -m mmdemo bench``): run the benchmark, write JSON + markdown."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from mmdemo.bench.config import RUNTIME_PEERS, WORKLOADS, BenchConfig, default_models_dir
from mmdemo.bench.report import BenchReport
from mmdemo.bench.runner import run_bench
from mmdemo.storage import atomic_write_bytes, write_json_atomic


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_parser(prog: str = "python -m mmdemo.bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Side-by-side benchmark of what users run today (the model cards' float32 code, one input per "
            "call) against mmdemo's default path, on full-size CLIP ViT-B/32, BLIP base and wav2vec2-base "
            "built offline with seeded random weights. Baseline and project runs are interleaved in one "
            "process; medians and speed-ups are reported with fidelity checks against float32, plus "
            "retrieval latency, Fusion Lab training time, memory per dtype policy and app start time."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer inputs and rounds, no ablations")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of: {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--repeats", type=int, help="timed rounds per case (default 5; --quick 3)")
    parser.add_argument("--images", type=int, help="images per image-embedding run (default 64; --quick 16)")
    parser.add_argument("--texts", type=int, help="prompts per text-embedding run (default 256; --quick 64)")
    parser.add_argument("--fidelity-images", type=int,
                        help="images captioned / asked per model for the generation fidelity checks (default 10; --quick 3)")
    parser.add_argument("--l14-images", type=int,
                        help="images of the image-l14 workload (CLIP ViT-L/14 fidelity; default 16; --quick 8)")
    parser.add_argument("--ablations", action=argparse.BooleanOptionalAction, default=None,
                        help="also time each idea alone (default: on; off with --quick)")
    parser.add_argument("--retrieval-sizes", help="comma-separated stored-vector counts (default 100000,1000000)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help=f"where the random-weight checkpoints are built and reused (default {default_models_dir()})")
    parser.add_argument("--model-size", choices=("base", "tiny"), default="base",
                        help="base: the real architectures (default); tiny: a seconds-long check of the machinery")
    parser.add_argument("--app-timeout", type=float, default=180.0, help="seconds to wait for app.py (default 180)")
    parser.add_argument("--out", type=Path, default=Path("bench-results"),
                        help="folder for bench.json and bench.md (default ./bench-results)")
    parser.add_argument("--runtimes", default="none",
                        help=f"runtime peers of every model workload: 'all', 'none' (default) or a comma-separated "
                        f"subset of {', '.join(RUNTIME_PEERS)} (optional: pip install -r requirements-runtimes.txt)")
    parser.add_argument("--isa", choices=("native", "avx2"), default="native",
                        help="avx2: re-run this command in a subprocess with ONEDNN_MAX_CPU_ISA=AVX2 and ATEN_CPU_CAPABILITY=avx2 "
                        "(a stand-in for a laptop without AMX or AVX-512; ONNX Runtime has no such switch); default native")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a target or fidelity check fails")
    return parser


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig(workloads=_csv(args.workloads))
    if args.quick:
        config = config.quick()
    changes: dict = {}
    for name in ("repeats", "images", "texts", "fidelity_images", "l14_images", "ablations"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.retrieval_sizes:
        changes["retrieval_sizes"] = tuple(int(part) for part in _csv(args.retrieval_sizes))
    if args.models_dir is not None:
        changes["models_dir"] = args.models_dir
    changes["app_timeout"] = args.app_timeout
    changes["model_size"] = args.model_size
    changes["runtimes"] = RUNTIME_PEERS if args.runtimes == "all" else () if args.runtimes == "none" else _csv(args.runtimes)
    return replace(config, **changes)


def write_outputs(report: BenchReport, out: Path, command: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_json_atomic(out / "bench.json", {**report.to_json(), "command": command})
    markdown_path = atomic_write_bytes(out / "bench.md", report.markdown(command).encode("utf-8"))
    return json_path, markdown_path


def main(argv: list[str] | None = None, prog: str = "python -m mmdemo.bench") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.isa == "avx2" and os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2":
        rest = list(sys.argv[1:] if argv is None else argv)
        # oneDNN (torch's and OpenVINO's), ATen's own vector kernels, and OpenVINO's own kernels (its
        # OV_CPU_MAX_ISA: 2026.4.1 drops BF16 from its capabilities with it); ONNX Runtime has no such
        # switch. mmdemo's dtype policy reads the ONEDNN_MAX_CPU_ISA cap (loading.cpu_has_fast_bfloat16):
        # float32, as on a CPU without bfloat16 units.
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
               "OV_CPU_MAX_ISA": "AVX2"}
        return subprocess.run([sys.executable, "-m", "mmdemo.bench", *rest], env=env, check=False).returncode
    try:
        config = config_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    command = " ".join([prog, *map(shlex.quote, sys.argv[1:] if argv is None else argv)])

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run_bench(config, progress=say, on_update=lambda partial: write_outputs(partial, args.out, command))
    json_path, markdown_path = write_outputs(report, args.out, command)
    print(report.markdown(command))
    print(f"Wrote {json_path} and {markdown_path}", file=sys.stderr)
    return 1 if args.check and not report.passed else 0
