"""Gated multimodal unit (Arevalo et al., 2017, "Gated Multimodal Units for Information Fusion").

Each modality gets a tanh projection ``h_m = tanh(W_m x_m)`` of width ``out_dim``; a gate network
reads all (placeholder-filled) inputs together and gives, per output unit, a softmax over the
modalities ``z_m``; the fused vector is ``sum_m z_m * h_m``. For two modalities this is exactly the
paper's bimodal GMU (``z * h_1 + (1 - z) * h_2`` with a sigmoid gate); for more it is the softmax
generalisation. Absent modalities get gate 0 (masked softmax).

Contributions are the gate values averaged over output units (per sample, summing to 1 over the
present modalities).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput, Placeholders, masked_softmax
from mmdemo.fusion.config import FusionConfig


class GMUFusion(FusionModule):
    """Gated multimodal unit over any number of modalities. Contributions: gate values."""

    contribution_kind = "gate"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        self.placeholders = Placeholders(config.modalities)
        self.project = nn.ModuleDict({name: nn.Linear(dim, config.out_dim) for name, dim in config.modalities.items()})
        self.gate = nn.Linear(sum(config.modalities.values()), len(self.modalities) * config.out_dim)
        self.dropout = nn.Dropout(config.dropout)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        filled = self.placeholders.fill(inputs, self.modalities)
        hidden = torch.stack([torch.tanh(self.project[name](filled[name])) for name in self.modalities], dim=1)  # [B, M, out]
        joined = torch.cat([filled[name] for name in self.modalities], dim=1)  # [B, sum D_m]
        gate_logits = self.gate(joined).view(-1, len(self.modalities), self.out_dim)  # [B, M, out]
        gates = masked_softmax(gate_logits, inputs.present.unsqueeze(2), dim=1)  # [B, M, out]
        fused = self.dropout((gates * hidden).sum(dim=1))  # [B, out]
        return FusionOutput(fused=fused, weights=gates.mean(dim=2))  # weights [B, M]
