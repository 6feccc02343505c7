"""Stage 3: a small BLIP captioner and a small BLIP VQA model, trained together.

The two models share one vision tower during training (it runs once per batch and learns from
both losses), then each is saved whole, so each folder loads on its own. The losses are computed
through the models' own submodules exactly as ``generate`` uses them:

- captioner: ``text_decoder`` over ``[DEC] caption [SEP]``, cross-attending to all image tokens;
- VQA: ``text_encoder`` over ``[CLS] question [SEP]`` cross-attending to the image, then
  ``text_decoder`` over ``[DEC] answer [SEP]`` cross-attending to every question token (``generate``
  passes an all-ones mask there, so training does too).

Every step asks fresh questions about each sample (families drawn uniformly), so the VQA model
sees far more question-answer pairs than the pool has samples. A share of them (``varied``) is
phrased as people ask (:func:`~mmdemo.world.phrasing.ask_varied`), and a share (``out_of_world``)
is a question no picture of shapes answers (:func:`~mmdemo.world.phrasing.ask_out_of_world`),
answered :data:`~mmdemo.world.phrasing.CANNOT_TELL`.

When a trained CLIP is at hand, the shared vision tower is also *distilled* from CLIP's vision
tower: a linear map of BLIP's image tokens regresses CLIP's (layer-normalised) tokens, computed
once for the pool (:func:`teacher_tokens`). That dense target teaches the tower what is where within
the first steps, so the generative losses train the decoders instead of waiting for the tower;
the map is dropped after training.

A *shape head* (``shape_head`` > 0) is a second auxiliary loss on the tower: a linear map of the
averaged tokens of each column third of the picture names the kind, colour and size of the shape
there (or none), by cross-entropy on the scene's exact labels (:func:`column_targets`), on every
picture, varied drawings included (which no CLIP teacher knows); the head is dropped after training.
It teaches colour within a few hundred steps; the kind of a shape at a free place it did not teach
in this project's CPU budget from the head alone (see the README and ``python -m tests.world.tower_probe``).

A *convolutional teacher* (``conv_teacher`` > 0) does: the tower's patch tokens also regress, through a
linear map dropped after training, EfficientNet-Lite0's feature map of the same picture
(:mod:`~mmdemo.pretrain.conv_teacher`), on every picture, varied drawings included.
"""

from __future__ import annotations

import logging
from pathlib import Path

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
from mmdemo.pretrain.conv_teacher import TEACHER_CHANNELS, ConvTeacher, load_conv_teacher
from mmdemo.pretrain.loop import StageConfig, StageLog, run_stage
from mmdemo.pretrain.pool import TrainingPool, image_tensor, pixel_values
from mmdemo.world.phrasing import ask_out_of_world, ask_varied
from mmdemo.world.render import render_scene, sample_style, to_model_input
from mmdemo.world.scenes import COLOUR_NAMES, KINDS, POSITIONS, SIZES, Scene, sample_free_scene
from mmdemo.world.text import QA, ask, describe

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


# The shape head's labels per column: (attribute, its values); index 0 of each means "no shape here".
COLUMN_LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (("kind", KINDS), ("colour", COLOUR_NAMES), ("size", SIZES))


def column_targets(scenes: list[Scene]) -> torch.Tensor:
    """Class indices [B, columns, attributes] of the shape in each column (0: none, else 1 + the
    value's index in :data:`COLUMN_LABELS`)."""
    targets = torch.zeros(len(scenes), len(POSITIONS), len(COLUMN_LABELS), dtype=torch.long)
    for i, scene in enumerate(scenes):
        for c, position in enumerate(POSITIONS):
            shape = scene.at(position)
            if shape is not None:
                for a, (attribute, values) in enumerate(COLUMN_LABELS):
                    targets[i, c, a] = 1 + values.index(getattr(shape, attribute))
    return targets


def column_tokens(image_embeds: torch.Tensor) -> torch.Tensor:
    """The tower's patch tokens averaged over each column third of the picture: [B, T, H] -> [B, columns, H].

    A patch belongs to the third that holds its centre (the class token, first, is left out)."""
    batch, tokens, hidden = image_embeds.shape
    grid = int(round((tokens - 1) ** 0.5))
    patches = image_embeds[:, 1:].reshape(batch, grid, grid, hidden)  # [B, rows, cols, H] (row-major patches)
    owner = torch.tensor([int((j + 0.5) * len(POSITIONS) / grid) for j in range(grid)])
    return torch.stack([patches[:, :, owner == c].mean(dim=(1, 2)) for c in range(len(POSITIONS))], dim=1)


