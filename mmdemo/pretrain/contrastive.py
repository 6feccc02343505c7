"""Contrastive losses with several positives per row (captions shared by several scenes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def multi_positive_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """InfoNCE where row i may have several correct columns.

    ``logits`` [B, C] are similarity scores (already scaled by the temperature); ``positives``
    [B, C] is a boolean mask with at least one True per row. The loss of a row is
    ``-log(sum of softmax over its positives)``; rows are averaged.
    """
    if logits.shape != positives.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and positives {tuple(positives.shape)} differ in shape")
    if not bool(positives.any(dim=1).all()):
        raise ValueError("every row needs at least one positive column")
    log_probs = F.log_softmax(logits, dim=1)  # [B, C]
    positive_log_mass = torch.logsumexp(log_probs.masked_fill(~positives, float("-inf")), dim=1)  # [B]
    return -positive_log_mass.mean()


def symmetric_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`multi_positive_nce` over rows and over columns (CLIP's symmetric loss)."""
    return 0.5 * (multi_positive_nce(logits, positives) + multi_positive_nce(logits.T, positives.T))
