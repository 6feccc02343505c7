"""Stage 1: a small CLIP, contrastive on images and captions at several levels of detail.

Each step draws a batch of pool scenes and, per sample, a caption level (the full caption most of
the time, otherwise one without sizes, without columns, or with colours and kinds only). A text is
a positive for every image in the batch that it describes correctly (same description id at the
text's level), so partial captions do not punish true matches. A share of the texts
(``reworded``) is reworded as people write (:func:`~mmdemo.world.phrasing.vary_caption`: "a picture
of ...", "to the left", capitals, no full stop), with the same meaning and description id.

With ``claims`` > 0 the CLIP also learns the world's claims ("there are two shapes.", "the red
circle is large."): each step one claim per image, true or false by a fair coin, and a sigmoid
loss over every (claim, image) pair of the batch, whose target is whether the claim holds of that
image (:meth:`~mmdemo.world.text.Claim.holds`; SigLIP's pairwise loss, Zhai et al. 2023). A CLIP
trained on captions alone ranks a true claim above a false one barely better than chance (AUC
0.61), so the fusion heads of the world's ``claim`` task had nothing to compare.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPModel, CLIPProcessor

from mmdemo.model_factory import ClipShape
from mmdemo.pretrain.configs import build_clip
from mmdemo.pretrain.contrastive import symmetric_nce
from mmdemo.pretrain.loop import StageConfig, StageLog, run_stage
from mmdemo.pretrain.pool import TrainingPool, pixel_values
from mmdemo.world.phrasing import vary_caption
from mmdemo.world.text import DETAILS, claim

LEVEL_WEIGHTS = (0.55, 0.15, 0.15, 0.15)  # DETAILS order: full, no size, no position, sound level


def clip_text_features(model: CLIPModel, processor: CLIPProcessor, texts: list[str]) -> torch.Tensor:
    """Unnormalised projected text features [B, D]."""
    batch = processor.tokenizer(texts, padding=True, return_tensors="pt")
    return model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output


def train_clip(
    pool: TrainingPool,
    config: StageConfig,
    seed: int,
    shape: ClipShape = ClipShape(),
    hard_negatives: bool = False,
    reworded: float = 0.0,
    varied: bool = False,
    wordpiece: bool = False,
    claims: float = 0.0,
) -> tuple[CLIPModel, CLIPProcessor, StageLog]:
    """Train a fresh CLIP on ``pool``; returns the model (eval mode), its processor and the log.

    With ``hard_negatives``, batches consist of whole pool pairs (a scene and its near miss).
    ``reworded``: the share of texts reworded (:func:`~mmdemo.world.phrasing.vary_caption`).
    ``varied``: also train on the pool's varied items (else only its plain scenes);
    ``wordpiece``: a WordPiece tokenizer instead of the world's word-level vocabulary.
    ``claims``: weight of the claim loss (see the module docstring; 0: captions only).
    """
    torch.manual_seed(seed)
    model, processor = build_clip(shape, wordpiece=wordpiece)
    n = len(pool) if varied else pool.varied_from
    model.train()
    rng = np.random.default_rng([seed, 1])
    claim_scale = nn.Parameter(torch.tensor(float(np.log(10.0))))  # sigmoid temperature and bias,
    claim_bias = nn.Parameter(torch.tensor(0.0))  # used in training only

    def claim_loss(idx: np.ndarray, image: torch.Tensor) -> torch.Tensor:
        scenes = [pool.scenes[i] for i in idx]
        said = [claim(scene, rng, bool(rng.random() < 0.5)) for scene in scenes]
        text = F.normalize(clip_text_features(model, processor, [c.text for c in said]), dim=-1)
        truth = torch.tensor([[c.holds(scene) for scene in scenes] for c in said], dtype=torch.float32)  # [claims, images]
        logits = claim_scale.exp() * text @ image.T + claim_bias  # [claims, images]
        return F.binary_cross_entropy_with_logits(logits, truth)

    def step_loss(step: int) -> dict[str, torch.Tensor]:
        if hard_negatives:
            idx = pool.pair_batch(rng, config.batch_size)
        else:
            idx = rng.choice(n, size=min(config.batch_size, n), replace=False)
        batch_size = len(idx)
        levels = rng.choice(len(DETAILS), size=batch_size, p=LEVEL_WEIGHTS)
        texts = [
            vary_caption(pool.scenes[i], DETAILS[level], rng) if reworded and rng.random() < reworded else pool.captions[level][i]
            for level, i in zip(levels, idx)
        ]
        image = F.normalize(model.get_image_features(pixel_values=pixel_values(pool.images[idx])).pooler_output, dim=-1)
        text = F.normalize(clip_text_features(model, processor, texts), dim=-1)
        ids = pool.description_ids[torch.from_numpy(idx)]  # [B, levels]
        level_index = torch.from_numpy(levels)
        text_ids = ids[torch.arange(batch_size), level_index]  # [B] each text's id at its level
        image_ids = ids[:, level_index].T  # [B(text), B(image)] each image's id at each text's level
        positives = image_ids == text_ids[:, None]  # [B, B]
        scale = model.logit_scale.clamp(max=np.log(100.0)).exp()
        losses = {"contrastive": symmetric_nce(scale * text @ image.T, positives)}
        if claims > 0:
            losses["claims"] = claims * claim_loss(idx, image)
        return losses

    parameters = [*model.parameters(), claim_scale, claim_bias] if claims > 0 else model.parameters()
    log = run_stage("clip", parameters, config, step_loss)
    return model.eval(), processor, log