def shape_head_loss(head: nn.Linear, image_embeds: torch.Tensor, scenes: list[Scene]) -> torch.Tensor:
    """Mean cross-entropy of the head's kind, colour and size of each column's shape (or none), read
    from that column's tokens (:func:`column_tokens`); the head maps H to sum(1 + len(values)) logits."""
    logits = head(column_tokens(image_embeds))  # [B, columns, sum of classes]
    targets = column_targets(scenes)
    losses, start = [], 0
    for a, (_, values) in enumerate(COLUMN_LABELS):
        width = 1 + len(values)
        part = logits[:, :, start : start + width].reshape(-1, width)  # [B * columns, classes]
        losses.append(F.cross_entropy(part, targets[:, :, a].reshape(-1)))
        start += width
    return torch.stack(losses).mean()


def training_question(scene: Scene, rng: np.random.Generator, varied: float, out_of_world: float) -> QA:
    """One VQA training pair: out of the world with probability ``out_of_world``, else a question
    about ``scene``, reworded with probability ``varied``, canonical otherwise."""
    roll = rng.random()
    if roll < out_of_world:
        return ask_out_of_world(rng)
    if roll < out_of_world + (1.0 - out_of_world) * varied:
        return ask_varied(scene, rng)
    return ask(scene, rng)


