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
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor

from mmdemo.world.loop import StageConfig, StageLog, run_stage
from mmdemo.world.models import BlipShape, build_blip, decoder_inputs
from mmdemo.world.pool import TrainingPool, pixel_values
from mmdemo.world.text import ask


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


def train_blip(
    pool: TrainingPool,
    config: StageConfig,
    seed: int,
    shape: BlipShape = BlipShape(),
    caption: bool = True,
    vqa: bool = True,
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor, StageLog]:
    """Train a fresh captioner and/or VQA model on ``pool`` (both share the vision tower)."""
    if not (caption or vqa):
        raise ValueError("train_blip needs caption=True or vqa=True")
    torch.manual_seed(seed)
    captioner, answerer, processor = build_blip(shape)
    captioner.train()
    answerer.train()
    rng = np.random.default_rng([seed, 3])
    n = len(pool)
    batch_size = min(config.batch_size, n)

    def step_loss(step: int) -> dict[str, torch.Tensor]:
        idx = rng.choice(n, size=batch_size, replace=False)
        image_embeds = captioner.vision_model(pixel_values=pixel_values(pool.images[idx])).last_hidden_state
        losses = {}
        if caption:
            losses["caption"] = caption_loss(captioner, processor, image_embeds, [pool.captions[0][i] for i in idx])
        if vqa:
            pairs = [ask(pool.samples[i].scene, rng) for i in idx]
            losses["vqa"] = vqa_loss(
                answerer, processor, image_embeds, [qa.question for qa in pairs], [qa.answer for qa in pairs]
            )
        return losses

    parameters = []
    if caption:
        parameters += list(captioner.parameters())
    if vqa:
        parameters += list(answerer.parameters())
    log = run_stage("blip", parameters, config, step_loss)
    return captioner.eval(), answerer.eval(), processor, log
