"""Stage 2: a small wav2vec2 plus a linear projection, aligned into the trained CLIP's space.

The embedding is computed exactly as the app computes it (the contract of the bundled audio
model): feature extractor -> ``Wav2Vec2Model`` -> ``last_hidden_state`` [B, T, H] -> mean over
valid frames -> ``projection`` (weight [D, H], bias [D]) -> L2 normalisation.

CLIP stays frozen: its embeddings of the pool's images and of the colour-and-kind captions ("a red
circle and a blue square.", what a sound can tell) are computed once. The audio embedding is
trained with InfoNCE against both; every item with the same sound description is a positive.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPModel, CLIPProcessor, Wav2Vec2FeatureExtractor, Wav2Vec2Model

from mmdemo.backends.wav2vec2_backend import pool_hidden_states
from mmdemo.model_factory import AudioShape
from mmdemo.pretrain.configs import build_audio
from mmdemo.pretrain.contrastive import symmetric_nce
from mmdemo.pretrain.loop import StageConfig, StageLog, run_stage
from mmdemo.pretrain.pool import TrainingPool, pixel_values
from mmdemo.pretrain.train_clip import clip_text_features
from mmdemo.world.text import DETAILS, SOUND_LEVEL

logger = logging.getLogger(__name__)
SOUND_LEVEL_INDEX = DETAILS.index(SOUND_LEVEL)


def audio_features(
    model: Wav2Vec2Model, extractor: Wav2Vec2FeatureExtractor, projection: nn.Linear, clips: list[np.ndarray]
) -> torch.Tensor:
    """Projected, *unnormalised* audio features [B, D] (normalise to get the embedding)."""
    batch = extractor(
        clips, sampling_rate=extractor.sampling_rate, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    hidden = model(batch["input_values"], attention_mask=batch["attention_mask"]).last_hidden_state  # [B, T, H]
    num_samples = torch.tensor([len(clip) for clip in clips])
    return projection(pool_hidden_states(model, hidden, num_samples))


@torch.no_grad()
def clip_targets(
    model: CLIPModel, processor: CLIPProcessor, pool: TrainingPool, batch: int = 256, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's normalised image embeddings [N, D] and sound-level caption embeddings [N, D] of the
    pool's first ``limit`` items (all by default)."""
    images, texts = [], []
    captions = pool.captions[SOUND_LEVEL_INDEX]
    total = len(pool) if limit is None else min(limit, len(pool))
    for start in range(0, total, batch):
        stop = min(start + batch, total)
        images.append(model.get_image_features(pixel_values=pixel_values(pool.images[start:stop])).pooler_output)
        texts.append(clip_text_features(model, processor, captions[start:stop]))
    return F.normalize(torch.cat(images), dim=-1), F.normalize(torch.cat(texts), dim=-1)


def train_audio(
    pool: TrainingPool,
    clip: CLIPModel,
    clip_processor: CLIPProcessor,
    config: StageConfig,
    seed: int,
    shape: AudioShape = AudioShape(),
    sound_bank: int = 6000,
) -> tuple[Wav2Vec2Model, Wav2Vec2FeatureExtractor, nn.Linear, StageLog]:
    """Train a fresh audio encoder and projection into ``clip``'s space on the first ``sound_bank`` pool sounds
    (plain scenes only: sounds do not depend on how a scene is drawn)."""
    clip.eval()
    n = min(pool.varied_from, sound_bank) // 2 * 2  # whole pairs of plain scenes
    image_targets, text_targets = clip_targets(clip, clip_processor, pool, limit=n)
    clips = np.stack(pool.sounds(range(n))).astype(np.float16)  # [n, samples], half to save memory
    logger.info("audio: %d sounds synthesised, CLIP targets computed", n)

    torch.manual_seed(seed)
    model, extractor = build_audio(shape)
    projection = nn.Linear(shape.hidden, clip.config.projection_dim)
    model.train()
    scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
    sound_ids = pool.description_ids[:, SOUND_LEVEL_INDEX]
    rng = np.random.default_rng([seed, 2])
    bank = replace(pool, scenes=pool.scenes[:n])  # pair_batch draws from the synthesised sounds only

    def step_loss(step: int) -> dict[str, torch.Tensor]:
        idx = bank.pair_batch(rng, config.batch_size)
        audio = F.normalize(audio_features(model, extractor, projection, list(clips[idx].astype(np.float32))), dim=-1)
        ids = sound_ids[torch.from_numpy(idx)]
        positives = ids[:, None] == ids[None, :]  # [B, B]
        logit_scale = scale.clamp(max=np.log(100.0)).exp()
        return {
            "audio-image": symmetric_nce(logit_scale * audio @ image_targets[idx].T, positives),
            "audio-text": symmetric_nce(logit_scale * audio @ text_targets[idx].T, positives),
        }

    parameters = [*model.parameters(), *projection.parameters(), scale]
    log = run_stage("audio", parameters, config, step_loss)
    return model.eval(), extractor, projection.eval(), log
