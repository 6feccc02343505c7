"""The CLIP towers and wav2vec2's encoder as modules taking tensors only: what a runtime converts.

Each returns the unnormalised features the backend's torch path returns for the same tensors
(``get_image_features`` / ``get_text_features`` of transformers' ``CLIPModel``, ``encode_image`` /
``encode_text`` of open_clip). ``input_names`` and ``dynamic_axes`` name the inputs for exporters
(ONNX, in the benchmark).
"""

from __future__ import annotations

import torch
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
