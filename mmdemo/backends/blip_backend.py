"""BLIP captioning and VQA through transformers (``BlipFor…`` + ``BlipProcessor``): the
``blip-caption`` and ``blip-vqa`` backends.

Keeps the backend contract of :mod:`mmdemo.backends`; transformers is imported in :func:`load`.
Entry points: :func:`generate_captions` and :func:`answer_question`, each returning
:class:`ScoredText` scored by the per-token geometric-mean probability ``exp(mean log p)``.

Load-time speed-ups for generation on CPU (the policy in :mod:`mmdemo.loading` allows them, this
module's :func:`speedups_for` names them; measured by ``python -m mmdemo bench``):

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
- ``text-int8``: the text decoder's ``Linear`` layers are dynamically quantised to int8 (weights
  int8, activations quantised per call). Decoding runs one token at a time, so it is bound by
  reading the weights: int8 reads a quarter of float32's bytes. **Off by default**
  (:data:`OFF_BY_DEFAULT`): on full-size BLIP base with its logits sharpened x10 (top-1 margins
  ~1 nat) its largest per-step log-probability error, teacher-forced on float32's greedy tokens,
  was 0.25 nats, against the bar of 0.05 (its top-1 tokens at steps with a >= 1 nat margin stayed
  identical; ``python -m mmdemo bench``, README, Performance). ``load`` still applies it when
  asked (the benchmark measures it there) until it meets the bar.

bfloat16 autocast over the whole of ``generate`` is not used on CPU: it re-casts every decoder
weight at every token and was measured several times slower than float32.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, from_pretrained, load_checked
from mmdemo.backends.bfloat16_vision import vision_in_bfloat16
from mmdemo.backends.packed_linear import PackedBFloat16Linear, packing_available
from mmdemo.registry import ModelSpec

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

GENERATIVE = True

ARCHITECTURES = {
    "blip-caption": ("BlipForConditionalGeneration",),
    "blip-vqa": ("BlipForQuestionAnswering",),
}
"""The config ``architectures`` each backend runs. BLIP's heads share a model type but not their
weights: a captioning checkpoint has no question encoder, an image-text-matching one no decoder,
and a VQA checkpoint's decoder generates answers, not captions; each is refused in another's role."""
MODEL_TYPES = ("blip",)

SPEEDUPS = {
    "vision-bfloat16": "BLIP's vision encoder holds bfloat16 weights, pre-packed for oneDNN where possible "
    "(its output is cast back to float32)",
    "cross-attention-bfloat16": "BLIP's text cross-attention computes the keys and values of the image's "
    "tokens with pre-packed bfloat16 products (cast back to float32)",
    "text-int8": "BLIP's text decoder Linear layers are dynamically quantised to int8 (off by default: "
    "misses the generation fidelity bar)",
}

OFF_BY_DEFAULT = {
    "text-int8": "misses the generation fidelity bar on full-size BLIP base with logits sharpened x10: its "
    "largest per-step log-probability error, teacher-forced on float32's greedy tokens, was 0.25 nats against "
    "a bar of 0.05 (0.37 nats on BLIP base VQA; issue 15; python -m mmdemo bench re-measures it on every run)",
}
"""Speed-ups in :data:`SPEEDUPS` that :func:`speedups_for` never names, and why: a fast path that
misses a fidelity bar stays off until it meets it."""

available_offline = checkpoint_available_offline


def speedups_for(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """On CPU, captioning and VQA: ``vision-bfloat16`` and ``cross-attention-bfloat16`` (both
    within the generation bar). Never those in :data:`OFF_BY_DEFAULT` (``text-int8``)."""
    if device.type != "cpu":
        return ()
    return ("vision-bfloat16", "cross-attention-bfloat16")


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    from transformers import AutoProcessor, BlipForConditionalGeneration, BlipForQuestionAnswering

    cls = BlipForConditionalGeneration if spec.backend == "blip-caption" else BlipForQuestionAnswering
    model = load_checked(spec, cls, ARCHITECTURES[spec.backend], MODEL_TYPES, dtype=torch.float32)
    processor = from_pretrained(spec, AutoProcessor.from_pretrained)
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


# ------------------------------------------------------------------------------------ generation


@dataclass
class ScoredText:
    """A generated text and its score: ``exp(mean log p)`` of its tokens, in (0, 1]."""

    text: str
    score: float


def generate_captions(
    loaded: LoadedModel, image: Image.Image, prefix: str | None, options: dict[str, Any], seed: int | None
) -> list[ScoredText]:
    """Captions of ``image`` (continuing ``prefix`` when given), one per returned sequence.

    ``options`` are ``generate``'s decoding arguments (strategy, beams, lengths; see
    :meth:`mmdemo.generate.DecodingConfig.generate_kwargs`); ``seed`` seeds sampling (None: no
    sampling). Texts have their whitespace collapsed.
    """
    inputs = loaded.processor(images=image, text=prefix, return_tensors="pt").to(loaded.device)
    output = _generate(loaded, dict(inputs), options, seed)
    texts = loaded.processor.batch_decode(output.sequences, skip_special_tokens=True)
    return [ScoredText(" ".join(text.split()), float(score)) for text, score in zip(texts, _sequence_scores(loaded, output))]


def answer_question(loaded: LoadedModel, image: Image.Image, question: str, max_new_tokens: int) -> ScoredText:
    """The greedy answer to ``question`` about ``image``, with its confidence; an empty answer (the
    model ended at once) is returned as it is."""
    inputs = loaded.processor(images=image, text=question, return_tensors="pt", truncation=True)
    options = dict(max_new_tokens=max_new_tokens, output_scores=True, return_dict_in_generate=True)
    output = _generate(loaded, dict(inputs.to(loaded.device)), options, None)
    text = loaded.processor.batch_decode(output.sequences, skip_special_tokens=True)[0]
    return ScoredText(" ".join(text.split()), float(_sequence_scores(loaded, output)[0]))


def _generate(loaded: LoadedModel, inputs: dict, options: dict, seed: int | None):
    with torch.inference_mode(), loaded.autocast():
        if seed is None:
            return loaded.model.generate(**inputs, **options)
        with loaded.run_lock:  # sampling draws from the global generator: seed and draw together
            torch.manual_seed(seed)
            return loaded.model.generate(**inputs, **options)


def _sequence_scores(loaded: LoadedModel, output) -> list[float]:
    """exp(mean log p) of each generated sequence's new tokens, up to its first end token."""
    if getattr(output, "sequences_scores", None) is not None:  # beam search: length-normalised
        return output.sequences_scores.exp().tolist()
    decoder = getattr(loaded.model, "text_decoder", loaded.model)
    steps = decoder.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
    new_tokens = output.sequences[:, -steps.shape[1] :]  # [B, steps]
    eos = loaded.tokenizer.sep_token_id
    alive = torch.ones_like(steps, dtype=torch.bool)
    if eos is not None:
        ended = (new_tokens == eos).int().cumsum(dim=1)
        alive = (ended == 0) | ((ended == 1) & (new_tokens == eos))  # keep up to the first end
    log_probs = torch.where(alive, steps, torch.zeros_like(steps)).sum(dim=1)
    counts = alive.sum(dim=1).clamp(min=1)
    return (log_probs / counts).exp().tolist()
