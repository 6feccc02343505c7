"""Late fusion: one small network per modality, outputs averaged or weighted by learned weights.

Each modality ``m`` has its own MLP ``z_m = f_m(x_m)`` of width ``out_dim``; the fused vector is
``sum_m w_m z_m`` over the present modalities with weights that sum to 1 (``late_weighting="mean"``:
equal weights; ``"learned"``: a softmax of one learned logit per modality, renormalised over the
present ones). Because the weights sum to 1, a linear classifier head ``h`` on the fused vector
gives exactly the weighted average of the per-modality classifiers' logits
``sum_m w_m h(z_m)``: this is late fusion of logits, one classifier per modality, with a shared
output layer so that several label columns (multi-task heads) work the same way.
Absent modalities are masked out of the average.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput, masked_softmax
from mmdemo.fusion.config import FusionConfig


class LateFusion(FusionModule):
    """Per-modality networks combined by averaging (or learned weights). Contributions: ablation."""

    contribution_kind = "ablation"
    linear_head_only = True  # a hidden layer over the weighted mean would fuse the modalities early

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        self.branches = nn.ModuleDict(
            {
                name: nn.Sequential(
                    nn.Linear(dim, config.hidden_dim),
                    nn.ReLU(),
                    nn.Dropout(config.dropout),
                    nn.Linear(config.hidden_dim, config.out_dim),
                )
                for name, dim in config.modalities.items()
            }
        )
        self.learned = config.late_weighting == "learned"
        self.weight_logits = nn.Parameter(torch.zeros(len(self.modalities)), requires_grad=self.learned)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        outputs = torch.stack([self.branches[name](inputs.values[name]) for name in self.modalities], dim=1)  # [B, M, out]
        logits = self.weight_logits.unsqueeze(0).expand(inputs.present.shape)  # [B, M]
        weights = masked_softmax(logits, inputs.present, dim=1)  # [B, M]; equal when not learned
        return FusionOutput(fused=(weights.unsqueeze(2) * outputs).sum(dim=1))  # [B, out]
