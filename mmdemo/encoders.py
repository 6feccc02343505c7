"""Embedding images, texts and audio into L2-normalised vectors, through the embedding cache.

Every function takes any number of inputs, runs the model in batches, and returns an
:class:`EmbeddingOutput`. Inputs already in the cache (same content, model, dtype and
preprocessing) are not run again. Outputs are deterministic: a vector never depends on the other
inputs of its batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmdemo.backends import backend_module
from mmdemo.backends.base import LoadedModel
from mmdemo.cache import EmbeddingCache, checkpoint_fingerprint, content_hash, default_cache, text_hash
from mmdemo.errors import MediaError
from mmdemo.loading import get_model
from mmdemo.modalities import check_modality
from mmdemo.media import AudioInput, ImageInput, MediaLimits, clean_text, load_audio, load_image

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class EmbeddingOutput:
    """Vectors for a list of inputs.

    Attributes:
        embeddings: [N, D] float32 on the CPU, each row L2-normalised; row i is input
            ``indices[i]``.
        model: the registry name of the model that made them.
        space: the embedding space; vectors are comparable only within one space.
        indices: the positions of the inputs that have a row (all of them unless
            ``skip_errors=True`` dropped unreadable ones).
        errors: input position -> message, for inputs skipped with ``skip_errors=True``.
        cache_hits: how many rows came from the cache.
        computed: how many rows the model computed.
        transcripts: for speech-road audio models, what the model heard in each clip.
    """

    embeddings: torch.Tensor
    model: str
    space: str
    indices: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    cache_hits: int = 0
    computed: int = 0
    transcripts: list[str] | None = None

    def __len__(self) -> int:
        return self.embeddings.shape[0]


def _fingerprint(loaded: LoadedModel) -> str:
    """What identifies the model's outputs: name, checkpoint (with file dates if local), dtype."""
    name, backend, checkpoint, pretrained, audio_road, *files = checkpoint_fingerprint(loaded.spec)
    parts = [name, backend, checkpoint, pretrained, audio_road, str(loaded.dtype), ",".join(loaded.speedups)]
    if "recipe" in loaded.extras:  # how a backend turns model outputs into vectors (ConSE's T and prompt)
        parts.append(str(loaded.extras["recipe"]))
    return "|".join([*parts, *files])


def item_message(index: int, total: int, message: str) -> str:
    """``message`` about item ``index`` (0-based) of ``total``: as it is for a single input, else
    prefixed with the item's place in words ("Item 2 of 3: ...")."""
    return message if total == 1 else f"Item {index + 1} of {total}: {message}"


def none_usable(errors: dict[int, str], total: int) -> str:
    """Why no input of ``total`` could be embedded (the first five reasons)."""
    if total == 1 and len(errors) == 1:
        return next(iter(errors.values()))
    reasons = "; ".join(item_message(i, total, message) for i, message in sorted(errors.items())[:5])
    return f"None of the {total} inputs could be used: {reasons}"


