"""Early fusion: concatenate the modality embeddings, then project.

Absent modalities are replaced by a learned placeholder vector before concatenation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput, Placeholders
from mmdemo.fusion.config import FusionConfig


class ConcatFusion(FusionModule):
    """Concatenation followed by ``concat_hidden_layers`` Linear-ReLU-Dropout layers.

    With ``concat_hidden_layers=0`` the fused vector is one linear projection of the
    concatenation (a linear model together with a linear classifier head); with ``n >= 1`` the
    first ``n - 1`` layers have width ``hidden_dim`` and the last one ``out_dim``.
    Contributions are measured by ablation.
    """

    contribution_kind = "ablation"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        self.placeholders = Placeholders(config.modalities)
        width = sum(config.modalities.values())
        if config.concat_hidden_layers == 0:
            self.project: nn.Module = nn.Linear(width, config.out_dim)
        else:
            layers: list[nn.Module] = []
            for index in range(config.concat_hidden_layers):
                out = config.out_dim if index == config.concat_hidden_layers - 1 else config.hidden_dim
                layers += [nn.Linear(width, out), nn.ReLU(), nn.Dropout(config.dropout)]
                width = out
            self.project = nn.Sequential(*layers)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        filled = self.placeholders.fill(self.prepare(embeddings, mask), self.modalities)
        joined = torch.cat([filled[name] for name in self.modalities], dim=1)  # [B, sum D_m]
        return FusionOutput(fused=self.project(joined))
