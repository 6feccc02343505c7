"""Re-ranking retrieval hits and captions with an image-text-matching model (BLIP ITM).

A dual encoder (CLIP, SigLIP) embeds images and texts apart, which is fast enough to search a
gallery; an image-text-matching model reads each (image, text) pair together (its text encoder
attends to the image), which is slower but judges the pair better. :func:`rerank` scores the pairs
of a few candidates, e.g. a search's top hits or the captions a decoder proposed, and orders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmdemo.backends import backend_module
from mmdemo.errors import MediaError
from mmdemo.loading import get_model
from mmdemo.media import ImageInput, MediaLimits, clean_text, load_image

ROLE = "image-text-match"
MAX_PAIRS = 256


@dataclass
class MatchScore:
    """One (image, text) pair's scores.

    Attributes:
        image: the image's position in the input.
        text_index: the text's position in the input.
        text: the text.
        match: the ITM head's probability that the text describes the image, in [0, 1] (what
            pairs are ranked by).
        similarity: the ITC cosine similarity of their projected embeddings, in [-1, 1].
    """

    image: int
    text_index: int
    text: str
    match: float
    similarity: float


@dataclass
class RerankOutput:
    """Every (image, text) pair's scores, best match first.

    Attributes:
        scores: one :class:`MatchScore` per pair, sorted by ``match`` (highest first; ties keep
            input order).
        model: the model that scored them.
    """

    scores: list[MatchScore]
    model: str

    def for_image(self, image: int) -> list[MatchScore]:
        """The texts ranked for one image, best first."""
        return [score for score in self.scores if score.image == image]

    @property
    def best(self) -> MatchScore:
        return self.scores[0]


def rerank(
    images: ImageInput | Sequence[ImageInput],
    texts: Sequence[str],
    *,
    model: str | None = None,
    limits: MediaLimits | None = None,
) -> RerankOutput:
    """Score every (image, text) pair with an image-text-matching model and rank them.

    Args:
        images: one image or a list (paths, bytes, PIL images or arrays).
        texts: the candidate texts (retrieval hits' captions, generated captions, labels).
        model: a registry name (``blip-itm-base-coco``), hub id or local folder of a
            ``BlipForImageTextRetrieval`` checkpoint; None: the preset's ``image-text-match``
            default (the ``pretrained`` preset has one; ``bundled`` and ``offline`` do not).
        limits: media limits.
    """
    image_list = list(images) if isinstance(images, (list, tuple)) else [images]
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise MediaError("Pass the texts as a list (wrap a single text in a list)")
    if not image_list or not texts:
        raise MediaError("Give at least one image and one text to re-rank")
    if len(image_list) * len(texts) > MAX_PAIRS:
        raise MediaError(f"At most {MAX_PAIRS} (image, text) pairs at once, not {len(image_list) * len(texts)}")
    cleaned = [clean_text(text, limits) for text in texts]
    loaded = get_model(model, ROLE)
    backend = backend_module(loaded.spec.backend)
    scores = []
    for position, image in enumerate(image_list):
        pairs = backend.score_pairs(loaded, load_image(image, limits), cleaned)
        scores.extend(
            MatchScore(position, index, text, pair.match, pair.similarity)
            for index, (text, pair) in enumerate(zip(cleaned, pairs))
        )
    scores.sort(key=lambda score: -score.match)
    return RerankOutput(scores, loaded.spec.name)
