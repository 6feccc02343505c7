"""Fidelity of a fast path against float32 on the same inputs.

With seeded random weights these are numerical checks of the path, not of quality: a random
model's outputs are close to one another, so the zero-shot check also reports how many distinct
labels float32 picked and the median margin between its best and second-best label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mmdemo.bench.config import MIN_CENTRED_COSINE, MIN_IDENTICAL_SEQUENCES, MIN_MEAN_COSINE, MIN_TOP1_AGREEMENT


@dataclass
class Fidelity:
    """One check: ``value`` must be at least ``threshold``; ``n`` inputs were compared."""

    metric: str
    value: float
    threshold: float
    n: int
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.value >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        return f"{self.metric} {self.value:.4f} (n={self.n}, needs >= {self.threshold:g})"


def _rows(vectors: torch.Tensor) -> torch.Tensor:
    return F.normalize(vectors.float().reshape(vectors.shape[0], -1), dim=-1)  # [N, D]


def mean_cosine(reference: torch.Tensor, candidate: torch.Tensor, *, threshold: float = MIN_MEAN_COSINE) -> Fidelity:
    """Mean cosine similarity of matching rows of two [N, D] tensors."""
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: {tuple(reference.shape)} vs {tuple(candidate.shape)}")
    cosines = (_rows(reference) * _rows(candidate)).sum(dim=-1)  # [N]
    return Fidelity("mean cosine", float(cosines.mean()), threshold, len(cosines), f"min {float(cosines.min()):.5f}")


def centred_cosine(
    reference: torch.Tensor, candidate: torch.Tensor, *, threshold: float = MIN_CENTRED_COSINE
) -> Fidelity:
    """Mean cosine of matching rows after subtracting the reference's mean row from both.

    Seeded random weights put every output near one shared direction, so the plain cosine sits
    near 1 even for a path that scrambles what tells inputs apart; centring keeps only that part.
    Needs at least two rows.
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: {tuple(reference.shape)} vs {tuple(candidate.shape)}")
    if reference.shape[0] < 2:
        raise ValueError("A centred cosine needs at least two rows")
    ref, cand = _rows(reference), _rows(candidate)
    centre = ref.mean(dim=0, keepdim=True)
    cosines = F.cosine_similarity(ref - centre, cand - centre, dim=-1)  # [N]
    return Fidelity("centred cosine", float(cosines.mean()), threshold, len(cosines), f"min {float(cosines.min()):.5f}")


def top1_agreement(
    reference: tuple[torch.Tensor, torch.Tensor],
    candidate: tuple[torch.Tensor, torch.Tensor],
    *,
    threshold: float = MIN_TOP1_AGREEMENT,
) -> Fidelity:
    """Share of images whose zero-shot top-1 label is the same: each pair is (images [N, D], labels [L, D])."""
    ref_scores = _rows(reference[0]) @ _rows(reference[1]).T  # [N, L]
    cand_scores = _rows(candidate[0]) @ _rows(candidate[1]).T  # [N, L]
    ref_top = ref_scores.argmax(dim=-1)
    same = (ref_top == cand_scores.argmax(dim=-1)).float()
    best_two = ref_scores.topk(min(2, ref_scores.shape[1]), dim=-1).values  # [N, 2]
    margin = float((best_two[:, 0] - best_two[:, -1]).median())
    detail = f"float32 picked {len(set(ref_top.tolist()))} distinct labels; median top-1 margin {margin:.5f}"
    return Fidelity("zero-shot top-1 agreement", float(same.mean()), threshold, len(same), detail)


def identical_sequences(
    reference: Sequence[Any], candidate: Sequence[Any], *, what: str, threshold: float = MIN_IDENTICAL_SEQUENCES
) -> Fidelity:
    """Share of outputs (token lists or decoded texts) that are identical."""
    if len(reference) != len(candidate) or not reference:
        raise ValueError(f"Need two equally long, non-empty lists, got {len(reference)} and {len(candidate)}")
    same = sum(a == b for a, b in zip(reference, candidate))
    return Fidelity(f"identical {what}", same / len(reference), threshold, len(reference))
