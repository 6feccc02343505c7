"""Per-step log-probabilities of a given token sequence under a BLIP model (teacher forcing).

Two paths compared step by step on *different* greedy outputs would compare different prefixes
after the first disagreement. Teacher forcing feeds both the same tokens (float32's greedy
output) and reads, at every step, the distribution each path gives the next token: the
generation checks of :mod:`mmdemo.bench.fidelity` work on these.

The arithmetic is BLIP's own ``generate`` (transformers): the vision tower's tokens, for VQA the
question encoded against them, then the text decoder over the tokens so far; the step-``t``
logits are the decoder's output at position ``t``, which predicts token ``t + 1``. Works on the
float32 model and on mmdemo's fast paths alike (their forward hooks and replaced layers run).
"""

from __future__ import annotations

import torch
from PIL import Image


def blip_step_logprobs(
    model: torch.nn.Module, processor, image: Image.Image, tokens: list[int], question: str | None = None
) -> torch.Tensor:
    """float32 log-probabilities [len(tokens) - 1, vocab]: row ``t`` is the distribution of
    token ``t + 1`` given the image (and ``question``, for a VQA model) and ``tokens[: t + 1]``.

    ``tokens`` is a whole generated sequence, start token first, as ``model.generate`` returns it.
    """
    if len(tokens) < 2:
        raise ValueError(f"Need the start token and at least one generated token, got {tokens}")
    device = next(model.parameters()).device
    inputs = processor(images=image, text=question, return_tensors="pt").to(device)
    with torch.inference_mode():
        image_embeds = model.vision_model(pixel_values=inputs["pixel_values"])[0]  # [1, P, H]
        memory = image_embeds
        if question is not None:  # BlipForQuestionAnswering: the question read against the image
            memory = model.text_encoder(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=device),
                return_dict=False,
            )[0]  # [1, Q, H]
        ids = torch.as_tensor([tokens[:-1]], dtype=torch.long, device=device)  # [1, T]
        out = model.text_decoder(
            input_ids=ids, attention_mask=torch.ones_like(ids), encoder_hidden_states=memory,
            encoder_attention_mask=torch.ones(memory.shape[:-1], dtype=torch.long, device=device),
            return_dict=True,
        )
    return out.logits[0].float().log_softmax(dim=-1)  # [T, V]
