"""Fidelity of a fast path against float32 on the same inputs: checks that can fail.

With seeded random weights every output sits near one shared direction (mean pairwise cosine
0.94-0.97 between different images), so a plain cosine of 1.0000 hides real error. The checks
here measure what tells inputs apart:

- embeddings: the centred cosine (after removing float32's mean row) and the error relative to
  each input's distance from that mean; zero-shot top-1 agreement over a large label bank;
- generation (teacher-forced on float32's tokens, see :mod:`~mmdemo.bench.teacher_forcing`): the
  largest per-step log-probability error, and agreement of the top-1 token at the steps where
  float32's margin between its best and second-best token is clear (:data:`CLEAR_MARGIN` nats);
- inputs: how much float32's own outputs change from one image to the next
  (:func:`generation_input_dependence`), so that a check is not passed by a model that ignores
  the image.

Each returns a :class:`Fidelity`: a value and its bar, at least (``>=``) or at most (``<=``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mmdemo.bench.config import (
    CLEAR_MARGIN,
    MAX_LOGPROB_ERROR,
    MAX_PAIRWISE_COSINE,
    MIN_CENTRED_COSINE,
    MIN_CLEAR_MARGIN_AGREEMENT,
    MIN_IDENTICAL_SEQUENCES,
    MIN_INPUT_DEPENDENCE,
    MIN_MEAN_COSINE,
    MIN_TOP1_AGREEMENT,
)


@dataclass
class Fidelity:
    """One check: ``value`` must be at least ``threshold`` (or at most, with ``at_most``); ``n``
    things were compared (inputs, or generation steps)."""

    metric: str
    value: float
    threshold: float
    n: int
    detail: str = ""
    at_most: bool = False

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value <= self.threshold if self.at_most else self.value >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        bar = f"<= {self.threshold:g}" if self.at_most else f">= {self.threshold:g}"
        return f"{self.metric} {self.value:.4g} (n={self.n}, needs {bar})"


def _rows(vectors: torch.Tensor) -> torch.Tensor:
    return F.normalize(vectors.float().reshape(vectors.shape[0], -1), dim=-1)  # [N, D]


def _same_shape(reference: torch.Tensor, candidate: torch.Tensor, rows: int = 1) -> None:
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: {tuple(reference.shape)} vs {tuple(candidate.shape)}")
    if reference.shape[0] < rows:
        raise ValueError(f"This check needs at least {rows} rows, got {reference.shape[0]}")


# ---------------------------------------------------------------------------------- embeddings


def mean_cosine(reference: torch.Tensor, candidate: torch.Tensor, *, threshold: float = MIN_MEAN_COSINE) -> Fidelity:
    """Mean cosine similarity of matching rows of two [N, D] tensors (flattered by a shared
    direction: read it next to :func:`centred_cosine`)."""
    _same_shape(reference, candidate)
    cosines = (_rows(reference) * _rows(candidate)).sum(dim=-1)  # [N]
    return Fidelity("mean cosine", float(cosines.mean()), threshold, len(cosines), f"min {float(cosines.min()):.5f}")


def centred_cosine(
    reference: torch.Tensor, candidate: torch.Tensor, *, threshold: float = MIN_CENTRED_COSINE
) -> Fidelity:
    """Mean cosine of matching rows after subtracting the reference's mean row from both.

    Seeded random weights put every output near one shared direction, so the plain cosine sits
    near 1 even for a path that scrambles what tells inputs apart; centring keeps only that part.
    Needs at least two rows (more is better: the mean of two rows is their midpoint).
    """
    _same_shape(reference, candidate, rows=2)
    ref, cand = _rows(reference), _rows(candidate)
    centre = ref.mean(dim=0, keepdim=True)
    cosines = F.cosine_similarity(ref - centre, cand - centre, dim=-1)  # [N]
    return Fidelity("centred cosine", float(cosines.mean()), threshold, len(cosines), f"min {float(cosines.min()):.5f}")


def input_spread(reference: torch.Tensor, *, threshold: float = MAX_PAIRWISE_COSINE) -> Fidelity:
    """Mean cosine between float32's outputs for different inputs [N, D]: at most ``threshold``,
    or the inputs look alike to the model and a centred check measures mostly rounding noise
    (the centred-cosine bars were set on inputs at 0.94-0.97; issue 15)."""
    _same_shape(reference, reference, rows=2)
    rows = _rows(reference)
    pairs = (rows @ rows.T)[~torch.eye(len(rows), dtype=torch.bool)]
    return Fidelity("inputs' spread: float32 mean pairwise cosine", float(pairs.mean()), threshold, len(rows),
                    f"max {float(pairs.max()):.5f}", at_most=True)


def relative_error_bar(centred_cosine_bar: float) -> float:
    """The relative error a centred cosine at its bar allows: two unit vectors at cosine ``c``
    are ``sqrt(2 (1 - c))`` apart."""
    return math.sqrt(2.0 * (1.0 - centred_cosine_bar))


def relative_error(
    reference: torch.Tensor, candidate: torch.Tensor, *, threshold: float = relative_error_bar(MIN_CENTRED_COSINE)
) -> Fidelity:
    """Mean over rows of ``|c - r| / |r - m|`` on unit-normalised rows, ``m`` the reference's mean
    row: the error in units of how far each input lies from the average input (what a plain
    ``|c - r| / |r|`` would hide behind the shared direction). Detail: the largest row and the
    uncentred relative error. Rows are normalised first, so unnormalised features can be
    compared with normalised embeddings."""
    _same_shape(reference, candidate, rows=2)
    ref, cand = _rows(reference), _rows(candidate)
    spread = (ref - ref.mean(dim=0, keepdim=True)).norm(dim=-1).clamp_min(1e-12)  # [N]
    errors = (cand - ref).norm(dim=-1) / spread  # [N]
    plain = float((cand - ref).norm(dim=-1).mean())  # rows are unit vectors: |r| = 1
    detail = f"max {float(errors.max()):.5f}; uncentred |c - r| / |r| {plain:.2e}"
    return Fidelity("relative error (centred)", float(errors.mean()), threshold, len(errors), detail, at_most=True)


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
    detail = (
        f"{ref_scores.shape[1]} labels; float32 picked {len(set(ref_top.tolist()))} distinct labels; "
        f"median top-1 cosine margin {margin:.5f}"
    )
    return Fidelity("zero-shot top-1 agreement", float(same.mean()), threshold, len(same), detail)


def identical_sequences(
    reference: Sequence[Any], candidate: Sequence[Any], *, what: str, threshold: float = MIN_IDENTICAL_SEQUENCES
) -> Fidelity:
    """Share of outputs (token lists or decoded texts) that are identical."""
    if len(reference) != len(candidate) or not reference:
        raise ValueError(f"Need two equally long, non-empty lists, got {len(reference)} and {len(candidate)}")
    same = sum(a == b for a, b in zip(reference, candidate))
    return Fidelity(f"identical {what}", same / len(reference), threshold, len(reference))


# ---------------------------------------------------------------------------------- generation


def _paired_steps(reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor]) -> None:
    if len(reference) != len(candidate) or not reference:
        raise ValueError(f"Need two equally long, non-empty lists, got {len(reference)} and {len(candidate)}")
    for ref, cand in zip(reference, candidate):
        if ref.shape != cand.shape or ref.dim() != 2:
            raise ValueError(f"Per-step log-probabilities must be matching [steps, vocab] tensors, got "
                             f"{tuple(ref.shape)} and {tuple(cand.shape)}")


def max_logprob_error(
    reference: Sequence[torch.Tensor],
    candidate: Sequence[torch.Tensor],
    tokens: Sequence[Sequence[int]],
    *,
    threshold: float = MAX_LOGPROB_ERROR,
) -> Fidelity:
    """The largest per-step log-probability error, in nats, over every step of every input.

    ``reference[i]`` and ``candidate[i]`` are [steps, vocab] log-probabilities of input ``i``,
    both teacher-forced on float32's tokens; ``tokens[i][t]`` is float32's token at step ``t`` (the
    one whose probability each step scores, as a caption's score does). Error at a step:
    ``|candidate[t, y_t] - reference[t, y_t]|``.
    """
    _paired_steps(reference, candidate)
    errors = []
    for ref, cand, ids in zip(reference, candidate, tokens):
        index = torch.as_tensor(list(ids), dtype=torch.long)[:, None]  # [T, 1]
        if len(index) != ref.shape[0]:
            raise ValueError(f"{len(index)} tokens for {ref.shape[0]} steps")
        errors.append((cand.float().gather(1, index) - ref.float().gather(1, index)).abs()[:, 0])
    steps = torch.cat(errors)  # [all steps]
    detail = f"mean {float(steps.mean()):.2e} nats over {len(reference)} inputs"
    return Fidelity("largest per-step log-prob error (nats)", float(steps.max()), threshold, len(steps), detail,
                    at_most=True)


def clear_margin_agreement(
    reference: Sequence[torch.Tensor],
    candidate: Sequence[torch.Tensor],
    *,
    margin: float = CLEAR_MARGIN,
    threshold: float = MIN_CLEAR_MARGIN_AGREEMENT,
) -> Fidelity:
    """Share of clear-margin steps where the candidate's top-1 token is float32's.

    A step is clear when float32's best token beats its second best by at least ``margin`` nats
    (teacher-forced [steps, vocab] log-probabilities, as in :func:`max_logprob_error`). Steps
    with a smaller margin are near-ties, where any rounding may flip the choice; they are counted
    in the detail. No clear step at all gives NaN, which fails: there was nothing to check.
    """
    _paired_steps(reference, candidate)
    clear = agreeing = total = 0
    for ref, cand in zip(reference, candidate):
        best = ref.float().topk(2, dim=-1)  # values/indices [T, 2]
        is_clear = (best.values[:, 0] - best.values[:, 1]) >= margin  # [T]
        same = cand.float().argmax(dim=-1) == best.indices[:, 0]  # [T]
        clear += int(is_clear.sum())
        agreeing += int((same & is_clear).sum())
        total += len(is_clear)
    value = agreeing / clear if clear else float("nan")
    detail = f"{clear} of {total} steps have float32 margin >= {margin:g} nats; {agreeing} agree"
    return Fidelity(f"top-1 agreement at clear-margin steps (>= {margin:g} nats)", value, threshold, clear, detail)


def generation_input_dependence(
    own: Sequence[torch.Tensor],
    swapped: Sequence[torch.Tensor],
    tokens: Sequence[Sequence[int]],
    *,
    threshold: float = MIN_INPUT_DEPENDENCE,
) -> Fidelity:
    """How much float32 depends on the image: for each input, the largest change (nats) of the
    log-probability of its own tokens when another image is given instead; the mean over inputs.

    ``own[i]``: float32's [steps, vocab] log-probabilities on image ``i``, teacher-forced on its
    tokens ``tokens[i]``; ``swapped[i]``: the same tokens with another image. A model that ignores
    the image scores ~0 here, and then a fast path's small log-prob error proves nothing;
    ``threshold`` is the least change that makes the inputs count (ten times the log-prob bar).
    """
    _paired_steps(own, swapped)
    largest = []
    for ref, other, ids in zip(own, swapped, tokens):
        index = torch.as_tensor(list(ids), dtype=torch.long)[:, None]
        largest.append(float((other.float().gather(1, index) - ref.float().gather(1, index)).abs().max()))
    value = sum(largest) / len(largest)
    detail = f"smallest {min(largest):.3f}, largest {max(largest):.3f} nats"
    return Fidelity("image dependence: float32 log-prob change when the image changes (nats)", value, threshold,
                    len(largest), detail)
