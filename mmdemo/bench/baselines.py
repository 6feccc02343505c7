"""What users run today: the model cards' transformers code, float32, one input per call.

Each class loads its checkpoint folder directly with transformers (not through mmdemo) and runs
the model the way its model card shows, under ``torch.no_grad()``. The keyword arguments
(``batch_size``, ``padding``, ``precision``, ``grad_mode``) change one thing at a time for the
benchmark's ablations; their defaults are the baseline.

Precisions: ``"float32"`` (the baseline), ``"autocast"`` (bfloat16 autocast), ``"bf16-weights"``
(a copy of the model with bfloat16 weights) and, for BLIP, ``"int8"`` (a copy with every Linear
layer dynamically quantised to int8).
"""

from __future__ import annotations

import copy
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import (
    AutoFeatureExtractor,
    AutoProcessor,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    CLIPModel,
    Wav2Vec2Model,
)

PRECISIONS = ("float32", "autocast", "bf16-weights", "int8")
GRAD_MODES = ("no_grad", "inference_mode")


def _check(precision: str, grad_mode: str, allowed: tuple[str, ...] = PRECISIONS) -> None:
    if precision not in allowed:
        raise ValueError(f"Unknown precision {precision!r}; valid: {list(allowed)}")
    if grad_mode not in GRAD_MODES:
        raise ValueError(f"Unknown grad mode {grad_mode!r}; valid: {list(GRAD_MODES)}")


class _Variants:
    """A float32 model and, made on first use, its bfloat16 and int8 copies."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model.eval()
        self._copies: dict[str, torch.nn.Module] = {}

    def get(self, precision: str) -> torch.nn.Module:
        if precision in ("float32", "autocast"):
            return self.model
        if precision not in self._copies:
            twin = copy.deepcopy(self.model)
            if precision == "bf16-weights":
                twin.to(torch.bfloat16)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
                    from torch.ao.quantization import quantize_dynamic

                    twin = quantize_dynamic(twin, {torch.nn.Linear}, dtype=torch.qint8)
            self._copies[precision] = twin
        return self._copies[precision]

    @staticmethod
    def context(precision: str, grad_mode: str = "no_grad"):
        grad = torch.inference_mode() if grad_mode == "inference_mode" else torch.no_grad()
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "autocast" else nullcontext()
        return grad, cast

    @staticmethod
    def floats(precision: str, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(torch.bfloat16) if precision == "bf16-weights" else tensor


class ClipBaseline:
    """CLIP as in its model card: ``CLIPProcessor`` then ``get_image_features`` / ``get_text_features``."""

    def __init__(self, folder: str | Path) -> None:
        self.processor = AutoProcessor.from_pretrained(str(folder))
        self.variants = _Variants(CLIPModel.from_pretrained(str(folder), dtype=torch.float32))

    def image_features(
        self, images: list[Image.Image], *, batch_size: int = 1, precision: str = "float32",
        grad_mode: str = "no_grad",
    ) -> torch.Tensor:
        """Unnormalised image features [N, D] in float32."""
        _check(precision, grad_mode, PRECISIONS[:3])
        model = self.variants.get(precision)
        grad, cast = _Variants.context(precision, grad_mode)
        rows = []
        with grad, cast:
            for start in range(0, len(images), batch_size):
                inputs = self.processor(images=images[start : start + batch_size], return_tensors="pt")
                pixels = _Variants.floats(precision, inputs["pixel_values"])
                rows.append(model.get_image_features(pixel_values=pixels).pooler_output.float())
        return torch.cat(rows)

    def text_features(
        self, texts: list[str], *, batch_size: int = 1, padding: str = "max_length", precision: str = "float32",
    ) -> torch.Tensor:
        """Unnormalised text features [N, D]; ``padding="max_length"`` pads every prompt to 77 tokens."""
        _check(precision, "no_grad", PRECISIONS[:3])
        model = self.variants.get(precision)
        grad, cast = _Variants.context(precision)
        rows = []
        with grad, cast:
            for start in range(0, len(texts), batch_size):
                tokens = self.processor(
                    text=texts[start : start + batch_size], padding=padding, max_length=77, truncation=True,
                    return_tensors="pt",
                )
                rows.append(model.get_text_features(**tokens).pooler_output.float())
        return torch.cat(rows)


class BlipBaseline:
    """BLIP as in its model cards: ``BlipProcessor`` then ``model.generate`` and ``processor.decode``."""

    def __init__(self, folder: str | Path, *, vqa: bool) -> None:
        cls = BlipForQuestionAnswering if vqa else BlipForConditionalGeneration
        self.processor = AutoProcessor.from_pretrained(str(folder))
        self.variants = _Variants(cls.from_pretrained(str(folder), dtype=torch.float32))

    def generate(
        self, image: Image.Image, question: str | None = None, *, max_new_tokens: int, precision: str = "float32"
    ) -> list[int]:
        """Greedy token ids (with the start token) for a caption, or an answer to ``question``."""
        _check(precision, "no_grad")
        model = self.variants.get(precision)
        grad, cast = _Variants.context(precision)
        inputs = self.processor(images=image, text=question, return_tensors="pt")
        inputs["pixel_values"] = _Variants.floats(precision, inputs["pixel_values"])
        with grad, cast:
            out = model.generate(**inputs, max_new_tokens=max_new_tokens)
        return out[0].tolist()

    def text(self, ids: list[int]) -> str:
        """Decoded text, whitespace-normalised like :mod:`mmdemo.generate`'s outputs."""
        return " ".join(self.processor.decode(ids, skip_special_tokens=True).split())