def _embed(
    items: Sequence[Any],
    loaded: LoadedModel,
    hash_item: Callable[[Any], str],
    prepare: Callable[[Any], Any],
    encode: Callable[[LoadedModel, list[Any]], torch.Tensor],
    *,
    batch_size: int | None,
    use_cache: bool,
    cache: EmbeddingCache | None,
    skip_errors: bool,
    progress: ProgressCallback | None,
    metadata_of: Callable[[int], dict[str, str]] | None = None,
) -> EmbeddingOutput:
    """Shared loop: hash -> cache lookup -> prepare misses -> encode in batches -> normalise -> store."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise MediaError("Pass a list of inputs (wrap a single input in a list)")
    if len(items) == 0:
        raise MediaError("Nothing to embed: the list of inputs is empty")
    store = (cache or default_cache()) if use_cache else None
    fingerprint = _fingerprint(loaded)
    size = batch_size or loaded.spec.batch_size
    vectors: dict[int, torch.Tensor] = {}
    errors: dict[int, str] = {}
    metadata: dict[int, dict[str, str]] = {}
    keys: dict[int, str] = {}
    pending: list[int] = []
    for index, item in enumerate(items):
        try:
            keys[index] = EmbeddingCache.key(hash_item(item), fingerprint)
        except (OSError, TypeError) as err:
            if not skip_errors:
                raise MediaError(item_message(index, len(items), f"cannot read it ({err})")) from err
            errors[index] = f"cannot read it ({err})"
            continue
        entry = store.get(keys[index]) if store is not None else None
        if entry is not None:
            vectors[index] = entry.vector
            metadata[index] = entry.metadata
        else:
            pending.append(index)
    hits = len(vectors)
    done = hits + len(errors)
    if progress:
        progress(done, len(items))
    computed = 0
    for start in range(0, len(pending), size):
        batch_indices: list[int] = []
        batch_inputs: list[Any] = []
        for index in pending[start : start + size]:
            try:
                batch_inputs.append(prepare(items[index]))
                batch_indices.append(index)
            except MediaError as err:
                if not skip_errors:
                    raise MediaError(item_message(index, len(items), str(err))) from err
                errors[index] = str(err)
        if batch_inputs:
            features = F.normalize(encode(loaded, batch_inputs).float(), dim=-1).cpu()
            for row, index in enumerate(batch_indices):
                vectors[index] = features[row]
                meta = metadata_of(row) if metadata_of else {}
                metadata[index] = meta
                if store is not None:
                    store.put(keys[index], features[row], meta)
            computed += len(batch_indices)
        done = hits + computed + len(errors)
        if progress:
            progress(done, len(items))
    indices = sorted(vectors)
    if not indices:
        raise MediaError(none_usable(errors, len(items)))
    embeddings = torch.stack([vectors[i] for i in indices])  # [N, D]
    output = EmbeddingOutput(
        embeddings=embeddings,
        model=loaded.spec.name,
        space=loaded.spec.embedding_space,
        indices=indices,
        errors=errors,
        cache_hits=hits,
        computed=computed,
    )
    if any("transcript" in metadata.get(i, {}) for i in indices):
        output.transcripts = [metadata[i].get("transcript", "") for i in indices]
    return output


def embed_images(
    images: Sequence[ImageInput],
    *,
    model: str | None = None,
    batch_size: int | None = None,
    use_cache: bool = True,
    cache: EmbeddingCache | None = None,
    limits: MediaLimits | None = None,
    skip_errors: bool = False,
    progress: ProgressCallback | None = None,
) -> EmbeddingOutput:
    """Embed images (paths, bytes, PIL images or arrays) with an image-text model.

    Args:
        images: the inputs.
        model: a registry name; None means the active preset's ``image-text`` model.
        batch_size: images per forward pass (default: the model spec's).
        use_cache: look up and store vectors in ``cache`` (default: the process-wide cache).
        limits: media limits (pixels, aspect ratio).
        skip_errors: drop unreadable inputs (reported in ``errors``) instead of raising.
        progress: called with (done, total) after each batch.
    """
    loaded = get_model(model, "image-text")
    backend = backend_module(loaded.spec.backend)
    return _embed(
        images, loaded, content_hash, lambda item: load_image(item, limits), backend.encode_images,
        batch_size=batch_size, use_cache=use_cache, cache=cache, skip_errors=skip_errors,
        progress=progress,
    )


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    batch_size: int | None = None,
    use_cache: bool = True,
    cache: EmbeddingCache | None = None,
    limits: MediaLimits | None = None,
    skip_errors: bool = False,
    progress: ProgressCallback | None = None,
) -> EmbeddingOutput:
    """Embed texts with an image-text model's text encoder (long texts are truncated to its context)."""
    loaded = get_model(model, "image-text")
    backend = backend_module(loaded.spec.backend)

    def text_key(text: Any) -> str:
        if not isinstance(text, str):
            raise TypeError(f"expected a string, got {type(text).__name__}")
        return text_hash(text)

    return _embed(
        texts, loaded, text_key, lambda text: clean_text(text, limits), backend.encode_texts,
        batch_size=batch_size, use_cache=use_cache, cache=cache, skip_errors=skip_errors,
        progress=progress,
    )


def embed_audio(
    clips: Sequence[AudioInput],
    *,
    model: str | None = None,
    batch_size: int | None = None,
    use_cache: bool = True,
    cache: EmbeddingCache | None = None,
    limits: MediaLimits | None = None,
    skip_errors: bool = False,
    progress: ProgressCallback | None = None,
) -> EmbeddingOutput:
    """Embed audio clips (paths, bytes, ``(rate, samples)`` tuples or arrays at the model's rate).

    Speech-road models (``wav2vec2-base-960h``) transcribe each clip and embed the transcript with
    their ``text_model``; the output then carries ``transcripts``.
    """
    loaded = get_model(model, "audio")
    spec = loaded.spec
    backend = backend_module(spec.backend)

    def prepare(clip: Any) -> np.ndarray:
        return load_audio(clip, spec.sample_rate, limits)

    if spec.audio_road != "speech":
        return _embed(
            clips, loaded, content_hash, prepare, backend.encode_audio,
            batch_size=batch_size, use_cache=use_cache, cache=cache, skip_errors=skip_errors,
            progress=progress,
        )

    last_transcripts: list[str] = []

    def encode_speech(speech: LoadedModel, batch: list[np.ndarray]) -> torch.Tensor:
        last_transcripts[:] = backend.transcribe(speech, batch)
        # An empty transcript (silence) still gets a vector: the text encoder's empty prompt.
        texts = [text if text else "silence" for text in last_transcripts]
        return embed_texts(texts, model=spec.text_model, use_cache=use_cache, cache=cache).embeddings

    return _embed(
        clips, loaded, content_hash, prepare, encode_speech,
        batch_size=batch_size, use_cache=use_cache, cache=cache, skip_errors=skip_errors,
        progress=progress, metadata_of=lambda row: {"transcript": last_transcripts[row]},
    )


def embed(modality: str, inputs: Sequence[Any], *, model: str | None = None, **kwargs: Any) -> EmbeddingOutput:
    """Embed ``inputs`` of one modality (``"text"``, ``"image"`` or ``"audio"``; see
    :data:`mmdemo.modalities.MODALITIES`) with ``model``; ``kwargs`` as for :func:`embed_images`."""
    check_modality(modality)
    function = {"text": embed_texts, "image": embed_images, "audio": embed_audio}[modality]
    return function(inputs, model=model, **kwargs)
