"""Features for training and evaluation: a manifest's rows embedded by the backend encoders.

:func:`extract_features` embeds every modality column of a manifest with
:func:`mmdemo.encoders.embed_texts` / ``embed_images`` / ``embed_audio`` (which read and write the
embedding cache, so a second run over the same files costs almost nothing) and returns a
:class:`~mmdemo.training.dataset.FeatureSet`: one ``[N, D]`` tensor and one presence mask per
modality, integer targets per label column, and the encoder of each modality. Rows whose file
cannot be decoded, or whose label is outside a fixed label set, are added to the manifest's bad
rows and skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

import mmdemo.encoders
from mmdemo.errors import ManifestError
from mmdemo.errors import MediaError
from mmdemo.training.dataset import EncoderInfo, FeatureSet
from mmdemo.training.manifest import MODALITY_COLUMNS, BadRow, Manifest, ManifestRow, read_manifest

logger = logging.getLogger(__name__)


@dataclass
class FeatureProgress:
    """Progress of feature extraction: ``done`` of ``total`` inputs of ``modality`` embedded."""

    modality: str
    done: int
    total: int


FeatureProgressCallback = Callable[[FeatureProgress], None]


def _value(row: ManifestRow, modality: str) -> str | None:
    value = getattr(row, modality)
    return None if value is None else str(value)


EmbedFunction = Callable[..., "mmdemo.encoders.EmbeddingOutput"]
"""``embed(modality, inputs, *, model, batch_size, use_cache, progress, skip_errors)`` ->
EmbeddingOutput: :func:`mmdemo.encoders.embed`, or another engine's (``mmdemo.scale``)."""


