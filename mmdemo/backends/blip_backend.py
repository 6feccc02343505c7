"""BLIP captioning and VQA through transformers (``BlipFor…`` + ``BlipProcessor``)."""

from __future__ import annotations

import torch
from transformers import AutoProcessor, BlipForConditionalGeneration, BlipForQuestionAnswering

from mmdemo.loading import LoadedModel, from_pretrained
from mmdemo.registry import ModelSpec


def load(spec: ModelSpec, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    cls = BlipForConditionalGeneration if spec.backend == "blip-caption" else BlipForQuestionAnswering
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model = from_pretrained(spec, cls.from_pretrained, dtype=torch.float32)
    model.eval().to(device)
    return LoadedModel(spec, model, processor, processor.tokenizer, device, dtype)
