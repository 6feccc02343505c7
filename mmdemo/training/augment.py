"""Training-time augmentation of a batch: feature noise and modality dropout.

Both draw from torch's global random generator, which the trainer seeds, so runs are reproducible.
"""

from __future__ import annotations

import torch
from torch import Tensor


def add_feature_noise(embeddings: dict[str, Tensor], scale: float) -> dict[str, Tensor]:
    """Add Gaussian noise whose std is ``scale`` times each row's RMS value.

    Relative noise is independent of the embedding dimension: for unit-norm embeddings of
    dimension D the RMS is ``1/sqrt(D)``, so ``scale=0.5`` adds noise half as large as a typical
    component. ``scale=0`` returns the inputs unchanged.
    """
    if scale <= 0:
        return embeddings
    noisy = {}
    for name, values in embeddings.items():
        rms = values.pow(2).mean(dim=1, keepdim=True).sqrt()  # [B, 1]
        noisy[name] = values + scale * rms * torch.randn_like(values)
    return noisy


def drop_modalities(masks: dict[str, Tensor], probability: float) -> dict[str, Tensor]:
    """Mark each present modality absent with ``probability``, independently per sample, but never
    drop every modality of a sample: if all would go, one of its present modalities (chosen at
    random) is kept."""
    if probability <= 0 or not masks:
        return masks
    names = list(masks)
    present = torch.stack([masks[name] for name in names], dim=1)  # [B, M]
    kept = present & (torch.rand(present.shape) >= probability)
    emptied = present.any(dim=1) & ~kept.any(dim=1)  # [B]
    if emptied.any():
        # Random positive score on present modalities, -1 elsewhere: argmax picks a present one.
        scores = torch.where(present, torch.rand(present.shape), torch.full(present.shape, -1.0))
        choice = scores.argmax(dim=1)  # [B]
        rescue = torch.zeros_like(kept)
        rescue[torch.arange(len(choice)), choice] = True
        kept = kept | (rescue & emptied[:, None])
    return {name: kept[:, index] for index, name in enumerate(names)}
