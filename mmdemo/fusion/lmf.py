"""Low-rank multimodal fusion (Liu et al., 2018, "Efficient Low-rank Multimodal Fusion with
Modality-Specific Factors").

The TFN weight tensor is factorised into ``rank`` modality-specific factors: each modality is
projected to ``h_m`` (width ``hidden_dim``), extended with a constant 1 and multiplied by its
factor ``W_m`` of shape ``[rank, hidden_dim + 1, out_dim]``; the per-modality results are
multiplied elementwise across modalities and summed over the rank with learned weights, plus a
bias. An absent modality is masked by setting ``h_m`` to 0 (only the constant-1 row of its factor
remains). Contributions are measured by ablation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput
from mmdemo.fusion.config import FusionConfig


class LowRankFusion(FusionModule):
    """Low-rank multimodal fusion. Contributions: ablation."""

    contribution_kind = "ablation"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        self.project = nn.ModuleDict({name: nn.Linear(dim, config.hidden_dim) for name, dim in config.modalities.items()})
        # Factors start near values whose product over modalities has unit scale.
        self.factors = nn.ParameterDict(
            {
                name: nn.Parameter(nn.init.xavier_normal_(torch.empty(config.rank, config.hidden_dim + 1, config.out_dim)))
                for name in self.modalities
            }
        )
        self.rank_weights = nn.Parameter(nn.init.xavier_normal_(torch.empty(1, config.rank)))
        self.bias = nn.Parameter(torch.zeros(config.out_dim))
        self.dropout = nn.Dropout(config.dropout)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        product: Tensor | None = None
        for index, name in enumerate(self.modalities):
            hidden = self.dropout(self.project[name](inputs.values[name])) * inputs.present[:, index : index + 1]  # [B, H]
            z = torch.cat([torch.ones_like(hidden[:, :1]), hidden], dim=1)  # [B, H + 1]
            factor_out = torch.einsum("bh,rho->rbo", z, self.factors[name])  # [rank, B, out]
            product = factor_out if product is None else product * factor_out
        fused = torch.einsum("r,rbo->bo", self.rank_weights[0], product) + self.bias  # [B, out]
        return FusionOutput(fused=fused)