class Wav2Vec2Baseline:
    """wav2vec2 as in its model card: feature extractor, ``model(**inputs)``, mean of the hidden states."""

    def __init__(self, folder: str | Path, sample_rate: int = 16_000) -> None:
        self.extractor = AutoFeatureExtractor.from_pretrained(str(folder))
        self.variants = _Variants(Wav2Vec2Model.from_pretrained(str(folder), dtype=torch.float32))
        self.sample_rate = sample_rate

    def embed(self, clip: np.ndarray, *, precision: str = "float32") -> torch.Tensor:
        """The clip's mean-pooled hidden state [1, H] in float32."""
        _check(precision, "no_grad", PRECISIONS[:3])
        model = self.variants.get(precision)
        grad, cast = _Variants.context(precision)
        inputs = self.extractor(clip, sampling_rate=self.sample_rate, return_tensors="pt")
        with grad, cast:
            hidden = model(_Variants.floats(precision, inputs["input_values"])).last_hidden_state  # [1, T, H]
        return hidden.float().mean(dim=1)


class CtcBaseline:
    """wav2vec2 CTC as in its model card (wav2vec2-base-960h): processor, ``model(input_values).logits``,
    ``argmax`` and ``processor.batch_decode``, float32, one clip per call."""

    def __init__(self, folder: str | Path, sample_rate: int = 16_000) -> None:
        from transformers import Wav2Vec2ForCTC

        self.processor = AutoProcessor.from_pretrained(str(folder))
        self.extractor = self.processor.feature_extractor
        self.variants = _Variants(Wav2Vec2ForCTC.from_pretrained(str(folder), dtype=torch.float32))
        self.sample_rate = sample_rate

    def logits(self, clip: np.ndarray) -> torch.Tensor:
        """CTC logits [frames, vocab] of one clip, float32."""
        inputs = self.extractor(clip, sampling_rate=self.sample_rate, return_tensors="pt")
        with torch.no_grad():
            return self.variants.model(inputs["input_values"]).logits[0].float()

    def decode(self, logits: torch.Tensor) -> str:
        """The greedy transcript of [frames, vocab] logits, lower-cased like mmdemo's transcripts."""
        return self.processor.batch_decode(logits.argmax(dim=-1)[None])[0].strip().lower()

    def transcribe(self, clip: np.ndarray) -> str:
        return self.decode(self.logits(clip))
