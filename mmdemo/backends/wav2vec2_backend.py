"""wav2vec2 audio encoders through transformers.

Three roads (``spec.audio_road``):
- ``native``: ``Wav2Vec2Model``, hidden states mean-pooled over valid frames (its own space);
- ``projection``: the same pooled vector through a linear head (``projection.safetensors``, tensors
  ``weight`` [D, H] and ``bias`` [D]) trained into an image-text space (the bundled audio model);
- ``speech``: ``Wav2Vec2ForCTC`` transcribes; the transcript is embedded by ``spec.text_model``.

The ``wav2vec2`` and ``wav2vec2-ctc`` backends; keeps the backend contract of
:mod:`mmdemo.backends`; transformers is imported in :func:`load`.
"""

from __future__ import annotations

import numpy as np
import torch

from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, from_pretrained, load_checked
from mmdemo.backends.wav2vec2_fast import use_time_major_encoder
from mmdemo.registry import ModelSpec
from mmdemo.runtimes import OPENVINO, RUNTIME_SPEEDUPS
from mmdemo.storage import load_tensors

PROJECTION_FILE = "projection.safetensors"

GENERATIVE = False

CTC_ARCHITECTURES = ("Wav2Vec2ForCTC",)
"""What the ``wav2vec2-ctc`` backend (the speech road) runs: a checkpoint with a CTC head."""
ENCODER_ARCHITECTURES = (
    "Wav2Vec2Model", "Wav2Vec2ForPreTraining", "Wav2Vec2ForCTC", "Wav2Vec2ForSequenceClassification",
    "Wav2Vec2ForAudioFrameClassification", "Wav2Vec2ForXVector",
)
"""What the ``wav2vec2`` backend runs: any checkpoint holding the wav2vec2 encoder (its heads unused)."""
MODEL_TYPES = ("wav2vec2",)
ARCHITECTURES = {"wav2vec2": ENCODER_ARCHITECTURES, "wav2vec2-ctc": CTC_ARCHITECTURES}
"""Backend -> the config ``architectures`` it runs."""

SPEEDUPS = {
    "time-major-features": "wav2vec2's convolutional feature encoder runs as matrix products on [B, T, C]",
    **RUNTIME_SPEEDUPS,
}
RUNTIMES = (OPENVINO,)
"""The runtimes its encoder can run through (:mod:`mmdemo.runtimes`): measured on the quiet
machine, AMX, ``python -m mmdemo bench --quick --workloads audio,speech --runtimes ov-bf16``:
OpenVINO bf16 158 ms against torch's 198-200 ms per clip, within the bars; a tie under the AVX2
cap (float32)."""
RUNTIME_NEEDS_FAST_BFLOAT16 = True
"""``auto`` gives the runtime only where the CPU has AMX / AVX-512-BF16: in float32 (AVX2 cap)
OpenVINO and torch tied (704 vs 692 ms), not worth a conversion and a second copy in memory."""

available_offline = checkpoint_available_offline


def speedups_for(spec: ModelSpec, device: torch.device) -> tuple[str, ...]:
    """On CPU: ``time-major-features`` (:mod:`~mmdemo.backends.wav2vec2_fast`)."""
    return ("time-major-features",) if device.type == "cpu" else ()


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    """Load ``spec``; ``time-major-features`` swaps in :mod:`~mmdemo.backends.wav2vec2_fast`'s encoder;
    ``openvino`` runs the encoder (and CTC head) through OpenVINO, converted at the first call, one
    converted model per output and with / without the attention mask (torch stays loaded: fallback)."""
    from transformers import AutoFeatureExtractor, AutoProcessor, Wav2Vec2ForCTC, Wav2Vec2Model

    from mmdemo.backends.runtime import attach_runtime
    from mmdemo.runtimes.towers import Wav2Vec2Tower

    extras: dict = {}
    if spec.backend == "wav2vec2-ctc":
        model = load_checked(spec, Wav2Vec2ForCTC, CTC_ARCHITECTURES, MODEL_TYPES, dtype=torch.float32)
        processor = from_pretrained(spec, AutoProcessor.from_pretrained)
        tokenizer = processor.tokenizer
    else:
        model = load_checked(spec, Wav2Vec2Model, ENCODER_ARCHITECTURES, MODEL_TYPES, dtype=torch.float32)
        processor = from_pretrained(spec, AutoFeatureExtractor.from_pretrained)
        tokenizer = None
        if spec.audio_road == "projection":
            folder = spec.local_folder
            tensors = load_tensors(folder / PROJECTION_FILE)
            extras["projection"] = {name: t.to(device) for name, t in tensors.items()}
    model.eval().to(device)
    extras["speedups"] = ()
    loaded = LoadedModel(spec, model, processor, tokenizer, device, dtype, extras=extras)
    output = "logits" if spec.backend == "wav2vec2-ctc" else "last_hidden_state"
    attach_runtime(loaded, speedups, {name: (lambda: Wav2Vec2Tower(model, output)) for name in (output, f"{output}+mask")})
    # The time-major encoder is a torch fast path that OpenVINO does not need, and it does not
    # survive conversion (traced, its output has centred cosine 0.19 to the original's): with the
    # runtime attached the model keeps transformers' encoder (torch, should it fall back, too).
    if "runtime" not in loaded.extras and "time-major-features" in speedups and use_time_major_encoder(model):
        loaded.extras["speedups"] = (*loaded.speedups, "time-major-features")
    return loaded


