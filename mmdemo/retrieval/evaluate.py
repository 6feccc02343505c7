"""Evaluating cross-modal retrieval on a paired set: recall@1/5/10 and median rank per direction.

A paired set holds, per pair, an image, a text and an audio clip that describe the same thing (any
of them may be missing for some pairs). For a direction such as text->image every pair with both a
text and an image gives one query (its text) and one gallery item (its image); a gallery item is
relevant when it is in the query's group (by default pairs with the same text form a group, so that
scenes with the same description all count as hits).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mmdemo.errors import IncompatibleError
from mmdemo.retrieval.embedder import Embedder, default_embedder
from mmdemo.retrieval.items import MODALITIES
from mmdemo.retrieval.metrics import DEFAULT_KS, RecallReport, recall_report, retrieval_ranks

DIRECTIONS: dict[str, tuple[str, str]] = {
    "text->image": ("text", "image"),
    "image->text": ("image", "text"),
    "audio->image": ("audio", "image"),
    "audio->text": ("audio", "text"),
}


def check_directions(directions: Sequence[str]) -> list[str]:
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise ValueError(f"Unknown retrieval directions {unknown}; valid: {list(DIRECTIONS)}")
    return list(dict.fromkeys(directions))


@dataclass
class PairedSet:
    """Pairs of media that describe the same thing.

    Attributes:
        images, texts, audio: one entry per pair (None where a pair lacks that modality), or None
            when the set has no such modality. Images and audio are anything the encoders take
            (paths, PIL images, ``(rate, samples)`` tuples ...).
        groups: group of each pair; pairs of one group are relevant to each other's queries.
        name: where the pairs come from (for reports).
        skipped: pairs left out while reading, with the reason.
    """

    images: list[Any] | None
    texts: list[str | None] | None
    audio: list[Any] | None
    groups: list[str]
    name: str = "pairs"
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for modality, values in self.columns().items():
            if len(values) != len(self.groups):
                raise ValueError(f"{len(values)} {modality} entries for {len(self.groups)} pairs")
        if len(self.columns()) < 2:
            raise ValueError(f"A paired set needs at least two of {list(MODALITIES)}; got {sorted(self.columns())}")

    def __len__(self) -> int:
        return len(self.groups)

    def columns(self) -> dict[str, list[Any]]:
        """Modality -> its entries, for the modalities the set has."""
        found = {"image": self.images, "text": self.texts, "audio": self.audio}
        return {modality: values for modality, values in found.items() if values is not None}

    @classmethod
    def from_manifest(
        cls, path: str | os.PathLike, *, group_column: str | None = None, limit: int | None = None
    ) -> PairedSet:
        """Read pairs from a CSV/TSV/JSONL manifest (columns ``text``, ``image``, ``audio``; paths
        relative to the manifest). Pairs are grouped by ``group_column``, or by their text."""
        from mmdemo.training.manifest import read_manifest

        manifest = read_manifest(path, label_columns=[group_column or "text"])
        rows = manifest.rows[:limit] if limit is not None else manifest.rows
        present = set(manifest.modalities)

        def column(modality: str, convert: Any) -> list[Any] | None:
            if modality not in present:
                return None
            return [None if getattr(row, modality) is None else convert(getattr(row, modality)) for row in rows]

        return cls(
            images=column("image", str),
            texts=column("text", str),
            audio=column("audio", str),
            groups=[str(next(iter(row.labels.values()))) for row in rows],
            name=str(path),
            skipped=[str(bad) for bad in manifest.bad_rows],
        )

    @classmethod
    def from_world(cls, split: str = "test", n: int = 100, seed: int = 0) -> PairedSet:
        """``n`` samples of the bundled world's ``split``: each scene's image, caption and own sound;
        scenes with the same caption form a group."""
        from mmdemo.world.dataset import WorldConfig, generate

        samples = generate(split, n, WorldConfig(seed=seed))
        return cls(
            images=[sample.image() for sample in samples],
            texts=[sample.caption for sample in samples],
            audio=[(sample.config.sample_rate, sample.scene_audio()) for sample in samples],
            groups=[sample.caption for sample in samples],
            name=f"bundled world, {split} split, {n} samples (seed {seed})",
        )


@dataclass
class EvalReport:
    """Retrieval quality on a paired set.

    Attributes:
        source: the paired set's name.
        n_pairs: pairs in the set.
        models: modality -> model that embedded it.
        space: the embedding space.
        results: direction -> its :class:`RecallReport`.
        skipped: pairs or inputs left out, with the reason.
    """

    source: str
    n_pairs: int
    models: dict[str, str]
    space: str
    results: dict[str, RecallReport]
    skipped: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A markdown table: one row per direction."""
        ks = sorted({k for report in self.results.values() for k in report.recall})
        header = "| direction | queries | gallery | " + " | ".join(f"R@{k}" for k in ks) + " | median rank |"
        lines = [header, "|" + "---|" * (4 + len(ks))]
        for report in self.results.values():
            recalls = " | ".join(f"{report.recall[k]:.3f}" for k in ks)
            lines.append(
                f"| {report.direction} | {report.n_queries} | {report.gallery_size} | {recalls} | {report.median_rank:g} |"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_pairs": self.n_pairs,
            "models": self.models,
            "space": self.space,
            "results": {name: report.to_json() for name, report in self.results.items()},
            "skipped": self.skipped,
        }


