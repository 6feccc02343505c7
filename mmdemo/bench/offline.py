"""The offline real-photo preset's workloads (``offline-conse``) and their runtime peers.

The preset's models are real pretrained weights from pip packages (no stand-ins): an ImageNet
classifier (EfficientNet-Lite0, timm) and a sentence encoder (all-MiniLM-L6-v2), see
:mod:`mmdemo.backends.conse_backend`. Its speech model is faster-whisper, which already runs on a
runtime (CTranslate2), so it has no peers here.

- ``offline-image``: ConSE image vectors. Baseline: the timm model card (its transform, the
  classifier on one image per call, softmax), then the ConSE mix; project:
  :func:`mmdemo.encoders.embed_images`; peers: :class:`~mmdemo.runtimes.towers.ClassifierTower` (what
  the preset's own OpenVINO runtime converts too) in the spec's batches.
- ``offline-text``: sentence vectors. Baseline: all-MiniLM-L6-v2's model card code (tokenizer,
  model, mean over the mask, L2 norm), one prompt per call; project:
  :func:`mmdemo.encoders.embed_texts`; peers: :class:`~mmdemo.runtimes.towers.SentenceTower` in the
  spec's batches.

Fidelity against float32 torch: for the classifier its logits (centred cosine, relative error)
and ImageNet top-1 agreement on the photo-like textures and world pictures; for the sentence
encoder the centred cosine and relative error of the prompts' vectors and the zero-shot top-1 of
float32's image vectors over the label bank embedded by the peer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mmdemo.backends import conse_backend
from mmdemo.bench.config import MIN_CENTRED_COSINE, MIN_TOP1_AGREEMENT, BenchConfig
from mmdemo.bench.fidelity import Fidelity, centred_cosine, mean_cosine, relative_error, relative_error_bar, top1_agreement
from mmdemo.bench.inputs import BenchInputs
from mmdemo.bench.models import BenchModels
from mmdemo.bench.peer_sets import PeerSet, convert_all
from mmdemo.bench.results import RuntimeResult, WorkloadResult
from mmdemo.bench.runtimes import DESCRIPTIONS
from mmdemo.bench.timing import interleave
from mmdemo.classify import DEFAULT_TEMPLATE
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.loading import get_model
from mmdemo.registry import OFFLINE_IMAGE_TEXT
from mmdemo.runtimes.towers import ClassifierTower, SentenceTower

Say = Callable[[str], None]


def _pixels(loaded, images: list) -> torch.Tensor:
    return torch.stack([loaded.processor(image.convert("RGB")) for image in images])


def _tokens(loaded, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = loaded.tokenizer(texts, padding=True, truncation=True, max_length=conse_backend.TEXT_MAX_LENGTH,
                               return_tensors="pt")
    return encoded["input_ids"], encoded["attention_mask"]


def _in_batches(run: Callable[..., torch.Tensor], make: Callable[[list], tuple], items: list, size: int) -> torch.Tensor:
    return torch.cat([run(*make(items[i : i + size])) for i in range(0, len(items), size)])


def _conse(loaded, logits: torch.Tensor) -> torch.Tensor:
    model = loaded.model
    return conse_backend.conse_vectors(logits.float().softmax(dim=-1), model.class_vectors, model.config.top_k)


def offline_image_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    images = inputs.images[: config.images]
    # float32 torch modules (the preset's only policy): the baseline calls them directly; without the
    # preset's packages this raises ModelUnavailableError with the pip line
    loaded = get_model(OFFLINE_IMAGE_TEXT, "image-text")
    classifier, size = loaded.model.classifier, loaded.spec.batch_size

    def baseline(pictures: list) -> torch.Tensor:
        with torch.no_grad():
            logits = torch.cat([classifier(_pixels(loaded, [image])) for image in pictures])
        return _conse(loaded, logits)

    cases = {
        "baseline": (lambda: baseline(images), "timm model card: float32, one image per call, then the ConSE mix"),
        "project": (lambda: embed_images(images, model=OFFLINE_IMAGE_TEXT, use_cache=False).embeddings,
                    f"mmdemo API defaults: {loaded.describe()}, batches of {size}"),
    }
    peers: dict[str, PeerSet] = {}
    if config.runtimes:
        example = (_pixels(loaded, images[:size]),)
        peers = convert_all(config.runtimes, lambda: {"classifier": (ClassifierTower(classifier).eval(), example)}, say)
        cases.update({peer: (lambda run=s.runs["classifier"]: _conse(loaded, _in_batches(
            run, lambda part: (_pixels(loaded, part),), images, size)), DESCRIPTIONS[peer] + f", batches of {size}")
            for peer, s in peers.items() if s.ok})
    say(f"offline image embedding: {len(images)} images, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    checked = [*inputs.textures[: config.fidelity_images * 2], *inputs.images[: config.fidelity_images]]
    with torch.no_grad():
        reference = _in_batches(lambda x: classifier(x), lambda part: (_pixels(loaded, part),), checked, size)
    project = F.normalize(timed.outputs["project"].float(), dim=-1)
    base_vectors = F.normalize(timed.outputs["baseline"].float(), dim=-1)
    for peer_set in peers.values():
        if peer_set.ok:
            logits = _in_batches(peer_set.runs["classifier"], lambda part: (_pixels(loaded, part),), checked, size)
            peer_set.result.fidelity = _classifier_checks(reference, logits)
    return WorkloadResult(
        name="offline-image", description=f"embed {len(images)} images (offline preset: ConSE, EfficientNet-Lite0)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=None,
        fidelity=[mean_cosine(base_vectors, project), centred_cosine(base_vectors, project)],
        notes=[f"real pretrained weights (pip packages); classifier checks on {len(checked)} pictures "
               "(photo-like textures and world pictures)"],
        runtimes=[peer_set.result for peer_set in peers.values()],
    )


def _classifier_checks(reference: torch.Tensor, candidate: torch.Tensor) -> list[Fidelity]:
    bar = MIN_CENTRED_COSINE
    same = (reference.argmax(dim=-1) == candidate.argmax(dim=-1)).float()
    return [
        _named(centred_cosine(reference, candidate, threshold=bar), "ImageNet logits centred cosine"),
        _named(relative_error(reference, candidate, threshold=relative_error_bar(bar)), "ImageNet logits relative error"),
        Fidelity("ImageNet top-1 agreement", float(same.mean()), MIN_TOP1_AGREEMENT, len(same),
                 f"float32 picked {len(set(reference.argmax(dim=-1).tolist()))} distinct classes"),
    ]


def _named(check: Fidelity, metric: str) -> Fidelity:
    check.metric = metric
    return check


def offline_text_workload(config: BenchConfig, models: BenchModels, inputs: BenchInputs, say: Say) -> WorkloadResult:
    prompts = inputs.prompts[: config.texts]
    loaded = get_model(OFFLINE_IMAGE_TEXT, "image-text")
    encoder, size = loaded.model.text_encoder, loaded.spec.batch_size
    reference_tower = SentenceTower(encoder).eval()

    def baseline(texts: list[str]) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([reference_tower(*_tokens(loaded, [text])) for text in texts])

    cases = {
        "baseline": (lambda: baseline(prompts), "all-MiniLM-L6-v2 model card: float32, one prompt per call"),
        "project": (lambda: embed_texts(prompts, model=OFFLINE_IMAGE_TEXT, use_cache=False).embeddings,
                    f"mmdemo API defaults: {loaded.describe()}, batches of {size}, padded to the longest"),
    }
    peers: dict[str, PeerSet] = {}
    if config.runtimes:
        example = _tokens(loaded, prompts[:size])
        peers = convert_all(config.runtimes, lambda: {"sentence": (SentenceTower(encoder).eval(), example)}, say)
        cases.update({peer: (lambda run=s.runs["sentence"]: _in_batches(run, lambda part: _tokens(loaded, part), prompts, size),
                             DESCRIPTIONS[peer] + f", batches of {size}, padded to the longest")
                      for peer, s in peers.items() if s.ok})
    say(f"offline text embedding: {len(prompts)} prompts, {len(cases)} cases x {config.repeats} rounds")
    timed = interleave({k: fn for k, (fn, _) in cases.items()}, config.repeats, progress=say)
    reference = timed.outputs["baseline"]
    labels = [DEFAULT_TEMPLATE.format(label) for label in inputs.label_bank]
    with torch.no_grad():
        ref_labels = _in_batches(reference_tower, lambda part: _tokens(loaded, part), labels, size)
        pictures = [*inputs.textures[: config.fidelity_images * 2], *inputs.images[: config.fidelity_images]]
        image_vectors = _conse(loaded, _in_batches(lambda x: loaded.model.classifier(x),
                                                   lambda part: (_pixels(loaded, part),), pictures, size))
    results: list[RuntimeResult] = []
    for peer, peer_set in peers.items():
        if peer_set.ok:
            run = peer_set.runs["sentence"]
            candidate = timed.outputs[peer]
            peer_labels = _in_batches(run, lambda part: _tokens(loaded, part), labels, size)
            peer_set.result.fidelity = _sentence_checks(reference, candidate) + [
                top1_agreement((image_vectors, ref_labels), (image_vectors, peer_labels))]
        results.append(peer_set.result)
    project = timed.outputs["project"]
    return WorkloadResult(
        name="offline-text", description=f"embed {len(prompts)} short prompts (offline preset: all-MiniLM-L6-v2)",
        cases={k: d for k, (_, d) in cases.items()}, timings=timed.timings, target=None,
        fidelity=_sentence_checks(reference, project),
        notes=["real pretrained weights (pip packages); zero-shot check: float32 ConSE image vectors over the "
               f"{len(labels)}-label bank"],
        runtimes=results,
    )


def _sentence_checks(reference: torch.Tensor, candidate: torch.Tensor) -> list[Fidelity]:
    bar = MIN_CENTRED_COSINE
    return [mean_cosine(reference, candidate), centred_cosine(reference, candidate, threshold=bar),
            relative_error(reference, candidate, threshold=relative_error_bar(bar))]
