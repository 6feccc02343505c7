"""Shared fixtures: offline environment and tiny checkpoints loaded through the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

# Tests never touch the network or the user's cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("MMDEMO_HUB_PROBE_TIMEOUT", "1")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("embedding-cache")
    os.environ["MMDEMO_CACHE_DIR"] = str(folder)
    return folder


@dataclass(frozen=True)
class TinyModels:
    """Registry names of the tiny checkpoints, and the folder they were saved in."""

    folder: Path
    clip: str = "tiny-clip"
    open_clip: str = "tiny-openclip"
    caption: str = "tiny-caption"
    vqa: str = "tiny-vqa"
    audio: str = "tiny-audio"  # wav2vec2 + projection into tiny-clip's space
    wav2vec2: str = "tiny-wav2vec2"  # native space
    speech: str = "tiny-speech"  # CTC transcripts embedded by tiny-clip


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Tiny CLIP / OpenCLIP / BLIP / wav2vec2 checkpoints, saved to disk and registered."""
    from mmdemo.model_factory import build_checkpoint
    from mmdemo.registry import ModelSpec, register_model

    folder = tmp_path_factory.mktemp("tiny-models")
    names = TinyModels(folder=folder)
    build_checkpoint("clip", folder / "clip")
    build_checkpoint("open_clip", folder / "open_clip")
    build_checkpoint("blip-caption", folder / "caption")
    build_checkpoint("blip-vqa", folder / "vqa")
    build_checkpoint("wav2vec2", folder / "audio", projection_dim=16)
    build_checkpoint("wav2vec2-ctc", folder / "speech")
    specs = [
        ModelSpec(name=names.clip, backend="clip", checkpoint=str(folder / "clip"), dtype="float32"),
        ModelSpec(name=names.open_clip, backend="open_clip", checkpoint=str(folder / "open_clip"), dtype="float32"),
        ModelSpec(name=names.caption, backend="blip-caption", checkpoint=str(folder / "caption")),
        ModelSpec(name=names.vqa, backend="blip-vqa", checkpoint=str(folder / "vqa")),
        ModelSpec(
            name=names.audio, backend="wav2vec2", checkpoint=str(folder / "audio"),
            audio_road="projection", space=names.clip, dtype="float32",
        ),
        ModelSpec(name=names.wav2vec2, backend="wav2vec2", checkpoint=str(folder / "audio"), dtype="float32"),
        ModelSpec(
            name=names.speech, backend="wav2vec2-ctc", checkpoint=str(folder / "speech"),
            audio_road="speech", text_model=names.clip, space=names.clip, dtype="float32",
        ),
    ]
    for spec in specs:
        register_model(spec, replace_existing=True)
    return names


@dataclass(frozen=True)
class HubLikeFolders:
    """Tiny hub-like checkpoint folders (config.json with ``architectures``, weights, processor),
    built offline from real config classes with seeded weights; not registered: tests point roles
    at them by folder, as a user would."""

    siglip: Path
    siglip2: Path  # Siglip2Model (NaFlex)
    blip_itm: Path  # BlipForImageTextRetrieval
    ctc_layer_norm: Path  # Wav2Vec2ForCTC of the lv60 family (layer norm, attention masks)
    ctc_group_norm: Path  # Wav2Vec2ForCTC like wav2vec2-base-960h (group norm, no masks)
    audio_layer_norm: Path  # Wav2Vec2Model of the lv60 family


@pytest.fixture(scope="session")
def hub_like(tmp_path_factory: pytest.TempPathFactory) -> HubLikeFolders:
    from mmdemo.model_factory import build_checkpoint

    root = tmp_path_factory.mktemp("hub-like")
    folders = HubLikeFolders(
        siglip=build_checkpoint("siglip", root / "siglip"),
        siglip2=build_checkpoint("siglip2", root / "siglip2"),
        blip_itm=build_checkpoint("blip-itm", root / "blip-itm"),
        ctc_layer_norm=build_checkpoint("wav2vec2-ctc", root / "ctc-lv60", layer_norm=True, seed=1),
        ctc_group_norm=build_checkpoint("wav2vec2-ctc", root / "ctc-base", seed=2),
        audio_layer_norm=build_checkpoint("wav2vec2", root / "audio-lv60", layer_norm=True, seed=3),
    )
    return folders