def load_blip_pair(folder: Path) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor]:
    """The captioner and VQA model saved under ``folder`` (``caption/``, ``vqa/``), sharing the
    captioner's vision tower again (joint training made them equal), and the VQA folder's processor."""
    missing = [name for name in ("caption", "vqa") if not (folder / name / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(f"No saved BLIP {', '.join(missing)} under {folder} to continue from")
    captioner = BlipForConditionalGeneration.from_pretrained(folder / "caption")
    answerer = BlipForQuestionAnswering.from_pretrained(folder / "vqa")
    for (name, a), b in zip(captioner.vision_model.state_dict().items(), answerer.vision_model.state_dict().values()):
        if not torch.equal(a, b):
            raise ValueError(f"{folder}: the caption and VQA vision towers differ ({name}); they were not trained together")
    answerer.vision_model = captioner.vision_model
    return captioner, answerer, BlipProcessor.from_pretrained(folder / "vqa")


def fresh_varied_batch(n: int, rng: np.random.Generator, size: int) -> tuple[list[Scene], torch.Tensor]:
    """``n`` free-layout scenes drawn now, each rendered in a random style and resized to the input."""
    scenes = [sample_free_scene(rng) for _ in range(n)]
    images = [image_tensor(to_model_input(render_scene(scene, style=sample_style(rng)), size)) for scene in scenes]
    return scenes, torch.stack(images)  # [n, 3, size, size] uint8


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
    varied_questions: float = 0.0,
    out_of_world: float = 0.0,
    teacher_plain_only: bool = True,
    fresh_varied: float = 0.0,
    wordpiece: bool = False,
    shape_head: float = 0.0,
    tower_warmup: StageConfig | None = None,
    conv_teacher: float = 0.0,
    conv_teacher_model: ConvTeacher | None = None,
    init_from: Path | None = None,
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor, StageLog]:
    """Train a fresh captioner and/or VQA model on ``pool`` (both share the vision tower).

    ``teacher``: a trained CLIP whose vision tower the shared tower is distilled from (optional).
    ``questions_per_image``: questions asked about each image per step (the tower runs once).
    ``varied_questions``, ``out_of_world``: shares of reworded and of out-of-world questions.
    ``teacher_plain_only``: distil on the pool's plain scenes only (a CLIP trained on the plain world
    is no teacher for drawings it never saw).
    ``fresh_varied``: the share of every batch made of varied scenes drawn and rendered afresh at
    that step (:func:`fresh_varied_batch`), so no varied picture is seen twice and none can be learnt
    by heart; the rest comes from the pool. ``wordpiece``: the WordPiece tokenizer.
    ``shape_head``: weight of the auxiliary per-column kind/colour/size loss on the tower's patch
    tokens (0: none; see the module docstring).
    ``tower_warmup``: first train the vision tower alone with the shape head (and the teacher, if
    any) for these steps, which cost a fraction of a joint step, so the decoders start from a tower
    that already sees kind, colour, size and place (needs ``shape_head`` or ``conv_teacher`` > 0).
    ``conv_teacher``: weight of the distillation of the patch tokens from EfficientNet-Lite0's
    feature map (0: none); ``conv_teacher_model`` that teacher (default: :func:`load_conv_teacher`).
    ``init_from``: continue from the ``caption/`` and ``vqa/`` folders of an earlier run under this
    folder (their weights, processor and tokenizer; ``shape`` and ``wordpiece`` are then theirs),
    the vision tower shared again; the auxiliary maps start afresh.
    """
    if not (caption or vqa):
        raise ValueError("train_blip needs caption=True or vqa=True")
    if tower_warmup is not None and shape_head <= 0 and conv_teacher <= 0:
        raise ValueError(
            f"tower_warmup needs shape_head > 0 or conv_teacher > 0, got shape_head={shape_head}, conv_teacher={conv_teacher}"
        )
    targets = teacher_tokens(teacher, pool) if teacher is not None else None
    torch.manual_seed(seed)
    if init_from is not None:
        captioner, answerer, processor = load_blip_pair(Path(init_from))
        vision = captioner.config.vision_config
        shape = BlipShape(image_size=vision.image_size, patch_size=vision.patch_size, hidden=vision.hidden_size)
    else:
        captioner, answerer, processor = build_blip(shape, share_text, wordpiece)
    distill = None
    if targets is not None:
        if targets.shape[1] != (shape.image_size // shape.patch_size) ** 2 + 1:
            raise ValueError(f"teacher gives {targets.shape[1]} image tokens; BLIP's tower makes a different number")
        distill = nn.Linear(shape.hidden, targets.shape[-1])
    head = nn.Linear(shape.hidden, sum(1 + len(v) for _, v in COLUMN_LABELS)) if shape_head > 0 else None
    conv = conv_map = None
    if conv_teacher > 0:
        conv = conv_teacher_model if conv_teacher_model is not None else load_conv_teacher()
        conv_map = nn.Linear(shape.hidden, TEACHER_CHANNELS)
    grid = shape.image_size // shape.patch_size
    captioner.train()
    answerer.train()
    rng = np.random.default_rng([seed, 3])
    distill_below = pool.varied_from if teacher_plain_only else len(pool)
    n = len(pool)

    def draw_batch(size: int) -> tuple[np.ndarray, list[Scene], list[str], torch.Tensor, torch.Tensor]:
        """``size`` samples: pool indices, scenes, captions, uint8 images and their tower outputs [B, T, H]."""
        fresh = int(round(fresh_varied * size))
        idx = rng.choice(n, size=min(size - fresh, n), replace=False)
        scenes = [pool.scenes[i] for i in idx]
        captions = [pool.captions[0][i] for i in idx]
        images = pool.images[idx]
        if fresh:
            new_scenes, new_images = fresh_varied_batch(fresh, rng, pool.config.image_size)
            scenes, images = scenes + new_scenes, torch.cat([images, new_images])
            captions = captions + [describe(scene) for scene in new_scenes]
        image_embeds = captioner.vision_model(pixel_values=pixel_values(images)).last_hidden_state
        return idx, scenes, captions, images, image_embeds

    def tower_losses(
        idx: np.ndarray, scenes: list[Scene], images: torch.Tensor, image_embeds: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        losses = {}
        if distill is not None:
            plain = torch.from_numpy(idx < distill_below)  # the teacher knows the plain world only
            if plain.any():
                rows = torch.from_numpy(idx)[plain]
                losses["distill"] = F.mse_loss(distill(image_embeds[: len(idx)][plain]), targets[rows])
        if head is not None:
            losses["shape"] = shape_head * shape_head_loss(head, image_embeds, scenes)
        if conv is not None:
            patches = conv_map(image_embeds[:, 1:])  # [B, grid * grid, 112]
            losses["conv"] = conv_teacher * F.mse_loss(patches, conv(images, grid))
        return losses

    auxiliary = [p for module in (distill, head, conv_map) if module is not None for p in module.parameters()]
    if tower_warmup is not None:

        def warmup_loss(step: int) -> dict[str, torch.Tensor]:
            idx, scenes, _, images, image_embeds = draw_batch(tower_warmup.batch_size)
            return tower_losses(idx, scenes, images, image_embeds)

        run_stage("blip-tower", list(captioner.vision_model.parameters()) + auxiliary, tower_warmup, warmup_loss)

    def step_loss(step: int) -> dict[str, torch.Tensor]:
        idx, scenes, captions, images, image_embeds = draw_batch(config.batch_size)
        losses = tower_losses(idx, scenes, images, image_embeds)
        if caption:
            losses["caption"] = caption_loss(captioner, processor, image_embeds, captions)
        if vqa:
            pairs = [
                training_question(scene, rng, varied_questions, out_of_world)
                for scene in scenes
                for _ in range(questions_per_image)
            ]
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
    log = run_stage("blip", parameters + auxiliary, config, step_loss)
    return captioner.eval(), answerer.eval(), processor, log
