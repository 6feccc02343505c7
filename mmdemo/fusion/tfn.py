"""Tensor fusion network (Zadeh et al., 2017, "Tensor Fusion Network for Multimodal Sentiment Analysis").

Each modality is projected to ``h_m`` of width ``tfn_dim`` and extended with a constant 1:
``z_m = [1, h_m]``. The outer product of all ``z_m`` holds every unimodal, bimodal and trimodal
product of features; a linear layer with ReLU maps its flattened ``prod(tfn_dim + 1)`` entries to
``out_dim``. An absent modality is masked by setting its ``h_m`` to 0, which leaves exactly the
lower-order terms of the present modalities (the constant 1 keeps them in the tensor).
Contributions are measured by ablation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput
from mmdemo.fusion.config import FusionConfig
from mmdemo.errors import ConfigError

MAX_TENSOR_ENTRIES = 1_000_000


class TensorFusion(FusionModule):
    """Outer-product tensor fusion. Contributions: ablation."""

    contribution_kind = "ablation"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        entries = (config.tfn_dim + 1) ** len(self.modalities)
        if entries > MAX_TENSOR_ENTRIES:
            largest = math.floor(MAX_TENSOR_ENTRIES ** (1 / len(self.modalities))) - 1
            raise ConfigError(
                f"tfn_dim={config.tfn_dim} with {len(self.modalities)} modalities gives a fusion tensor of "
                f"{entries} entries (limit {MAX_TENSOR_ENTRIES}); use tfn_dim <= {largest}"
            )
        self.project = nn.ModuleDict({name: nn.Linear(dim, config.tfn_dim) for name, dim in config.modalities.items()})
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Sequential(nn.Linear(entries, config.out_dim), nn.ReLU())

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        product: Tensor | None = None
        for index, name in enumerate(self.modalities):
            hidden = self.project[name](inputs.values[name]) * inputs.present[:, index : index + 1]  # [B, tfn_dim]
            z = torch.cat([torch.ones_like(hidden[:, :1]), hidden], dim=1)  # [B, tfn_dim + 1]
            if product is None:
                product = z
            else:
                # [B, P] x [B, tfn_dim + 1] -> [B, P * (tfn_dim + 1)]
                product = (product.unsqueeze(2) * z.unsqueeze(1)).flatten(start_dim=1)
        return FusionOutput(fused=self.out(self.dropout(product)))
