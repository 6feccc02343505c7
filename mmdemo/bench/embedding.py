"""Embedding workloads: images, short prompts and a 10 s audio clip.

Baseline: the model card's float32 code, one input per call (prompts padded to 77 tokens).
Project: mmdemo's public API with its defaults (``embed_images`` / ``embed_texts`` /
``embed_audio``), with ``use_cache=False`` so every timed run computes every vector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from mmdemo.backends import backend_module
from mmdemo.bench.audio_peers import AudioTower, convert_audio_peers, embedding_fidelity, timed_cases
from mmdemo.bench.baselines import ClipBaseline, Wav2Vec2Baseline
from mmdemo.bench.ceiling import tower_products
from mmdemo.bench.config import MIN_CENTRED_COSINE, TARGETS, BenchConfig, centred_cosine_bar
from mmdemo.bench.fidelity import (
    Fidelity,
    centred_cosine,
    input_spread,
    mean_cosine,
    relative_error,
    relative_error_bar,
    top1_agreement,
)
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import BenchModels, clip_l14_folder
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.runtimes import DESCRIPTIONS, ImageTower, RuntimeResult, TextTower, batched, convert_peer
from mmdemo.bench.timing import interleave
from mmdemo.classify import DEFAULT_TEMPLATE
from mmdemo.encoders import embed_audio, embed_images, embed_texts
from mmdemo.loading import SETTINGS, get_model
from mmdemo.registry import ModelSpec, register_model
from mmdemo.runtimes import OPENVINO

Say = Callable[[str], None]


def _describe_project(name: str, role: str) -> str:
    loaded = get_model(name, role)
    return f"mmdemo API defaults: {loaded.describe()}, batches of {loaded.spec.batch_size}"


def _on_torch(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """``fn`` run with mmdemo's runtime setting at ``torch`` (then restored)."""
    def run() -> torch.Tensor:
        before = SETTINGS.runtime
        SETTINGS.runtime = "torch"
        try:
            return fn()
        finally:
            SETTINGS.runtime = before
    return run


def _torch_path_case(name: str, embed: Callable[[], torch.Tensor]) -> dict[str, tuple[Callable[[], torch.Tensor], str]]:
    """Where mmdemo's default runs a runtime (OpenVINO), its own torch path timed beside it."""
    if OPENVINO not in get_model(name, "image-text").speedups:
        return {}
    describe = _on_torch(lambda: _describe_project(name, "image-text"))()  # loads it outside the timed runs
    return {"mmdemo, torch runtime": (_on_torch(embed), f"MMDEMO_RUNTIME=torch: {describe.removeprefix('mmdemo API defaults: ')}")}