def evaluate_pairs(
    pairs: PairedSet,
    *,
    embedder: Embedder | None = None,
    directions: Sequence[str] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> EvalReport:
    """Embed every modality of ``pairs`` once and score each direction.

    Args:
        pairs: the paired set.
        embedder: how to embed (default: the encoders with the preset's models).
        directions: subset of :data:`DIRECTIONS`; None means every direction the set supports.
        ks: the K of recall@K.

    Raises:
        IncompatibleError: the modalities were embedded into different spaces.
        ValueError: an unknown direction, or one the set cannot support.
    """
    columns = pairs.columns()
    if directions is None:
        directions = [d for d, (q, g) in DIRECTIONS.items() if q in columns and g in columns]
    directions = check_directions(directions)
    missing = sorted({m for d in directions for m in DIRECTIONS[d] if m not in columns})
    if missing:
        raise ValueError(f"The paired set {pairs.name} has no {', '.join(missing)}; it has {sorted(columns)}")
    embedder = embedder or default_embedder()
    skipped = list(pairs.skipped)
    vectors: dict[str, dict[int, torch.Tensor]] = {}
    models: dict[str, str] = {}
    spaces: dict[str, str] = {}
    for modality in sorted({m for d in directions for m in DIRECTIONS[d]}):
        positions = [i for i, value in enumerate(columns[modality]) if value is not None]
        output = embedder.embed(modality, [columns[modality][i] for i in positions], skip_errors=True)
        embedded = getattr(output, "indices", None) or list(range(len(positions)))
        for i, message in sorted((getattr(output, "errors", None) or {}).items()):
            skipped.append(f"{modality} of pair {positions[i]}: {message}")
        vectors[modality] = {positions[j]: output.embeddings[row] for row, j in enumerate(embedded)}
        models[modality], spaces[modality] = output.model, output.space
    if len(set(spaces.values())) > 1:
        raise IncompatibleError(f"The modalities were embedded into different spaces: {spaces} (models {models})")

    results: dict[str, RecallReport] = {}
    for direction in directions:
        query_modality, gallery_modality = DIRECTIONS[direction]
        used = sorted(set(vectors[query_modality]) & set(vectors[gallery_modality]))
        if not used:
            raise ValueError(f"No pair has both {query_modality} and {gallery_modality} for {direction}")
        groups = [pairs.groups[i] for i in used]
        ranks = retrieval_ranks(
            torch.stack([vectors[query_modality][i] for i in used]),  # [P, D]
            torch.stack([vectors[gallery_modality][i] for i in used]),  # [P, D]
            groups,
            groups,
        )
        results[direction] = recall_report(ranks, direction=direction, gallery_size=len(used), ks=ks)
    return EvalReport(
        source=pairs.name,
        n_pairs=len(pairs),
        models=models,
        space=next(iter(spaces.values())),
        results=results,
        skipped=skipped,
    )
