"""Stage 3: a small BLIP captioner and a small BLIP VQA model, trained together.

The two models share one vision tower during training (it runs once per batch and learns from
both losses), then each is saved whole, so each folder loads on its own. The losses are computed
through the models' own submodules exactly as ``generate`` uses them:

- captioner: ``text_decoder`` over ``[DEC] caption [SEP]``, cross-attending to all image tokens;
- VQA: ``text_encoder`` over ``[CLS] question [SEP]`` cross-attending to the image, then
  ``text_decoder`` over ``[DEC] answer [SEP]`` cross-attending to every question token (``generate``
  passes an all-ones mask there, so training does too).

Every step asks a fresh question about each sample (families drawn uniformly), so the VQA model
sees far more question-answer pairs than the pool has samples.

When a trained CLIP is at hand, the shared vision tower is also *distilled* from CLIP's vision
tower: a linear map of BLIP's image tokens regresses CLIP's (layer-normalised) tokens, computed
once for the pool (:func:`teacher_tokens`). That dense target teaches the tower what is where within
the first steps, so the generative losses train the decoders instead of waiting for the tower;
the map is dropped after training.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    BlipProcessor,
    CLIPModel,
    PreTrainedTokenizerFast,
)

from mmdemo.model_factory import BlipShape
from mmdemo.pretrain.configs import build_blip
from mmdemo.pretrain.loop import StageConfig, StageLog, run_stage
from mmdemo.pretrain.pool import TrainingPool, pixel_values
from mmdemo.world.text import ask

logger = logging.getLogger(__name__)


def decoder_inputs(
    tokenizer: PreTrainedTokenizerFast, texts: list[str], bos_token_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoder ``input_ids`` ([DEC] words [SEP] [PAD]...), attention mask and LM labels.

    The labels are the input ids with padding set to -100; BLIP's LM head shifts them itself.
    """
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    input_ids = batch["input_ids"].clone()  # [B, L]
    input_ids[:, 0] = bos_token_id
    labels = input_ids.masked_fill(batch["attention_mask"] == 0, -100)
    return input_ids, batch["attention_mask"], labels


def caption_loss(
    captioner: BlipForConditionalGeneration, processor: BlipProcessor, image_embeds: torch.Tensor, captions: list[str]
) -> torch.Tensor:
    bos = captioner.config.text_config.bos_token_id
    input_ids, mask, labels = decoder_inputs(processor.tokenizer, captions, bos)
    image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long)  # [B, tokens]
    return captioner.text_decoder(
        input_ids=input_ids,
        attention_mask=mask,
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=image_mask,
        labels=labels,
        reduction="mean",
    ).loss


def vqa_loss(
    vqa: BlipForQuestionAnswering,
    processor: BlipProcessor,
    image_embeds: torch.Tensor,
    questions: list[str],
    answers: list[str],
) -> torch.Tensor:
    asked = processor.tokenizer(questions, padding=True, return_tensors="pt")
    image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long)  # [B, tokens]
    question_embeds = vqa.text_encoder(
        input_ids=asked["input_ids"],
        attention_mask=asked["attention_mask"],
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=image_mask,
    ).last_hidden_state  # [B, Lq, H]
    bos = vqa.config.text_config.bos_token_id
    input_ids, mask, labels = decoder_inputs(processor.tokenizer, answers, bos)
    return vqa.text_decoder(
        input_ids=input_ids,
        attention_mask=mask,
        encoder_hidden_states=question_embeds,
        encoder_attention_mask=torch.ones(question_embeds.shape[:-1], dtype=torch.long),
        labels=labels,
        reduction="mean",
    ).loss


@torch.no_grad()
def teacher_tokens(teacher: CLIPModel, pool: TrainingPool, batch: int = 256) -> torch.Tensor:
    """Distillation targets from CLIP's vision tower for the whole pool [N, T, H], layer-normalised.

    Token 0: CLIP's final class token, the summary its image embedding is projected from (it knows
    what is where, so the student's class token does too, which VQA needs from its first step);
    the patch tokens: CLIP's tokens entering its last layer (what its class token reads).
    """
    teacher.eval()
    parts = []
    for start in range(0, len(pool), batch):
        out = teacher.vision_model(pixel_values=pixel_values(pool.images[start : start + batch]), output_hidden_states=True)
        tokens = torch.cat([out.last_hidden_state[:, :1], out.hidden_states[-2][:, 1:]], dim=1)  # [B, T, H]
        parts.append(F.layer_norm(tokens, tokens.shape[-1:]))
    return torch.cat(parts)


def train_blip(
    pool: TrainingPool,
    config: StageConfig,
    seed: int,
    shape: BlipShape = BlipShape(),
    caption: bool = True,
    vqa: bool = True,
    teacher: CLIPModel | None = None,
    questions_per_image: int = 2,
    share_text: bool = False,
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor, StageLog]:
    """Train a fresh captioner and/or VQA model on ``pool`` (both share the vision tower).

    ``teacher``: a trained CLIP whose vision tower the shared tower is distilled from (optional).
    ``questions_per_image``: questions asked about each image per step (the tower runs once).
    """
    if not (caption or vqa):
        raise ValueError("train_blip needs caption=True or vqa=True")
    targets = teacher_tokens(teacher, pool) if teacher is not None else None
    torch.manual_seed(seed)
    captioner, answerer, processor = build_blip(shape, share_text)
    distill = None
    if targets is not None:
        if targets.shape[1] != (shape.image_size // shape.patch_size) ** 2 + 1:
            raise ValueError(f"teacher gives {targets.shape[1]} image tokens; BLIP's tower makes a different number")
        distill = nn.Linear(shape.hidden, targets.shape[-1])
    captioner.train()
    answerer.train()
    rng = np.random.default_rng([seed, 3])
    n = len(pool)
    batch_size = min(config.batch_size, n)

    def step_loss(step: int) -> dict[str, torch.Tensor]:
        idx = rng.choice(n, size=batch_size, replace=False)
        image_embeds = captioner.vision_model(pixel_values=pixel_values(pool.images[idx])).last_hidden_state
        losses = {}
        if distill is not None:
            losses["distill"] = F.mse_loss(distill(image_embeds), targets[torch.from_numpy(idx)])
        if caption:
            losses["caption"] = caption_loss(captioner, processor, image_embeds, [pool.captions[0][i] for i in idx])
        if vqa:
            pairs = [ask(pool.scenes[i], rng) for i in idx for _ in range(questions_per_image)]
            repeated = image_embeds.repeat_interleave(questions_per_image, dim=0)  # [B, T, H] -> [B * q, T, H]
            losses["vqa"] = vqa_loss(
                answerer, processor, repeated, [qa.question for qa in pairs], [qa.answer for qa in pairs]
            )
        return losses

    parameters = []
    if caption:
        parameters += list(captioner.parameters())
    if vqa:
        parameters += list(answerer.parameters())
    if distill is not None:
        parameters += list(distill.parameters())
    log = run_stage("blip", parameters, config, step_loss)
    return captioner.eval(), answerer.eval(), processor, log