def image_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    images = inputs.images[: config.images]
    name = models.image_text
    base = ClipBaseline(models.folder("image-text"))
    cases = {
        "baseline": (lambda: base.image_features(images), "float32, one image per call (model card)"),
        "project": (lambda: embed_images(images, model=name, use_cache=False).embeddings, ""),
    }
    if config.ablations:
        cases["float32, batch 16"] = (lambda: base.image_features(images, batch_size=16), "batching alone")
        cases["float32, inference_mode"] = (
            lambda: base.image_features(images, grad_mode="inference_mode"), "inference_mode instead of no_grad"
        )
        cases["bf16 autocast, one per call"] = (
            lambda: base.image_features(images, precision="autocast"), "bfloat16 autocast alone"
        )
        cases["bf16 weights, batch 16"] = (
            lambda: base.image_features(images, batch_size=16, precision="bf16-weights"),
            "weights cast to bfloat16 instead of autocast",
        )
    loaded = get_model(name, "image-text")  # load outside the timed runs
    cases["project"] = (cases["project"][0], _describe_project(name, "image-text"))
    cases.update(_torch_path_case(name, lambda: embed_images(images, model=name, use_cache=False).embeddings))
    vision_config = getattr(loaded.model.config, "vision_config", None)
    products = vision_config and tower_products(vision_config, len(images), loaded.spec.batch_size)
    if products:
        cases["ceiling: matrix products alone"] = (
            products,
            f"only the tower's {6 * vision_config.num_hidden_layers} products as packed torch bfloat16 linears per batch "
            "(same shapes and batches), nothing else: the most a torch path with these products reaches here",
        )
    peers = _image_peers(config, base, images, loaded.spec.batch_size, say)
    cases.update({peer: (fn, DESCRIPTIONS[peer] + f", batches of {loaded.spec.batch_size}")
                  for peer, (fn, _, _) in peers.items() if fn})
    say(f"image embedding: {len(images)} images, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    textures = inputs.textures[: len(images)]
    checks, off, notes = image_fidelity(base, models.spec("image-text"), textures, inputs)
    return WorkloadResult(
        name="image", description=f"embed {len(images)} images", cases={k: d for k, (_, d) in cases.items()},
        timings=timed.timings, target=TARGETS["image"], fidelity=checks, off_by_default=off,
        notes=[*notes, _timed_inputs_note(timed.outputs["baseline"], timed.outputs["project"])],
        runtimes=_image_peer_fidelity(base, peers, textures, inputs, loaded.model.config.vision_config.num_hidden_layers),
    )


def _pixel_batches(base: ClipBaseline, images: list, size: int) -> Callable[[], list[tuple[torch.Tensor, ...]]]:
    return lambda: [(base.processor(images=images[i : i + size], return_tensors="pt")["pixel_values"],)
                    for i in range(0, len(images), size)]


def _token_batches(base: ClipBaseline, prompts: list[str], size: int) -> Callable[[], list[tuple[torch.Tensor, ...]]]:
    def make() -> list[tuple[torch.Tensor, ...]]:
        batches = []
        for i in range(0, len(prompts), size):
            tokens = base.processor(text=prompts[i : i + size], padding="longest", truncation=True, max_length=77,
                                    return_tensors="pt")
            batches.append((tokens["input_ids"], tokens["attention_mask"]))
        return batches
    return make


# peer -> (timed case or None, its result, its converted run or None)
Peers = dict[str, tuple[Callable[[], torch.Tensor] | None, RuntimeResult, Callable[..., torch.Tensor] | None]]


def _convert_peers(config: BenchConfig, tower: torch.nn.Module, example: tuple, say: Say) -> dict:
    converted = {}
    for peer in config.runtimes:
        say(f"runtime peer {peer}: converting the {type(tower).__name__}")
        converted[peer] = convert_peer(peer, tower, example)
        say(f"runtime peer {peer}: {converted[peer].result.status} {converted[peer].result.reason}")
    return converted


def _image_peers(config: BenchConfig, base: ClipBaseline, images: list, size: int, say: Say) -> Peers:
    if not config.runtimes:
        return {}
    tower = ImageTower(base.variants.model)
    converted = _convert_peers(config, tower, _pixel_batches(base, images, size)()[0], say)
    return {peer: ((batched(c.run, _pixel_batches(base, images, size)) if c.run else None), c.result, c.run)
            for peer, c in converted.items()}


def _image_peer_fidelity(base: ClipBaseline, peers: Peers, textures: list, inputs: BenchInputs,
                         layers: int) -> list[RuntimeResult]:
    """Each converted image peer against float32 torch on the photo-like pictures; zero-shot labels
    from float32 torch's text tower, so the check is the image tower's alone."""
    if not peers:
        return []
    bar = centred_cosine_bar(layers)
    reference = base.image_features(textures, batch_size=8)
    prompts = [DEFAULT_TEMPLATE.format(label) for label in inputs.label_bank]
    labels = base.text_features(prompts, batch_size=64, padding="longest")
    results = []
    for _, result, run in peers.values():
        if run is not None:
            features = batched(run, _pixel_batches(base, textures, 8))()
            result.fidelity = _image_checks((reference, labels), (features, labels), bar)
        results.append(result)
    return results


def _timed_inputs_note(reference: torch.Tensor, project: torch.Tensor) -> str:
    if len(reference) < 2:
        return "timed inputs: one image"
    spread, centred = input_spread(reference), centred_cosine(reference, project)
    return (f"on the timed shapes-world pictures (float32 mean pairwise cosine {spread.value:.4f}: they look alike "
            f"to random weights, so they are not the fidelity inputs) the centred cosine is {centred.value:.4f}")


def _image_checks(reference: tuple, candidate: tuple, bar: float) -> list[Fidelity]:
    """(image features, label features) of float32 and of a fast path -> the embedding checks."""
    return [
        centred_cosine(reference[0], candidate[0], threshold=bar),
        relative_error(reference[0], candidate[0], threshold=relative_error_bar(bar)),
        top1_agreement(reference, candidate),
        mean_cosine(reference[0], candidate[0]),
    ]


def image_fidelity(
    base: ClipBaseline, spec: ModelSpec, images: list, inputs: BenchInputs
) -> tuple[list[Fidelity], dict[str, list[Fidelity]], list[str]]:
    """The project path's image checks against float32 on ``images`` (photo-like pictures the
    random tower tells apart; their spread is the first check), and the same for each of the
    backend's speed-ups the policy did not give this model (off by default), on top of the project's."""
    loaded = get_model(spec.name, "image-text")
    layers = loaded.model.config.vision_config.num_hidden_layers
    bar = centred_cosine_bar(layers)
    reference = base.image_features(images, batch_size=8)
    project = embed_images(images, model=spec.name, use_cache=False).embeddings
    prompts = [DEFAULT_TEMPLATE.format(label) for label in inputs.label_bank]
    ref_labels = base.text_features(prompts, batch_size=64, padding="longest")  # float32; causal: padding is never read
    labels = embed_texts(prompts, model=spec.name, use_cache=False).embeddings
    checks = [input_spread(reference), *_image_checks((reference, ref_labels), (project, labels), bar)]
    backend = backend_module(spec.backend)
    off = {}
    for name in backend.SPEEDUPS:
        if name in loaded.speedups:
            continue
        fast = backend.load(spec, loaded.device, loaded.dtype, (*loaded.speedups, name))
        if name not in fast.speedups:  # not available here (no oneDNN packing, another device)
            continue
        features = torch.cat([backend.encode_images(fast, images[i : i + spec.batch_size])
                              for i in range(0, len(images), spec.batch_size)])
        off[name] = _image_checks((reference, ref_labels), (features, labels), bar)
    notes = [
        f"fidelity on {len(images)} photo-like pictures (inputs.textures); zero-shot over a bank of {len(prompts)} "
        f"labels with the template {DEFAULT_TEMPLATE!r}; centred-cosine bar {bar:g} for a {layers}-layer image "
        f"tower; project speed-ups: {', '.join(loaded.speedups) or 'none'}",
    ]
    return checks, off, notes


def image_l14_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    """CLIP ViT-L/14 (its real config, seeded random weights) under the stand-in's policy: the image
    fast paths' fidelity on a 24-layer tower, with one timed round of ``config.l14_images`` images."""
    images = inputs.images[: config.l14_images]
    folder = clip_l14_folder(config, models.folder("image-text"))
    spec = replace(models.spec("image-text"), name="bench-clip-vit-l14", checkpoint=str(folder),
                   description="CLIP ViT-L/14 architecture with seeded random weights (benchmark)")
    register_model(spec, replace_existing=True)
    base = ClipBaseline(folder)
    get_model(spec.name, "image-text")
    cases = {
        "baseline": (lambda: base.image_features(images), "float32, one image per call (model card)"),
        "project": (lambda: embed_images(images, model=spec.name, use_cache=False).embeddings,
                    _describe_project(spec.name, "image-text")),
    }
    say(f"image embedding, ViT-L/14: {len(images)} images, one round")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, 1, warmup=0, progress=say)
    checks, off, notes = image_fidelity(base, spec, inputs.textures[: len(images)], inputs)
    return WorkloadResult(
        name="image-l14", description=f"embed {len(images)} images, CLIP ViT-L/14 (one round)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=None,
        fidelity=checks, off_by_default=off,
        notes=[*notes, _timed_inputs_note(timed.outputs["baseline"], timed.outputs["project"]),
               "one timed round, no warm-up: a fidelity check, not a timing"],
    )