def extract_features(
    manifest: Manifest | str | os.PathLike,
    *,
    models: dict[str, str | None] | None = None,
    modalities: list[str] | None = None,
    label_names: dict[str, list[str]] | None = None,
    batch_size: int | None = None,
    use_cache: bool = True,
    progress: FeatureProgressCallback | None = None,
    embed: EmbedFunction | None = None,
) -> FeatureSet:
    """Embed a manifest's rows (see the module docstring).

    Args:
        manifest: a parsed :class:`Manifest` or a manifest path (read with default columns).
        models: modality (``"text"``, ``"image"``, ``"audio"``) -> registry model name; a
            missing or None entry means the active preset's default for that role.
        modalities: modalities to embed (default: every modality column with at least one value).
        label_names: fixed class names per task (e.g. a saved head's); rows with other labels are
            skipped as bad rows. Default: the sorted labels found in the manifest.
        batch_size: encoder batch size (default: each model's).
        use_cache: read and write the embedding cache (default True).
        progress: called with a :class:`FeatureProgress` as inputs are embedded.
        embed: what embeds one modality's inputs (default :func:`mmdemo.encoders.embed`, in this
            process; :func:`mmdemo.scale.features.extract_features_ray` passes a Ray cluster's).

    Raises:
        ManifestError: no usable row, a task with fewer than two classes, or an unknown modality.
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    if not manifest.rows:
        preview = "; ".join(str(b) for b in manifest.bad_rows[:5])
        raise ManifestError(f"{manifest.path.name} has no usable row ({len(manifest.bad_rows)} bad: {preview})")
    models = dict(models or {})
    if modalities is None:
        modalities = [m for m in manifest.modalities if any(_value(row, m) is not None for row in manifest.rows)]
    unknown = [m for m in modalities if m not in MODALITY_COLUMNS]
    if unknown:
        raise ManifestError(f"unknown modality {unknown}; valid: {', '.join(MODALITY_COLUMNS)}")
    bad: dict[int, str] = {}  # row position -> reason

    names = _label_names(manifest, label_names, bad)
    vectors: dict[str, dict[int, torch.Tensor]] = {}
    encoders: dict[str, EncoderInfo] = {}
    for modality in modalities:
        positions = [i for i, row in enumerate(manifest.rows) if i not in bad and _value(row, modality) is not None]
        if not positions:
            continue
        output = _embed_modality(manifest, modality, positions, models.get(modality), batch_size, use_cache, progress, bad,
                                 embed or mmdemo.encoders.embed)
        if output is None:
            continue
        rows, info = output
        vectors[modality] = rows
        encoders[modality] = info

    keep = []
    for i in range(len(manifest.rows)):
        if i in bad:
            continue
        if any(i in rows for rows in vectors.values()):
            keep.append(i)
        else:
            bad[i] = f"none of the modalities {modalities} has a value in this row"
    bad_rows = sorted(manifest.bad_rows + [BadRow(manifest.rows[i].line, reason) for i, reason in bad.items()], key=lambda b: b.line)
    if not keep:
        preview = "; ".join(str(b) for b in bad_rows[:5])
        raise ManifestError(f"{manifest.path.name} has no usable row ({len(bad_rows)} bad: {preview})")

    embeddings, masks = {}, {}
    for modality, rows in vectors.items():
        dim = encoders[modality].dim
        tensor = torch.zeros(len(keep), dim)
        mask = torch.zeros(len(keep), dtype=torch.bool)
        for out_index, position in enumerate(keep):
            if position in rows:
                tensor[out_index] = rows[position]
                mask[out_index] = True
        embeddings[modality], masks[modality] = tensor, mask
    targets = {
        task: torch.tensor(
            [-1 if manifest.rows[i].labels[task] is None else names[task].index(manifest.rows[i].labels[task]) for i in keep],
            dtype=torch.long,
        )
        for task in names
    }
    for bad_row in bad_rows:
        logger.warning("%s: skipped %s", manifest.path.name, bad_row)
    return FeatureSet(
        embeddings=embeddings,
        masks=masks,
        targets=targets,
        label_names=names,
        encoders=encoders,
        lines=[manifest.rows[i].line for i in keep],
        splits=[manifest.rows[i].split for i in keep] if manifest.has_split else None,
        bad_rows=bad_rows,
        source=str(manifest.path),
    )


def _label_names(manifest: Manifest, fixed: dict[str, list[str]] | None, bad: dict[int, str]) -> dict[str, list[str]]:
    """Class names per task; with ``fixed`` names, rows with other labels are marked bad."""
    if fixed is not None:
        missing = [task for task in fixed if task not in manifest.label_columns]
        if missing:
            raise ManifestError(
                f"{manifest.path.name} has no label column {missing}; label columns found: {manifest.label_columns}"
            )
        for i, row in enumerate(manifest.rows):
            for task, names in fixed.items():
                label = row.labels.get(task)
                if label is not None and label not in names:
                    bad[i] = f"label {label!r} in {task!r} is not one of {names}"
        return {task: list(names) for task, names in fixed.items()}
    names = {}
    for task in manifest.label_columns:
        found = sorted({row.labels[task] for row in manifest.rows if row.labels[task] is not None})
        if len(found) < 2:
            raise ManifestError(
                f"label column {task!r} of {manifest.path.name} has {len(found)} class(es) {found}; a classifier needs at least 2"
            )
        names[task] = found
    return names


def _embed_modality(
    manifest: Manifest,
    modality: str,
    positions: list[int],
    model: str | None,
    batch_size: int | None,
    use_cache: bool,
    progress: FeatureProgressCallback | None,
    bad: dict[int, str],
    embed: EmbedFunction,
) -> tuple[dict[int, torch.Tensor], EncoderInfo] | None:
    """Embed one modality of the rows at ``positions``; failed inputs go to ``bad``."""
    items = [_value(manifest.rows[i], modality) for i in positions]

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(FeatureProgress(modality, done, total))

    try:
        output = embed(
            modality, items, model=model, batch_size=batch_size, use_cache=use_cache, skip_errors=True, progress=report
        )
    except MediaError as err:  # raised only when no input of this modality could be used
        for position in positions:
            bad[position] = f"{modality}: {err}"
        return None
    for item_index, message in output.errors.items():
        bad[positions[item_index]] = f"{modality}: {message}"
    rows = {positions[item_index]: output.embeddings[row] for row, item_index in enumerate(output.indices)}
    info = EncoderInfo(model=output.model, space=output.space, dim=int(output.embeddings.shape[1]))
    return rows, info
