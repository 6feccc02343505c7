"""The CLIP towers, wav2vec2's encoder and ConSE's two models as modules taking tensors only: what
a runtime converts.

Each returns what the backend's torch path computes from the same tensors (``get_image_features`` /
``get_text_features`` of transformers' ``CLIPModel``, ``encode_image`` / ``encode_text`` of
open_clip: unnormalised features; ConSE: the ImageNet logits, the unit sentence vectors).
``input_names`` and ``dynamic_axes`` name the inputs for exporters (ONNX, in the benchmark).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _features(output: torch.Tensor | object) -> torch.Tensor:
    # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the projection.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipImageTower(nn.Module):
    """transformers CLIP's image features from pixel values: [B, 3, H, W] -> [B, D]."""

    input_names = ("pixel_values",)
    dynamic_axes = {"pixel_values": {0: "batch"}}

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return _features(self.clip.get_image_features(pixel_values=pixel_values))


class ClipTextTower(nn.Module):
    """transformers CLIP's text features from token ids and their mask: [B, T] x 2 -> [B, D]."""

    input_names = ("input_ids", "attention_mask")
    dynamic_axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return _features(self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


class OpenClipImageTower(nn.Module):
    """open_clip's ``encode_image``: [B, 3, H, W] -> [B, D]."""

    input_names = ("pixel_values",)
    dynamic_axes = {"pixel_values": {0: "batch"}}

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)


class OpenClipTextTower(nn.Module):
    """open_clip's ``encode_text`` from its tokenizer's ids (padded to the context length): [B, T] -> [B, D]."""

    input_names = ("input_ids",)
    dynamic_axes = {"input_ids": {0: "batch"}}

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids)


class Wav2Vec2Tower(nn.Module):
    """wav2vec2's ``output`` (``last_hidden_state`` [B, T, H] of ``Wav2Vec2Model``, or ``logits``
    [B, T, vocab] of ``Wav2Vec2ForCTC``) from input values [B, samples], and the attention mask
    [B, samples] where the checkpoint takes one (layer-norm feature encoders)."""

    input_names = ("input_values", "attention_mask")
    dynamic_axes = {"input_values": {0: "batch", 1: "samples"}, "attention_mask": {0: "batch", 1: "samples"}}

    def __init__(self, model: nn.Module, output: str) -> None:
        super().__init__()
        self.model = model
        self.output = output

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return getattr(self.model(input_values, attention_mask=attention_mask), self.output)


class ClassifierTower(nn.Module):
    """An image classifier's logits from pixel values (ConSE's EfficientNet-Lite0): [B, 3, H, W] -> [B, classes]."""

    input_names = ("pixel_values",)
    dynamic_axes = {"pixel_values": {0: "batch"}}

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.classifier(pixel_values)


class SentenceTower(nn.Module):
    """A sentence-transformers encoder's sentence vectors (ConSE's all-MiniLM-L6-v2): the token states
    averaged over the attention mask, L2-normalised, as sentence-transformers does: [B, T] x 2 -> [B, D]."""

    input_names = ("input_ids", "attention_mask")
    dynamic_axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, T, D]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled.float(), dim=-1)