def text_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    prompts = inputs.prompts[: config.texts]
    name = models.image_text
    base = ClipBaseline(models.folder("image-text"))
    cases = {
        "baseline": (lambda: base.text_features(prompts), "float32, one prompt per call, padded to 77 (model card)"),
        "project": (lambda: embed_texts(prompts, model=name, use_cache=False).embeddings, ""),
    }
    if config.ablations:
        cases["float32, pad to longest"] = (
            lambda: base.text_features(prompts, padding="longest"), "padding to the longest prompt alone"
        )
        cases["float32, batch 16, pad to longest"] = (
            lambda: base.text_features(prompts, batch_size=16, padding="longest"), "batching and padding"
        )
        cases["bf16 weights, batch 16, pad to longest"] = (
            lambda: base.text_features(prompts, batch_size=16, padding="longest", precision="bf16-weights"),
            "weights cast to bfloat16 instead of autocast",
        )
    loaded = get_model(name, "image-text")
    cases["project"] = (cases["project"][0], _describe_project(name, "image-text") + ", padded to the longest")
    cases.update(_torch_path_case(name, lambda: embed_texts(prompts, model=name, use_cache=False).embeddings))
    size = loaded.spec.batch_size
    peers = {}
    if config.runtimes:
        tower = TextTower(base.variants.model)
        converted = _convert_peers(config, tower, _token_batches(base, prompts, size)()[0], say)
        peers = {peer: ((batched(c.run, _token_batches(base, prompts, size)) if c.run else None), c.result, c.run)
                 for peer, c in converted.items()}
    cases.update({peer: (fn, DESCRIPTIONS[peer] + f", batches of {size}, padded to the longest")
                  for peer, (fn, _, _) in peers.items() if fn})
    say(f"text embedding: {len(prompts)} prompts, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    lengths = [len(ids) for ids in base.processor.tokenizer(prompts)["input_ids"]]
    return WorkloadResult(
        name="text", description=f"embed {len(prompts)} short prompts", cases={k: d for k, (_, d) in cases.items()},
        timings=timed.timings, target=TARGETS["text"],
        fidelity=[
            mean_cosine(timed.outputs["baseline"], timed.outputs["project"]),
            centred_cosine(timed.outputs["baseline"], timed.outputs["project"]),
        ],
        notes=[f"prompts are {min(lengths)}-{max(lengths)} tokens long"],
        runtimes=_text_peer_fidelity(base, peers, timed.outputs["baseline"], inputs),
    )


def _text_peer_fidelity(base: ClipBaseline, peers: Peers, reference: torch.Tensor,
                        inputs: BenchInputs) -> list[RuntimeResult]:
    """Each text peer against float32 torch: on the timed prompts (their last timed outputs against
    the baseline's), and zero-shot top-1 of float32 torch's image features over the label bank
    embedded by the peer (the text tower's part of zero-shot)."""
    if not peers:
        return []
    textures = inputs.textures[: max(2, len(inputs.textures))]
    images = base.image_features(textures, batch_size=8)
    prompts = [DEFAULT_TEMPLATE.format(label) for label in inputs.label_bank]
    labels = base.text_features(prompts, batch_size=64, padding="longest")
    bar = MIN_CENTRED_COSINE
    results = []
    for fn, result, run in peers.values():
        if run is not None:
            candidate = fn()
            peer_labels = batched(run, _token_batches(base, prompts, 64))()
            result.fidelity = [
                centred_cosine(reference, candidate, threshold=bar),
                relative_error(reference, candidate, threshold=relative_error_bar(bar)),
                top1_agreement((images, labels), (images, peer_labels)),
                mean_cosine(reference, candidate),
            ]
        results.append(result)
    return results


def audio_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    clip = inputs.clips[0]
    name = models.audio
    base = Wav2Vec2Baseline(models.folder("audio"), sample_rate=inputs.sample_rate)
    cases = {
        "baseline": (lambda: base.embed(clip), "float32, mean of last_hidden_state (model card)"),
        "project": (lambda: embed_audio([clip], model=name, use_cache=False).embeddings, ""),
    }
    if config.ablations:
        cases["bf16 autocast"] = (lambda: base.embed(clip, precision="autocast"), "autocast with transformers' conv encoder")
        cases["bf16 weights"] = (lambda: base.embed(clip, precision="bf16-weights"), "weights cast to bfloat16")
    get_model(name, "audio")
    cases["project"] = (cases["project"][0], _describe_project(name, "audio"))
    peers = {}
    if config.runtimes:  # mmdemo.bench.audio_peers
        example = base.extractor(clip, sampling_rate=inputs.sample_rate, return_tensors="pt")["input_values"]
        peers = convert_audio_peers(config.runtimes, AudioTower, base.variants.model, example, say)
        cases.update(timed_cases(peers, base.extractor, clip, inputs.sample_rate))
    seconds = len(clip) / inputs.sample_rate
    say(f"audio embedding: one {seconds:.0f} s clip, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    clips = inputs.clips[: config.fidelity_clips]
    reference = torch.cat([base.embed(c) for c in clips])
    project = embed_audio(clips, model=name, use_cache=False).embeddings
    return WorkloadResult(
        name="audio", description=f"embed one {seconds:.0f} s clip", cases={k: d for k, (_, d) in cases.items()},
        timings=timed.timings, target=TARGETS["audio"],
        fidelity=[mean_cosine(reference, project), *([centred_cosine(reference, project)] if len(clips) > 1 else [])],
        runtimes=embedding_fidelity(peers, reference, base.extractor, clips, inputs.sample_rate),
    )
