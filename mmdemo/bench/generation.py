"""Generation workloads: a greedy caption and a VQA answer for one image.

Baseline: the model card's float32 ``model.generate`` (same number of new tokens as the project).
Project: :func:`mmdemo.generate.caption` / :func:`mmdemo.generate.answer` with their defaults.

Fidelity compares greedy token ids. The project's ids come from the very model object the API
runs (``get_model``), fed by its processor, under its autocast context: the API itself returns
text, and a random-weight model mostly emits ids outside the bench tokenizers' small word-level
vocabulary, which decode to empty text, so comparing texts would prove nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

from mmdemo.bench.baselines import BlipBaseline
from mmdemo.bench.config import TARGETS, BenchConfig
from mmdemo.bench.fidelity import identical_sequences
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import BenchModels
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.timing import interleave
from mmdemo.errors import MediaError
from mmdemo.generate import DecodingConfig, answer, caption
from mmdemo.loading import get_model

Say = Callable[[str], None]
ABLATION_PRECISIONS = {
    "bf16 autocast": ("autocast", "bfloat16 autocast over the whole generate"),
    "bf16 weights": ("bf16-weights", "every weight cast to bfloat16"),
    "int8 dynamic": ("int8", "every Linear (vision and text) dynamically quantised to int8"),
}


def project_tokens(name: str, role: str, image: Image.Image, question: str | None, max_new_tokens: int) -> list[int]:
    """Greedy token ids from the model the API runs for ``name`` (with its speed-ups and dtype)."""
    loaded = get_model(name, role)
    inputs = loaded.processor(images=image, text=question, return_tensors="pt").to(loaded.device)
    with torch.inference_mode(), loaded.autocast():
        out = loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
    return out[0].tolist()


def _answer_text(image: Image.Image, question: str, name: str, tokens: int) -> str:
    """The API's answer; an answer that decodes to nothing (random weights) counts as ``""``."""
    try:
        return answer(image, question, model=name, max_new_tokens=tokens).answer
    except MediaError as err:
        if "empty answer" not in str(err):  # the only error a random-weight model may cause here
            raise
        return ""


def _ablations(config: BenchConfig, run: Callable[[str], object]) -> dict[str, tuple[Callable[[], object], str]]:
    if not config.ablations:
        return {}
    return {label: (lambda p=precision: run(p), what) for label, (precision, what) in ABLATION_PRECISIONS.items()}


def _fidelity_and_notes(base: BlipBaseline, name: str, role: str, pairs: list, tokens: int, what: str):
    reference = [base.generate(image, question, max_new_tokens=tokens) for image, question in pairs]
    project = [project_tokens(name, role, image, question, tokens) for image, question in pairs]
    new_tokens = sum(len(ids) - 1 for ids in reference) / len(reference)
    note = f"float32 generated {new_tokens:.1f} new tokens per input on average (fidelity inputs)"
    return identical_sequences(reference, project, what=what), note


def caption_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    name, tokens = models.caption, config.caption_tokens
    base = BlipBaseline(models.folder("caption"), vqa=False)
    image = inputs.images[0]
    decoding = DecodingConfig(max_new_tokens=tokens)
    cases = {
        "baseline": (lambda: base.text(base.generate(image, max_new_tokens=tokens)), "float32 generate (model card)"),
        "project": (lambda: caption(image, model=name, decoding=decoding).best,
                    f"mmdemo API defaults: {get_model(name, 'caption').describe()}"),
        **_ablations(config, lambda p: base.generate(image, max_new_tokens=tokens, precision=p)),
    }
    say(f"captioning: one image, {tokens} greedy tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    pairs = [(picture, None) for picture in inputs.images[: config.fidelity_images]]
    check, note = _fidelity_and_notes(base, name, "caption", pairs, tokens, "greedy caption tokens")
    return WorkloadResult(
        name="caption", description=f"caption one image, {tokens} tokens greedy",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["caption"],
        fidelity=[check], notes=[note],
    )


def vqa_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    name, tokens = models.vqa, config.answer_tokens
    base = BlipBaseline(models.folder("vqa"), vqa=True)
    image, question = inputs.images[0], inputs.questions[0]
    cases = {
        "baseline": (
            lambda: base.text(base.generate(image, question, max_new_tokens=tokens)), "float32 generate (model card)"
        ),
        "project": (lambda: _answer_text(image, question, name, tokens),
                    f"mmdemo API defaults: {get_model(name, 'vqa').describe()}"),
        **_ablations(config, lambda p: base.generate(image, question, max_new_tokens=tokens, precision=p)),
    }
    say(f"VQA: one question, up to {tokens} tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    pairs = list(zip(inputs.images, inputs.questions))[: config.fidelity_images]
    check, note = _fidelity_and_notes(base, name, "vqa", pairs, tokens, "greedy answer tokens")
    return WorkloadResult(
        name="vqa", description=f"answer one question (up to {tokens} tokens)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["vqa"],
        fidelity=[check], notes=[note, f"question: {question!r}"],
    )
