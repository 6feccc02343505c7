"""Generation workloads: a greedy caption and a VQA answer for one image.

Baseline: the model card's float32 ``model.generate`` (same number of new tokens as the project).
Project: :func:`mmdemo.generate.caption` / :func:`mmdemo.generate.answer` with their defaults.

Fidelity is checked on models whose output depends on the image, never on the random stand-in
(its decoder's top-1 margins are hundredths of a nat and it mostly ignores the image, so
"identical tokens" there proves nothing): the stand-in with its logits sharpened
(:func:`~mmdemo.bench.models.sharpen_logits`) and the bundled model trained on the shapes world.
On each, float32's greedy tokens are teacher-forced through float32 and through the project's
model (the very object the API runs, with its speed-ups: ``get_model``), and the checks are the
largest per-step log-probability error, top-1 agreement at clear-margin steps, identical greedy
tokens (reported), and how much float32 itself changes when the image changes. Each speed-up the
backend keeps off by default (its ``OFF_BY_DEFAULT``) is checked the same way on top of the
project's, so the report shows why it is off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from PIL import Image

from mmdemo.backends import backend_module
from mmdemo.backends.base import LoadedModel
from mmdemo.bench.baselines import BlipBaseline
from mmdemo.bench.blip_peers import WorkloadPeers, workload_peers
from mmdemo.bench.config import CLEAR_MARGIN, TARGETS, BenchConfig, centred_cosine_bar
from mmdemo.bench.fidelity import (
    Fidelity,
    centred_cosine,
    clear_margin_agreement,
    generation_input_dependence,
    identical_sequences,
    max_logprob_error,
)
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import SHARPEN_FACTOR, BenchModels, sharpened_folder
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.teacher_forcing import blip_step_logprobs
from mmdemo.bench.timing import interleave
from mmdemo.errors import MediaError
from mmdemo.generate import DecodingConfig, answer, caption
from mmdemo.loading import get_model
from mmdemo.registry import ModelSpec, get_model_spec

Say = Callable[[str], None]
BUNDLED = {"caption": "bundled-caption", "vqa": "bundled-vqa"}  # trained models whose output depends on the image
ABLATION_PRECISIONS = {
    "bf16 autocast": ("autocast", "bfloat16 autocast over the whole generate"),
    "bf16 weights": ("bf16-weights", "every weight cast to bfloat16"),
    "int8 dynamic": ("int8", "every Linear (vision and text) dynamically quantised to int8"),
}


def project_tokens(model: str | ModelSpec, role: str, image: Image.Image, question: str | None,
                   max_new_tokens: int, loaded: LoadedModel | None = None) -> list[int]:
    """Greedy token ids from the model the API runs for ``model`` (with its speed-ups and dtype),
    or from ``loaded``."""
    loaded = loaded or get_model(model, role)
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


def fidelity_specs(config: BenchConfig, models: BenchModels, role: str) -> dict[str, ModelSpec]:
    """Label -> spec of each model the generation checks run on: the stand-in with sharpened
    logits and the bundled model, both under the stand-in's policy (same backend, dtype and
    speed-ups as the pretrained model it stands for)."""
    stand_in = models.spec(role)
    sharp = sharpened_folder(config, models.folder(role), vqa=role == "vqa")
    bundled = get_model_spec(BUNDLED[role])
    return {
        f"{stand_in.name}, logits x{SHARPEN_FACTOR:g}": replace(
            stand_in, name=f"{stand_in.name}-sharpened", checkpoint=str(sharp)),
        f"{bundled.name} (trained)": replace(stand_in, name=f"bench-{bundled.name}", checkpoint=bundled.checkpoint),
    }


def _labelled(label: str, checks: list[Fidelity]) -> list[Fidelity]:
    return [replace(check, metric=f"{label}: {check.metric}") for check in checks]


def _vision_tokens(model: torch.nn.Module, processor, images: list) -> torch.Tensor:
    """The vision tower's output tokens of each image, flattened: [N, tokens * width]."""
    rows = []
    with torch.inference_mode():
        for image in images:
            pixels = processor(images=image, return_tensors="pt")["pixel_values"]
            rows.append(model.vision_model(pixel_values=pixels)[0].float().reshape(1, -1))
    return torch.cat(rows)


def _path_checks(
    reference: list[torch.Tensor], ref_vision: torch.Tensor, loaded: LoadedModel, processor, pairs: list, tokens: list,
    textures: list,
) -> list[Fidelity]:
    candidate = [blip_step_logprobs(loaded.model, processor, image, ids, question)
                 for (image, question), ids in zip(pairs, tokens)]
    targets = [ids[1:] for ids in tokens]
    checks = [max_logprob_error(reference, candidate, targets), clear_margin_agreement(reference, candidate)]
    if len(textures) > 1:  # the vision tower alone, on pictures it tells apart (as the embedding checks)
        vision = _vision_tokens(loaded.model, processor, textures)
        bar = centred_cosine_bar(loaded.model.config.vision_config.num_hidden_layers)
        checks.append(replace(centred_cosine(ref_vision, vision, threshold=bar),
                              metric="vision tokens centred cosine (textures)"))
    return checks