def _run_encoder(loaded: LoadedModel, output: str, values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``output`` of the model for ``values`` (and ``mask``): through its runtime, else torch."""
    from mmdemo.backends.runtime import run_tower

    tensors = (values,) if mask is None else (values, mask)
    result = run_tower(loaded, output if mask is None else f"{output}+mask", *tensors)
    if result is not None:
        return result
    with torch.inference_mode(), loaded.autocast():
        return getattr(loaded.model(values, attention_mask=mask), output).float()


def receptive_field(config) -> int:
    """Samples the convolutional feature encoder needs for one frame (400 for wav2vec2-base)."""
    field, jump = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        field += (kernel - 1) * jump
        jump *= stride
    return field


def _inputs(loaded: LoadedModel, clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor | None]:
    minimum = receptive_field(loaded.model.config)
    clips = [np.pad(clip, (0, minimum - len(clip))) if len(clip) < minimum else clip for clip in clips]
    features = loaded.processor(
        clips,
        sampling_rate=loaded.spec.sample_rate,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    values = features["input_values"].to(loaded.device)  # [B, samples]
    # Checkpoints with group norm (wav2vec2-base) were trained without attention masks.
    use_mask = loaded.model.config.feat_extract_norm == "layer"
    mask = features.get("attention_mask") if use_mask else None
    return values, (mask.to(loaded.device) if mask is not None else None)


def pool_hidden_states(
    model: torch.nn.Module, hidden: torch.Tensor, num_samples: torch.Tensor
) -> torch.Tensor:
    """Mean of ``hidden`` [B, T, H] over each clip's valid frames -> [B, H]."""
    frames = model._get_feat_extract_output_lengths(num_samples).clamp(min=1, max=hidden.shape[1])
    steps = torch.arange(hidden.shape[1], device=hidden.device)[None, :]  # [1, T]
    valid = (steps < frames[:, None].to(hidden.device)).to(hidden.dtype)  # [B, T]
    summed = (hidden * valid[:, :, None]).sum(dim=1)  # [B, H]
    return summed / valid.sum(dim=1, keepdim=True)


def _same_length_groups(loaded: LoadedModel, clips: list[np.ndarray]) -> list[list[int]]:
    """Indices of clips to run together.

    Checkpoints without attention masks would see padding as signal, so their clips only share a
    batch with clips of the same length; a clip's vector then never depends on its batch-mates.
    """
    if loaded.model.config.feat_extract_norm == "layer":
        return [list(range(len(clips)))]
    groups: dict[int, list[int]] = {}
    for index, clip in enumerate(clips):
        groups.setdefault(len(clip), []).append(index)
    return list(groups.values())


def encode_audio(loaded: LoadedModel, clips: list[np.ndarray]) -> torch.Tensor:
    """Unnormalised pooled (and projected, for the projection road) audio features [N, D]."""
    groups = _same_length_groups(loaded, clips)
    if len(groups) > 1:
        parts = [(group, _encode_batch(loaded, [clips[i] for i in group])) for group in groups]
        dim = parts[0][1].shape[1]
        out = torch.empty(len(clips), dim)
        for group, vectors in parts:
            out[group] = vectors
        return out
    return _encode_batch(loaded, clips)


def _encode_batch(loaded: LoadedModel, clips: list[np.ndarray]) -> torch.Tensor:
    values, mask = _inputs(loaded, clips)
    num_samples = torch.tensor([len(clip) for clip in clips])
    hidden = _run_encoder(loaded, "last_hidden_state", values, mask)  # [B, T, H]
    pooled = pool_hidden_states(loaded.model, hidden, num_samples)
    projection = loaded.extras.get("projection")
    if projection is not None:
        pooled = pooled @ projection["weight"].T + projection.get("bias", 0.0)  # [B, H] -> [B, D]
    return pooled


def transcribe(loaded: LoadedModel, clips: list[np.ndarray]) -> list[str]:
    """Greedy CTC transcripts, lower-cased (CLIP's prompts are lower case).

    Each clip is decoded over its own valid frames only (its length in samples -> frames by the
    model's ``_get_feat_extract_output_lengths``), never over the padding a longer batch-mate
    added: a clip's transcript is the same alone and in any batch.
    """
    transcripts: list[str] = [""] * len(clips)
    minimum = receptive_field(loaded.model.config)
    for group in _same_length_groups(loaded, clips):
        values, mask = _inputs(loaded, [clips[i] for i in group])
        logits = _run_encoder(loaded, "logits", values, mask)  # [B, T, vocab]
        ids = logits.argmax(dim=-1)  # [B, T]
        samples = torch.tensor([max(len(clips[i]), minimum) for i in group])
        frames = loaded.model._get_feat_extract_output_lengths(samples).clamp(max=ids.shape[1]).tolist()
        texts = loaded.processor.batch_decode([row[:count].tolist() for row, count in zip(ids, frames)])
        for index, text in zip(group, texts):
            transcripts[index] = text.strip().lower()
    return transcripts
