"""Fusion Lab features of a large manifest, embedded on a Ray cluster.

:func:`extract_features_ray` returns what :func:`mmdemo.training.features.extract_features` returns
for the same manifest (the same :class:`~mmdemo.training.dataset.FeatureSet`, bad rows included):
it runs that very function, passing as its ``embed`` the Ray pipeline of
:mod:`mmdemo.scale.ray_embed` instead of this process's encoders. Inputs are cut into the batches
the local call uses, so float32 vectors are bit-identical.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

import mmdemo.training.features as local_features
from mmdemo.encoders import EmbeddingOutput, none_usable
from mmdemo.errors import MediaError
from mmdemo.registry import resolve_spec
from mmdemo.retrieval.build import text_id
from mmdemo.scale.listing import SourceFile
from mmdemo.scale.ray_embed import RayJobConfig, stream_batches
from mmdemo.scale.shards import Batch
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.manifest import Manifest

_ROLES = {"image": "image-text", "text": "image-text", "audio": "audio"}


def extract_features_ray(
    manifest: Manifest | str | os.PathLike,
    *,
    models: dict[str, str | None] | None = None,
    modalities: list[str] | None = None,
    label_names: dict[str, list[str]] | None = None,
    batch_size: int | None = None,
    progress: local_features.FeatureProgressCallback | None = None,
    config: RayJobConfig | None = None,
    address: str | None = None,
) -> FeatureSet:
    """:func:`~mmdemo.training.features.extract_features` with the embedding done on Ray.

    Args:
        manifest, models, modalities, label_names, batch_size, progress: as for ``extract_features``.
        config: workers, GPUs, preset and dtype of the job (default :class:`RayJobConfig`; its
            ``models`` and ``batch_size`` are replaced by the arguments here).
        address: the cluster (``auto``, ``HOST:PORT``); None starts Ray on this machine.
    """
    from mmdemo.scale.cluster import connected

    config = config or RayJobConfig()

    def embed_on_ray(modality: str, items: list[str], *, model: str | None, batch_size: int | None,
                     progress: Any = None, **_: Any) -> EmbeddingOutput:
        return _embed_on_ray(ray, config, modality, items, model, batch_size, progress)

    with connected(address) as ray:
        return local_features.extract_features(
            manifest, models=models, modalities=modalities, label_names=label_names,
            batch_size=batch_size, use_cache=False, progress=progress, embed=embed_on_ray,
        )


def _embed_on_ray(
    ray: Any, config: RayJobConfig, modality: str, items: list[str], model: str | None,
    batch_size: int | None, progress: Any,
) -> EmbeddingOutput:
    size = batch_size or resolve_spec(model, _ROLES[modality]).batch_size
    literal = modality == "text"
    files = [SourceFile(text_id(item) if literal else item, item, modality, None, "") for item in items]
    batches = [Batch(n, 0, modality, tuple(files[start : start + size])) for n, start in enumerate(range(0, len(files), size))]
    job = RayJobConfig(**{**config.__dict__, "models": {**config.models, modality: model}})
    vectors: dict[int, np.ndarray] = {}
    errors: dict[int, str] = {}
    names: tuple[str, str] | None = None
    for number, result in stream_batches(ray, batches, job, literal=literal):
        offset = number * size
        for position, (vector, error) in enumerate(zip(result["vectors"], result["errors"])):
            if vector is None:
                errors[offset + position] = error or "not embedded"
            else:
                vectors[offset + position] = np.frombuffer(vector, dtype=np.float32)
        names = names or ((result["model"], result["space"]) if result["model"] else None)
        if progress is not None:
            progress(len(vectors) + len(errors), len(items))
    indices = sorted(vectors)
    if not indices or names is None:
        raise MediaError(none_usable(errors, len(items)))
    return EmbeddingOutput(
        embeddings=torch.from_numpy(np.stack([vectors[i] for i in indices])), model=names[0], space=names[1],
        indices=indices, errors=errors, computed=len(indices),
    )