def generation_fidelity(
    spec: ModelSpec, role: str, pairs: list, max_new_tokens: int, textures: list
) -> tuple[Fidelity, list[Fidelity], dict[str, list[Fidelity]]]:
    """On ``spec``: how much float32 depends on the image; the project path's checks (log-prob
    error, clear-margin agreement, the vision tokens' centred cosine, identical greedy tokens);
    and the same checks of each speed-up the policy did not give (off by default) on top of it."""
    base = BlipBaseline(spec.local_folder, vqa=role == "vqa")
    tokens = [base.generate(image, question, max_new_tokens=max_new_tokens) for image, question in pairs]
    reference = [blip_step_logprobs(base.variants.model, base.processor, image, ids, question)
                 for (image, question), ids in zip(pairs, tokens)]
    others = [pairs[(i + 1) % len(pairs)][0] for i in range(len(pairs))]
    swapped = [blip_step_logprobs(base.variants.model, base.processor, other, ids, question)
               for other, (_, question), ids in zip(others, pairs, tokens)]
    dependence = generation_input_dependence(reference, swapped, [ids[1:] for ids in tokens])
    ref_vision = _vision_tokens(base.variants.model, base.processor, textures) if len(textures) > 1 else None
    project = get_model(spec, role)
    greedy = [project_tokens(spec, role, image, question, max_new_tokens, project) for image, question in pairs]
    checks = [*_path_checks(reference, ref_vision, project, base.processor, pairs, tokens, textures),
              identical_sequences(tokens, greedy, what="greedy tokens (reported: near-ties may flip)", threshold=0.0)]
    backend = backend_module(spec.backend)
    off: dict[str, list[Fidelity]] = {}
    for name in backend.SPEEDUPS:
        if name in project.speedups:
            continue
        loaded = backend.load(spec, project.device, project.dtype, (*project.speedups, name))
        if name in loaded.speedups:  # applied here (not every speed-up applies on every machine)
            off[name] = _path_checks(reference, ref_vision, loaded, base.processor, pairs, tokens, textures)
    return dependence, checks, off


def _fidelity_and_notes(config: BenchConfig, models: BenchModels, role: str, pairs: list, tokens: int, textures: list):
    checks: list[Fidelity] = []
    off: dict[str, list[Fidelity]] = {}
    dependence: list[Fidelity] = []
    for label, spec in fidelity_specs(config, models, role).items():
        depends, project, held_back = generation_fidelity(spec, role, pairs, tokens, textures)
        dependence += _labelled(label, [depends])
        checks += _labelled(label, project)
        for name, found in held_back.items():
            off.setdefault(name, []).extend(_labelled(label, found))
    most = max(dependence, key=lambda check: check.value)
    notes = [
        f"fidelity on {len(pairs)} inputs per model, teacher-forced on float32's greedy tokens (up to {tokens}); "
        f"clear margin: float32's best token >= {CLEAR_MARGIN:g} nat above its second best; the random "
        "stand-in itself is timed only",
        *(f"{check.metric}: {check.value:.3g} ({check.detail})" for check in dependence),
        "a model whose output barely depends on the image checks the decoder's arithmetic only; the image side "
        "is checked where it does, and by the vision tokens' centred cosine",
    ]
    return [most, *checks], off, notes


def _peers(config: BenchConfig, models: BenchModels, role: str, image, question, steps: int, say: Say) -> WorkloadPeers:
    """Runtime peers (:mod:`mmdemo.bench.blip_peers`), converted from the sharpened stand-in."""
    if not config.runtimes:
        return WorkloadPeers({}, {})
    folder = sharpened_folder(config, models.folder(role), vqa=role == "vqa")
    return workload_peers(config.runtimes, folder, vqa=role == "vqa", image=image, question=question, steps=steps, say=say)


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
    peers = _peers(config, models, "caption", image, None, len(base.generate(image, max_new_tokens=tokens)) - 1, say)
    cases.update(peers.cases)
    say(f"captioning: one image, {tokens} greedy tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    pairs = [(picture, None) for picture in inputs.images[: config.fidelity_images]]
    checks, off, notes = _fidelity_and_notes(config, models, "caption", pairs, tokens, inputs.textures[: config.fidelity_images])
    return WorkloadResult(
        name="caption", description=f"caption one image, {tokens} tokens greedy",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["caption"],
        fidelity=checks, off_by_default=off, notes=notes,
        runtimes=peers.results(pairs, inputs.textures[: config.fidelity_images], tokens),
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
    steps = len(base.generate(image, question, max_new_tokens=tokens)) - 1
    peers = _peers(config, models, "vqa", image, question, steps, say)
    cases.update(peers.cases)
    say(f"VQA: one question, up to {tokens} tokens, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    pairs = list(zip(inputs.images, inputs.questions))[: config.fidelity_images]
    checks, off, notes = _fidelity_and_notes(config, models, "vqa", pairs, tokens, inputs.textures[: config.fidelity_images])
    return WorkloadResult(
        name="vqa", description=f"answer one question (up to {tokens} tokens)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=TARGETS["vqa"],
        fidelity=checks, off_by_default=off, notes=[*notes, f"timed question: {question!r}"],
        runtimes=peers.results(pairs, inputs.textures[: config.fidelity_images], tokens),
    )
