"""BLIP captioning and VQA through transformers (``BlipFor…`` + ``BlipProcessor``).

Load-time speed-ups for generation on CPU (chosen by :func:`mmdemo.loading.resolve_speedups`,
measured by ``python -m mmdemo bench``):

- ``vision-bfloat16``: the vision encoder (a ViT-B/16 over 577 tokens: large matrix products,
  where AMX bfloat16 is fast) holds bfloat16 weights, its Linear layers pre-packed for oneDNN
  (:mod:`~mmdemo.backends.packed_linear`); its input is cast to bfloat16 and its outputs back
  to float32, so the text side sees float32 as before.
- ``cross-attention-bfloat16``: in every text layer's cross-attention, the keys and values of
  the image's tokens (577 rows for BLIP base: the text side's only large products) come from
  bfloat16 products packed for oneDNN, cast back to float32; queries, self-attention and MLPs are
  untouched. On the benchmark's VQA model this took ~9 % off an answer with identical greedy
  tokens on 30 of 30 inputs, where bfloat16 for the whole text side matched on 23 of 30 (issue 7
  probe). Applied before ``text-int8``, so those layers stay bfloat16.
- ``text-int8`` (captioning only): the text decoder's ``Linear`` layers are dynamically quantised
  to int8 (weights int8, activations quantised per call). Decoding runs one token at a time, so
  it is bound by reading the weights: int8 reads a quarter of float32's bytes. VQA does not get
  it: on the benchmark's models int8 in its decoder (or question encoder) changed greedy answers.

bfloat16 autocast over the whole of ``generate`` is not used on CPU: it re-casts every decoder
weight at every token and was measured several times slower than float32.
"""

from __future__ import annotations

import logging
import warnings

import torch
from transformers import AutoProcessor, BlipForConditionalGeneration, BlipForQuestionAnswering

from mmdemo.backends.bfloat16_vision import vision_in_bfloat16
from mmdemo.backends.packed_linear import PackedBFloat16Linear, packing_available
from mmdemo.loading import LoadedModel, from_pretrained
from mmdemo.registry import ModelSpec

logger = logging.getLogger(__name__)


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    cls = BlipForConditionalGeneration if spec.backend == "blip-caption" else BlipForQuestionAnswering
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
    model = from_pretrained(spec, cls.from_pretrained, dtype=torch.float32)
    model.eval().to(device)
    applied = []
    if "vision-bfloat16" in speedups:
        vision_in_bfloat16(model)
        applied.append("vision-bfloat16")
    if "cross-attention-bfloat16" in speedups and device.type == "cpu" and packing_available():
        pack_cross_attention_inputs(model)
        applied.append("cross-attention-bfloat16")
    if "text-int8" in speedups and quantize_text_int8(model):
        applied.append("text-int8")
    return LoadedModel(
        spec, model, processor, processor.tokenizer, device, dtype, extras={"speedups": tuple(applied)}
    )


def pack_cross_attention_inputs(model: torch.nn.Module) -> int:
    """Replace the key and value projections of every text cross-attention (they read the image's
    tokens) with packed bfloat16 products returning float32, in place; returns how many layers."""
    count = 0
    for layer in model.modules():
        attention = getattr(getattr(layer, "crossattention", None), "self", None)
        if attention is None:
            continue
        attention.key = PackedBFloat16Linear(attention.key, out_dtype=torch.float32)
        attention.value = PackedBFloat16Linear(attention.value, out_dtype=torch.float32)
        count += 1
    return count


def quantize_text_int8(model: torch.nn.Module) -> bool:
    """Quantise the text decoder's Linear layers to dynamic int8, in place.

    Returns False (and leaves the model as it was) where this torch build has no dynamic
    quantisation; torch marks ``torch.ao.quantization`` deprecated in favour of torchao, which
    is not a dependency.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            from torch.ao.quantization import quantize_dynamic
        except ImportError:
            logger.info("Dynamic int8 quantisation is not available in this torch; BLIP text stays float32")
            return False
        quantize_dynamic(model.text_decoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return True
