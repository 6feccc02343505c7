"""Generation workloads: a greedy caption and a VQA answer for one image.

Baseline: the model card's float32 ``model.generate`` (same number of new tokens as the project).
Project: :func:`mmdemo.generate.caption` / :func:`mmdemo.generate.answer` with their defaults.
Fidelity compares the decoded greedy outputs; the bench tokenizers are word-level, so identical
text means identical tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from mmdemo.bench.baselines import BlipBaseline
from mmdemo.bench.config import TARGETS, BenchConfig
from mmdemo.bench.fidelity import identical_sequences
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import BenchModels
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.timing import interleave
from mmdemo.generate import DecodingConfig, answer, caption
from mmdemo.loading import get_model

Say = Callable[[str], None]
ABLATION_PRECISIONS = {
    "bf16 autocast": ("autocast", "bfloat16 autocast over the whole generate"),
    "bf16 weights": ("bf16-weights", "every weight cast to bfloat16"),
    "int8 dynamic": ("int8", "every Linear (vision and text) dynamically quantised to int8"),
}


def _project_description(name: str, role: str) -> str:
    return f"mmdemo API defaults: {get_model(name, role).describe()}"


def caption_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    name, tokens = models.caption, config.caption_tokens
    base = BlipBaseline(models.folder("caption"), vqa=False)
    image = inputs.images[0]
    decoding = DecodingConfig(max_new_tokens=tokens)
    cases = {
        "baseline": (lambda: base.text(base.generate(image, max_new_tokens=tokens)), "float32 generate (model card)"),
        "project": (lambda: caption(image, model=name, decoding=decoding).best, ""),
    }
    if config.ablations:
        for label, (precision, what) in ABLATION_PRECISIONS.items():
            cases[label] = (lambda p=precision: base.text(base.generate(image, max_new_tokens=tokens, precision=p)), what)
    get_model(name, "caption")
    cases["project"] = (cases["project"][0], _project_description(name, "caption"))
    say(f"captioning: one image, {tokens} greedy tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    images = inputs.images[: config.fidelity_images]
    reference_ids = [base.generate(picture, max_new_tokens=tokens) for picture in images]
    reference = [base.text(ids) for ids in reference_ids]
    project = [caption(picture, model=name, decoding=decoding).best for picture in images]
    new_tokens = sum(len(ids) - 1 for ids in reference_ids) / len(reference_ids)
    return WorkloadResult(
        name="caption", description=f"caption one image, {tokens} tokens greedy",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["caption"],
        fidelity=[identical_sequences(reference, project, what="greedy captions")],
        notes=[f"float32 generated {new_tokens:.1f} new tokens per caption on average"],
    )


def vqa_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    name, tokens = models.vqa, config.answer_tokens
    base = BlipBaseline(models.folder("vqa"), vqa=True)
    image, question = inputs.images[0], inputs.questions[0]
    cases = {
        "baseline": (
            lambda: base.text(base.generate(image, question, max_new_tokens=tokens)), "float32 generate (model card)"
        ),
        "project": (lambda: answer(image, question, model=name, max_new_tokens=tokens).answer, ""),
    }
    if config.ablations:
        for label, (precision, what) in ABLATION_PRECISIONS.items():
            cases[label] = (
                lambda p=precision: base.text(base.generate(image, question, max_new_tokens=tokens, precision=p)), what
            )
    get_model(name, "vqa")
    cases["project"] = (cases["project"][0], _project_description(name, "vqa"))
    say(f"VQA: one question, up to {tokens} tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    pairs = list(zip(inputs.images, inputs.questions))[: config.fidelity_images]
    reference = [base.text(base.generate(picture, q, max_new_tokens=tokens)) for picture, q in pairs]
    project = [answer(picture, q, model=name, max_new_tokens=tokens).answer for picture, q in pairs]
    return WorkloadResult(
        name="vqa", description=f"answer one question (up to {tokens} tokens)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["vqa"],
        fidelity=[identical_sequences(reference, project, what="greedy answers")],
        notes=[f"question: {question!r}"],
    )
