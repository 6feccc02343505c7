"""FiLM-style conditioning (Perez et al., 2018, "FiLM: Visual Reasoning with a General Conditioning Layer").

One base modality (``film_base``, default the first configured one) is projected to ``h`` of width
``hidden_dim``; the other modalities, each passed through Linear + ReLU and averaged over those
present, give a conditioning vector ``c`` from which a scale ``gamma = 1 + G c`` and a shift
``beta = B c`` are computed. The fused vector is ``Linear(ReLU(gamma * h + beta))`` of width
``out_dim``. An absent base modality is replaced by a learned placeholder; absent conditioning
modalities are left out of the average (none present: ``c = 0``, so ``gamma = 1 + bias``).
With a single configured modality FiLM reduces to an MLP on it. Contributions: ablation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput, Placeholders
from mmdemo.fusion.config import FusionConfig


class FiLMFusion(FusionModule):
    """Feature-wise linear modulation of one modality by the others. Contributions: ablation."""

    contribution_kind = "ablation"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        self.base = config.film_base or self.modalities[0]
        self.conditioners = [name for name in self.modalities if name != self.base]
        width = config.hidden_dim
        self.placeholders = Placeholders({self.base: config.modalities[self.base]})
        self.project = nn.Linear(config.modalities[self.base], width)
        self.condition = nn.ModuleDict(
            {name: nn.Sequential(nn.Linear(config.modalities[name], width), nn.ReLU()) for name in self.conditioners}
        )
        self.gamma = nn.Linear(width, width)
        self.beta = nn.Linear(width, width)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(width, config.out_dim)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        present = inputs.present.float()  # [B, M]
        base = self.placeholders.fill(inputs, self.modalities)[self.base]
        hidden = self.project(base)  # [B, W]
        condition = hidden.new_zeros(hidden.shape)
        count = hidden.new_zeros((hidden.shape[0], 1))
        for name in self.conditioners:
            weight = present[:, self.modalities.index(name)].unsqueeze(1)  # [B, 1]
            condition = condition + weight * self.condition[name](inputs.values[name])
            count = count + weight
        condition = condition / count.clamp_min(1.0)  # mean over the present conditioners
        modulated = (1.0 + self.gamma(condition)) * hidden + self.beta(condition)
        return FusionOutput(fused=self.out(self.dropout(torch.relu(modulated))))
