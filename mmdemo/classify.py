"""Zero-shot image classification with an image-text model (CLIP's prompt-ensemble-free recipe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mmdemo.backends import backend_module
from mmdemo.backends.base import known_words, unknown_labels
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.errors import MediaError
from mmdemo.loading import get_model
from mmdemo.media import ImageInput, MediaLimits

DEFAULT_TEMPLATE = "a photo of a {}."
MAX_LABELS = 100


@dataclass
class ZeroShotOutput:
    """Label probabilities, in the order the labels were given, and the best label."""

    labels: list[str]
    probabilities: list[float]
    model: str
    template: str

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


def zero_shot_classify(
    image: ImageInput,
    labels: str | Sequence[str],
    template: str = DEFAULT_TEMPLATE,
    *,
    model: str | None = None,
    limits: MediaLimits | None = None,
) -> ZeroShotOutput:
    """Probabilities that ``image`` shows each label: softmax of CLIP's scaled cosine similarities.

    ``template`` turns a label into a prompt and must contain ``{}`` once (e.g. ``"a photo of a {}."``).
    """
    names = parse_labels(labels)
    if template.count("{}") != 1:
        raise MediaError(f"The template must contain '{{}}' exactly once, got {template!r}")
    loaded = get_model(model, "image-text")
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
    scale = backend_module(loaded.spec.backend).logit_scale(loaded)
    logits = scale * (image_vector @ text_vectors.T)[0]  # [L]
    probabilities = torch.softmax(logits, dim=0).tolist()
    return ZeroShotOutput(names, probabilities, loaded.spec.name, template)
