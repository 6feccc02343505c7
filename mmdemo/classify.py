"""Zero-shot image classification with an image-text model (CLIP's prompt-ensemble-free recipe).

How scores become probabilities is the model's own (its backend's ``ACTIVATION``): CLIP-style
models take a softmax over the labels (they sum to 1); SigLIP takes an independent sigmoid per
label, ``sigmoid(scale * cos + bias)`` (each in [0, 1], no sum to 1: several labels, or none, may
fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mmdemo.backends import backend_module
from mmdemo.backends.base import known_words, unknown_labels
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.errors import MediaError
from mmdemo.loading import get_model
from mmdemo.media import ImageInput, MediaLimits, clean_text
from mmdemo.registry import resolve_spec

DEFAULT_TEMPLATE = "a photo of a {}."
MAX_LABELS = 100


ACTIVATIONS = ("softmax", "sigmoid")


@dataclass
class ZeroShotOutput:
    """Label probabilities, in the order the labels were given, and the best label.

    Attributes:
        labels: the labels, as given (cleaned).
        probabilities: one per label: a softmax over the labels (``activation="softmax"``, they sum
            to 1) or each label's own sigmoid probability (``"sigmoid"``, SigLIP).
        model: the registry name (or checkpoint reference) of the model.
        template: the prompt template used.
        activation: ``"softmax"`` or ``"sigmoid"`` (see :data:`ACTIVATIONS`).
    """

    labels: list[str]
    probabilities: list[float]
    model: str
    template: str
    activation: str = "softmax"

    @property
    def top_label(self) -> str:
        return self.labels[max(range(len(self.labels)), key=self.probabilities.__getitem__)]

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(zip(self.labels, self.probabilities), key=lambda pair: -pair[1])


def parse_labels(labels: str | Sequence[str]) -> list[str]:
    """Labels from a list or a comma/newline-separated string; blanks and duplicates dropped."""
    raw = labels.replace("\n", ",").split(",") if isinstance(labels, str) else list(labels)
    cleaned = list(dict.fromkeys(" ".join(str(label).split()) for label in raw))
    cleaned = [label for label in cleaned if label]
    if len(cleaned) < 2:
        raise MediaError("Give at least two distinct labels, separated by commas")
    if len(cleaned) > MAX_LABELS:
        raise MediaError(f"Give at most {MAX_LABELS} labels, not {len(cleaned)}")
    return cleaned


def default_template(model: str | None = None) -> str:
    """The prompt template a model was trained with: ``"a {}."`` for the bundled CLIP (it learnt
    short captions), else its backend's (``"a photo of a {}."`` for CLIP, ``"This is a photo of
    {}."`` for SigLIP); None: the active image-text model."""
    spec = resolve_spec(model, "image-text")
    if spec.preset == "bundled":
        return "a {}."
    return backend_module(spec.backend).DEFAULT_TEMPLATE


def zero_shot_classify(
    image: ImageInput,
    labels: str | Sequence[str],
    template: str | None = None,
    *,
    model: str | None = None,
    limits: MediaLimits | None = None,
) -> ZeroShotOutput:
    """Probabilities that ``image`` shows each label, from the model's scaled cosine similarities:
    a softmax over the labels for CLIP-style models, an independent sigmoid per label for SigLIP
    (``ZeroShotOutput.activation`` says which).

    ``template`` turns a label into a prompt and must contain ``{}`` once (e.g. ``"a photo of a {}."``);
    None: the model's own (``"a photo of a {}."`` for CLIP, ``"This is a photo of {}."`` for SigLIP).
    """
    names = parse_labels(labels)
    loaded = get_model(model, "image-text")
    backend = backend_module(loaded.spec.backend)
    if template is None:
        template = default_template(loaded.spec.name)
    template = clean_text(template, limits, what="prompt template")  # its own limit, named as a template
    if template.count("{}") != 1:
        raise MediaError(f"The template must contain '{{}}' exactly once, got {template!r}")
    unreadable = unknown_labels(loaded, names)
    if unreadable:
        raise MediaError(
            f"Model {loaded.spec.name!r} knows no word of the label(s) {', '.join(map(repr, unreadable))}: "
            "every word is outside its vocabulary, so it would score them all alike. "
            f"Use words it knows (e.g. {', '.join(known_words(loaded))}) or another model"
        )
    image_vector = embed_images([image], model=loaded.spec.name, limits=limits).embeddings  # [1, D]
    prompts = [template.format(name) for name in names]
    text_vectors = embed_texts(prompts, model=loaded.spec.name, limits=limits).embeddings  # [L, D]
    logits = backend.logit_scale(loaded) * (image_vector @ text_vectors.T)[0]  # [L]
    activation = backend.ACTIVATION
    if activation == "sigmoid":
        probabilities = torch.sigmoid(logits + backend.logit_bias(loaded)).tolist()
    else:
        probabilities = torch.softmax(logits, dim=0).tolist()
    return ZeroShotOutput(names, probabilities, loaded.spec.name, template, activation)
