"""Cross-modal attention: a small transformer over one token per modality.

Each modality embedding is projected to a token of width ``hidden_dim`` and tagged with a learned
modality-type embedding; a learned ``[CLS]`` token is prepended and ``num_layers`` pre-norm
transformer layers (``num_heads`` heads) let every token attend to the others. The fused vector is
the final ``[CLS]`` state projected to ``out_dim``. Absent modalities are masked out of attention
(key padding mask); the ``[CLS]`` token is always present, so a sample with no modality still has
a defined output.

Contributions are the last layer's attention weights from ``[CLS]`` to the modality tokens,
averaged over heads and renormalised to sum to 1 over the present modalities.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmdemo.fusion.base import FusionModule, FusionOutput
from mmdemo.fusion.config import FusionConfig


class _Block(nn.Module):
    """Pre-norm transformer layer that also returns its head-averaged attention weights."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.ffn = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * width, width)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, padding: Tensor) -> tuple[Tensor, Tensor]:
        normed = self.norm1(tokens)
        attended, weights = self.attn(
            normed, normed, normed, key_padding_mask=padding, need_weights=True, average_attn_weights=True
        )  # attended [B, T, W]; weights [B, T, T]
        tokens = tokens + self.dropout(attended)
        tokens = tokens + self.dropout(self.ffn(self.norm2(tokens)))
        return tokens, weights


class AttentionFusion(FusionModule):
    """Transformer over modality tokens with a [CLS] readout. Contributions: attention weights."""

    contribution_kind = "attention"

    def __init__(self, config: FusionConfig) -> None:
        super().__init__(config)
        width = config.hidden_dim
        self.project = nn.ModuleDict({name: nn.Linear(dim, width) for name, dim in config.modalities.items()})
        self.type_embeddings = nn.Parameter(torch.randn(len(self.modalities), width) * 0.02)
        self.cls = nn.Parameter(torch.randn(width) * 0.02)
        self.blocks = nn.ModuleList(
            [_Block(width, config.num_heads, config.dropout) for _ in range(config.num_layers)]
        )
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, config.out_dim)

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        inputs = self.prepare(embeddings, mask)
        batch = inputs.present.shape[0]
        tokens = torch.stack([self.project[name](inputs.values[name]) for name in self.modalities], dim=1)  # [B, M, W]
        tokens = tokens + self.type_embeddings.unsqueeze(0)
        cls = self.cls.view(1, 1, -1).expand(batch, 1, -1)  # [B, 1, W]
        tokens = torch.cat([cls, tokens], dim=1)  # [B, 1 + M, W]
        cls_present = torch.ones(batch, 1, dtype=torch.bool, device=tokens.device)
        padding = ~torch.cat([cls_present, inputs.present], dim=1)  # [B, 1 + M], True = ignore
        weights = tokens.new_zeros((batch, tokens.shape[1], tokens.shape[1]))
        for block in self.blocks:
            tokens, weights = block(tokens, padding)
        to_modalities = weights[:, 0, 1:] * inputs.present  # [B, M]: [CLS] row, modality columns
        total = to_modalities.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return FusionOutput(fused=self.out(self.norm(tokens[:, 0])), weights=to_modalities / total)
