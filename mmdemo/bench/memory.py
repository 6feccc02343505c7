"""Peak resident memory with the four default models loaded, per dtype policy, in subprocesses.

``measure_memory`` starts ``python -m mmdemo.bench.memory`` once per policy: a fresh process
loads the image-text, caption, VQA and audio models through :func:`mmdemo.loading.get_model`,
runs every part of each once on a small input, and prints its resident memory as JSON.

Checkpoints are memory-mapped: float32 weights become resident as clean file-backed pages when
first read, and the float32 pages a speed-up converted stay mapped (reclaimable by the kernel)
while the rest of the file is in use. So the report splits resident memory into anonymous
(allocated by the process) and file-backed (the mapped checkpoints).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mmdemo.bench.models import BenchModels
from mmdemo.bench.results import MemoryResult
from mmdemo.registry import PROJECT_ROOT

POLICIES = ("auto", "float32")
DEFAULT_ROLES = ("image-text", "caption", "vqa", "speech")  # the pretrained preset's four defaults


def _status_mib(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (Linux) in MiB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mib() -> float:
    """Resident memory of this process now (Linux ``/proc``; peak RSS elsewhere)."""
    value = _status_mib("VmRSS")
    return value if value is not None else peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident memory of this process: ``VmHWM`` on Linux, ``ru_maxrss`` elsewhere.

    Not ``ru_maxrss`` on Linux: it survives ``exec``, so a child started by a large parent (the
    benchmark, holding 1M retrieval vectors) reports the parent's size as its own peak.
    """
    value = _status_mib("VmHWM")
    if value is not None:
        return value
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure_memory(models: BenchModels, policies: tuple[str, ...] = POLICIES, timeout: float = 900.0) -> list[MemoryResult]:
    """One fresh process per policy; returns their measurements in ``policies`` order."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    results = []
    for policy in policies:
        command = [sys.executable, "-m", "mmdemo.bench.memory", "--dtype", policy, "--specs", json.dumps(models.specs_json())]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT_ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"The memory probe for dtype {policy!r} failed:\n{done.stderr[-2000:]}")
        results.append(MemoryResult(**json.loads(done.stdout.strip().splitlines()[-1])))
    return results


def _probe(policy: str, specs: dict[str, dict]) -> MemoryResult:
    from mmdemo.bench.models import register_specs
    from mmdemo.encoders import embed_audio, embed_images, embed_texts
    from mmdemo.generate import DecodingConfig, answer, caption
    from mmdemo.loading import configure_runtime, get_model

    configure_runtime(dtype=policy)
    models = register_specs(specs)
    names = models.by_role()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    clip = np.random.default_rng(1).normal(0.0, 0.1, 16_000).astype(np.float32)
    baseline = current_rss_mib()
    loaded = {role: get_model(names[role], "audio" if role == "speech" else role) for role in DEFAULT_ROLES}
    loaded_mib = current_rss_mib()
    embed_images([image], model=names["image-text"], use_cache=False)  # every part runs once
    embed_texts(["a red circle"], model=names["image-text"], use_cache=False)
    caption(image, model=names["caption"], decoding=DecodingConfig(max_new_tokens=5))
    try:
        answer(image, "what color is the shape?", model=names["vqa"], max_new_tokens=3)
    except ValueError:  # a random-weight model may answer with nothing; memory is what counts here
        pass
    embed_audio([clip], model=names["speech"], use_cache=False)
    return MemoryResult(
        dtype=policy,
        models=[item.spec.name for item in loaded.values()],
        baseline_mib=baseline,
        loaded_mib=loaded_mib,
        used_mib=current_rss_mib(),
        anonymous_mib=_status_mib("RssAnon"),
        file_mib=_status_mib("RssFile"),
        peak_mib=peak_rss_mib(),
        speedups={item.spec.name: list(item.extras.get("speedups", ())) for item in loaded.values()},
        dtypes={item.spec.name: str(item.dtype).removeprefix("torch.") for item in loaded.values()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo.bench.memory",
        description="Load the four default models under one dtype policy and print resident memory as JSON "
        "(run by `python -m mmdemo bench`, one fresh process per policy).",
    )
    parser.add_argument("--dtype", choices=POLICIES, required=True, help="dtype policy")
    parser.add_argument("--specs", required=True, help="JSON: role -> model spec fields")
    args = parser.parse_args(argv)
    result = _probe(args.dtype, json.loads(args.specs))
    print(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
