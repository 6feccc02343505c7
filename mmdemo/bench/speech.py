"""Speech workload: transcribe one clip with wav2vec2 CTC (the pretrained preset's audio model).

Baseline: the model card's float32 code (:class:`~mmdemo.bench.baselines.CtcBaseline`, one clip).
Project: mmdemo's default transcription, the ``wav2vec2-ctc`` backend's ``transcribe`` on the
model :func:`mmdemo.loading.get_model` loads (what :func:`mmdemo.encoders.embed_audio` runs on the
speech road before embedding the transcript). Fidelity: the CTC logits of the fidelity clips
against float32 (:func:`mmdemo.bench.audio_peers.ctc_checks`); runtime peers run the CTC tower
(:class:`~mmdemo.bench.audio_peers.CtcTower`) with the same checks. No target: the issue-7
targets name no speech workload.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mmdemo.backends import backend_module
from mmdemo.bench.audio_peers import CtcTower, convert_audio_peers, ctc_checks, ctc_fidelity, timed_cases
from mmdemo.bench.baselines import CtcBaseline
from mmdemo.bench.config import BenchConfig
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import BenchModels
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.timing import interleave
from mmdemo.loading import get_model

Say = Callable[[str], None]


def _project_logits(loaded, clip) -> torch.Tensor:
    """The CTC logits [frames, vocab] of mmdemo's loaded model (its speed-ups and dtype) for one clip."""
    values = loaded.processor(clip, sampling_rate=loaded.spec.sample_rate, return_tensors="pt")["input_values"]
    with torch.inference_mode(), loaded.autocast():
        return loaded.model(values.to(loaded.device)).logits[0].float()


def speech_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    clip = inputs.clips[0]
    name = models.speech
    base = CtcBaseline(models.folder("speech"), sample_rate=inputs.sample_rate)
    loaded = get_model(name, "audio")
    backend = backend_module(loaded.spec.backend)
    cases = {
        "baseline": (lambda: base.transcribe(clip), "float32 logits, argmax, batch_decode (model card)"),
        "project": (lambda: backend.transcribe(loaded, [clip])[0],
                    f"mmdemo default transcription: {loaded.describe()}"),
    }
    peers = {}
    if config.runtimes:
        example = base.extractor(clip, sampling_rate=inputs.sample_rate, return_tensors="pt")["input_values"]
        peers = convert_audio_peers(config.runtimes, CtcTower, base.variants.model, example, say)
        cases.update(timed_cases(peers, base.extractor, clip, inputs.sample_rate,
                                 finish=lambda logits: base.decode(logits[0])))
    seconds = len(clip) / inputs.sample_rate
    say(f"speech: transcribe one {seconds:.0f} s clip, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    clips = inputs.clips[: config.fidelity_clips]
    reference = [base.logits(c) for c in clips]
    project = [_project_logits(loaded, c) for c in clips]
    checks = ctc_checks(reference, project, [base.decode(r) for r in reference],
                        [backend.transcribe(loaded, [c])[0] for c in clips])
    return WorkloadResult(
        name="speech", description=f"transcribe one {seconds:.0f} s clip (wav2vec2 CTC)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=None, fidelity=checks,
        notes=[f"fidelity on {len(clips)} clips; random-weight CTC transcripts are letter soup, compared as strings"],
        runtimes=ctc_fidelity(peers, reference, base.decode, base.extractor, clips, inputs.sample_rate),
    )
