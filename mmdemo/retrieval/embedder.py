"""The seam between the index and the encoders: modality -> function that embeds a list of inputs.

The default embedder calls :mod:`mmdemo.encoders` (and so goes through the on-disk embedding cache);
tests and scripts can pass any functions returning an object with ``embeddings`` [N, D], ``model``
and ``space`` (and, when called with ``skip_errors=True``, optionally ``indices`` and ``errors``
like :class:`mmdemo.encoders.EmbeddingOutput`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

import mmdemo.encoders
from mmdemo.retrieval.items import MODALITIES, check_modality


class EmbeddingLike(Protocol):
    """What an embed function returns (``mmdemo.encoders.EmbeddingOutput`` fits)."""

    embeddings: torch.Tensor
    model: str
    space: str


# fn(inputs, skip_errors=...) -> EmbeddingLike
EmbedFunction = Callable[..., EmbeddingLike]


@dataclass
class Embedder:
    """Embed functions by modality, and the model names they use (None: the preset's default).

    Attributes:
        functions: modality -> ``fn(inputs: list, *, skip_errors: bool) -> EmbeddingLike``.
        models: modality -> model name the function was configured with, for messages and for
            checking a loaded index (None where the function picks the default).
    """

    functions: dict[str, EmbedFunction]
    models: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for modality in self.functions:
            check_modality(modality)

    def supports(self, modality: str) -> bool:
        return modality in self.functions

    def embed(self, modality: str, inputs: Sequence[Any], *, skip_errors: bool = False) -> EmbeddingLike:
        """Embed ``inputs`` of ``modality``; with ``skip_errors`` unreadable inputs are left out."""
        check_modality(modality)
        function = self.functions.get(modality)
        if function is None:
            raise ValueError(
                f"This embedder cannot embed {modality!r} inputs; it embeds: {sorted(self.functions)}"
            )
        return function(list(inputs), skip_errors=skip_errors)


def models_for_encoders(models: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """Per-modality model names for the encoders: image and text share the image-text model."""
    models = dict(models or {})
    image_text = models.get("image") or models.get("text")
    return {"image": image_text, "text": image_text, "audio": models.get("audio")}


def default_embedder(
    models: Mapping[str, str | None] | None = None,
    *,
    batch_size: int | None = None,
    use_cache: bool = True,
) -> Embedder:
    """An embedder over :mod:`mmdemo.encoders` (through the embedding cache when ``use_cache``).

    Args:
        models: modality -> registry name; missing or None means the active preset's default. The
            image and text entries name the same image-text model (either one sets both).
        batch_size: inputs per forward pass (None: the model's default).
        use_cache: use the on-disk embedding cache (so an interrupted build resumes cheaply).
    """
    chosen = models_for_encoders(models)

    def make(modality: str) -> EmbedFunction:
        def embed(inputs: list[Any], *, skip_errors: bool = False) -> EmbeddingLike:
            # Looked up per call (not bound at import) so that a replaced mmdemo.encoders.embed is used.
            # Importing mmdemo.encoders loads no model stack: models and their libraries load on first use.
            return mmdemo.encoders.embed(
                modality, inputs, model=chosen[modality], batch_size=batch_size, use_cache=use_cache,
                skip_errors=skip_errors,
            )

        return embed

    return Embedder({modality: make(modality) for modality in MODALITIES}, models=chosen)
