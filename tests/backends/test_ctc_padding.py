"""A clip's transcript and embedding are the same alone and in any batch, for the group-norm
(wav2vec2-base) and the layer-norm (lv60: attention masks) families: CTC decodes each clip's own
valid frames, never the padding a longer batch-mate adds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmdemo
from mmdemo.registry import ModelSpec, register_model

RATE = 16_000


def _clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * (220 + 200 * seed) * t) * np.linspace(0.2, 1.0, len(t))
    return (0.3 * tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def speech_models(hub_like, tiny_models):
    names = {}
    for family, folder in (("layer", hub_like.ctc_layer_norm), ("group", hub_like.ctc_group_norm)):
        spec = ModelSpec(
            name=f"ctc-{family}-norm", backend="wav2vec2-ctc", checkpoint=str(folder), audio_road="speech",
            text_model=tiny_models.clip, space=tiny_models.clip, dtype="float32",
        )
        names[family] = register_model(spec, replace_existing=True).name
    return names


@pytest.mark.parametrize("family", ["layer", "group"])
def test_a_short_clip_transcribes_the_same_alone_and_batched(speech_models, family):
    short, long = _clip(0.5, 0), _clip(1.5, 1)  # the tiny head hears ~800 letters a second
    model = speech_models[family]
    alone = mmdemo.embed_audio([short], model=model, use_cache=False)
    batched = mmdemo.embed_audio([short, long], model=model, use_cache=False, batch_size=2)
    reversed_batch = mmdemo.embed_audio([long, short], model=model, use_cache=False, batch_size=2)
    assert alone.transcripts[0]  # the tiny head hears letters, so a difference would show
    assert alone.transcripts[0] == batched.transcripts[0] == reversed_batch.transcripts[1]
    assert batched.transcripts[1] == reversed_batch.transcripts[0] != batched.transcripts[0]
    assert torch.allclose(alone.embeddings[0], batched.embeddings[0], atol=1e-5)


def test_layer_norm_encoder_embeddings_do_not_depend_on_the_batch(hub_like):
    spec = register_model(
        ModelSpec(name="audio-layer-norm", backend="wav2vec2", checkpoint=str(hub_like.audio_layer_norm), dtype="float32"),
        replace_existing=True,
    )
    short, long = _clip(0.5, 2), _clip(3.0, 3)
    alone = mmdemo.embed_audio([short], model=spec.name, use_cache=False)
    batched = mmdemo.embed_audio([long, short], model=spec.name, use_cache=False, batch_size=2)
    assert torch.allclose(alone.embeddings[0], batched.embeddings[1], atol=1e-4)
