"""Per-modality feature standardisation: each embedding dimension to zero mean and unit variance.

Encoder embeddings arrive L2-normalised, so each of their ``D`` dimensions has a spread of about
``1 / sqrt(D)`` (0.09 for the bundled models' 128) around a mean that differs per modality; the
fusion layers, initialised for unit-scale inputs, then see small, off-centre signals and learn the
cross-modal comparisons slowly. :class:`FeatureStandardizer` holds, per modality, the mean and
standard deviation of every dimension measured on the training samples (:meth:`fit`, called once
before training) as buffers, so a saved head applies the same transform to new embeddings.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

MIN_STD = 1e-6  # a dimension constant over the training samples is centred, not scaled


class FeatureStandardizer(nn.Module):
    """``(x - mean) / std`` per modality and dimension; the identity until :meth:`fit` is called.

    Args:
        modalities: modality name -> embedding dimension.
    """

    def __init__(self, modalities: dict[str, int]) -> None:
        super().__init__()
        self.modalities = list(modalities)
        for name, dim in modalities.items():
            self.register_buffer(f"mean_{name}", torch.zeros(dim))
            self.register_buffer(f"std_{name}", torch.ones(dim))

    @torch.no_grad()
    def fit(self, embeddings: dict[str, Tensor], masks: dict[str, Tensor]) -> FeatureStandardizer:
        """Measure mean and std of each modality over the samples where it is present (``masks``);
        a modality present in fewer than two samples keeps the identity."""
        for name in self.modalities:
            values = embeddings[name][masks[name]].float()
            if values.shape[0] < 2:
                continue
            getattr(self, f"mean_{name}").copy_(values.mean(dim=0))
            getattr(self, f"std_{name}").copy_(values.std(dim=0).clamp_min(MIN_STD))
        return self

    def forward(self, embeddings: dict[str, Tensor]) -> dict[str, Tensor]:
        """The standardised embeddings (modalities this module does not know pass through)."""
        return {
            name: (value - getattr(self, f"mean_{name}")) / getattr(self, f"std_{name}") if name in self.modalities else value
            for name, value in embeddings.items()
        }
