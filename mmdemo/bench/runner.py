"""Run the benchmark's workloads in order and collect one :class:`BenchReport`."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from mmdemo.bench.app_start import measure_app_start
from mmdemo.bench.config import MODEL_WORKLOADS, BenchConfig
from mmdemo.bench.embedding import audio_workload, image_l14_workload, image_workload, text_workload
from mmdemo.bench.generation import caption_workload, vqa_workload
from mmdemo.bench.inputs import make_inputs
from mmdemo.bench.memory import measure_memory
from mmdemo.bench.models import prepare_models
from mmdemo.bench.offline import offline_image_workload, offline_text_workload
from mmdemo.bench.report import BenchReport
from mmdemo.bench.speech import speech_workload
from mmdemo.bench.system import fusion_workload, retrieval_workload
from mmdemo.loading import unload_all

logger = logging.getLogger(__name__)

MODEL_RUNNERS = {
    "image": image_workload,
    "image-l14": image_l14_workload,
    "text": text_workload,
    "caption": caption_workload,
    "vqa": vqa_workload,
    "audio": audio_workload,
    "speech": speech_workload,
    "offline-image": offline_image_workload,
    "offline-text": offline_text_workload,
}


def run_bench(
    config: BenchConfig,
    *,
    progress: Callable[[str], None] | None = None,
    on_update: Callable[[BenchReport], None] | None = None,
) -> BenchReport:
    """Run ``config.workloads`` in order; ``on_update`` gets the report after each one.

    Model workloads free their models afterwards (:func:`mmdemo.loading.unload_all`), so at most
    one baseline and one project model are in memory at a time.
    """
    say = progress or (lambda message: logger.info("%s", message))
    report = BenchReport(config)
    wanted = set(config.workloads)
    if wanted & set(MODEL_WORKLOADS) or "memory" in wanted:
        say(f"preparing {config.model_size} models in {config.models_dir}")
        models = prepare_models(config)
    if wanted & set(MODEL_WORKLOADS):
        inputs = make_inputs(
            images=max(config.images, config.fidelity_images, config.l14_images), prompts=config.texts,
            clips=max(1, config.fidelity_clips), audio_seconds=config.audio_seconds, seed=config.seed,
            labels=config.label_bank,
        )
    for name in config.workloads:
        if name in MODEL_RUNNERS:
            report.workloads.append(MODEL_RUNNERS[name](config, models, inputs, say))
            unload_all()
            gc.collect()
        elif name == "retrieval":
            report.retrieval = retrieval_workload(config, say)
        elif name == "fusion":
            report.fusion = fusion_workload(config, say)
        elif name == "memory":
            say("memory: loading the four default models once per dtype policy, in fresh processes")
            report.memory = measure_memory(models)
        elif name == "app-start":
            say("app start: python app.py until its page answers")
            report.app_start = measure_app_start(timeout=config.app_timeout)
        report.finish()
        if on_update:
            on_update(report)
    return report
