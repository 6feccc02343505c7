"""What the benchmark measures, how often, and the figures each workload must reach."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from mmdemo.errors import UnknownModelError

MODEL_WORKLOADS = ("image", "image-l14", "text", "caption", "vqa", "audio", "speech", "offline-image", "offline-text")
SYSTEM_WORKLOADS = ("retrieval", "fusion", "memory", "app-start")
WORKLOADS = MODEL_WORKLOADS + SYSTEM_WORKLOADS
# Runtime peers of every model workload's towers (mmdemo.bench.runtimes): ONNX Runtime float32 and dynamic int8,
# torch.compile (inductor), OpenVINO float32 and bfloat16.
RUNTIME_PEERS = ("ort-fp32", "ort-int8", "compile", "ov-fp32", "ov-bf16")

# Speed-up each model workload must reach: baseline median time / project median time.
TARGETS = {"image": 8.0, "text": 5.0, "caption": 1.5, "vqa": 1.5, "audio": 2.0}

# Fidelity of every fast path against float32 on the same inputs (mmdemo.bench.fidelity). A fast
# path that misses a bar is off by default until it meets it (issue 15).
MIN_MEAN_COSINE = 0.99  # reported; flattered by random weights' shared direction
MIN_CENTRED_COSINE = 0.995  # cosine after removing float32's mean row: ViT-B towers (12 layers)
MIN_CENTRED_COSINE_DEEP = 0.99  # the same for deeper towers (ViT-L/14: 24 layers)
MAX_PAIRWISE_COSINE = 0.97  # embedding checks need inputs the model tells apart (fidelity.input_spread)
MIN_TOP1_AGREEMENT = 0.98  # zero-shot top-1 over the label bank
LABEL_BANK = 500  # zero-shot labels: the world's colour-shape labels, then ImageNet-1k class names
MIN_IDENTICAL_SEQUENCES = 0.90  # reported: greedy outputs identical end to end
MAX_LOGPROB_ERROR = 0.05  # nats: largest per-step error, teacher-forced on float32's tokens
CLEAR_MARGIN = 1.0  # nats between float32's best and second-best token that make a step "clear"
MIN_CLEAR_MARGIN_AGREEMENT = 1.0  # identical top-1 tokens at every clear step
MIN_INPUT_DEPENDENCE = 10 * MAX_LOGPROB_ERROR  # nats: float32 must move this much when the image changes


def centred_cosine_bar(num_layers: int) -> float:
    """The centred-cosine bar of an image tower with ``num_layers`` layers: 0.995 up to ViT-B's
    12, 0.99 beyond (ViT-L/14's 24 layers accumulate more rounding)."""
    return MIN_CENTRED_COSINE if num_layers <= 12 else MIN_CENTRED_COSINE_DEEP

# Retrieval figures (median milliseconds of one exact top-10 query) by number of stored vectors.
RETRIEVAL_TARGET_MS = {100_000: 10.0, 1_000_000: 100.0}


def default_models_dir() -> Path:
    """Where the full-size random-weight checkpoints are built once and reused."""
    return Path.home() / ".cache" / "mmdemo" / "bench"


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run.

    Attributes:
        workloads: which of :data:`WORKLOADS` to run, in order.
        repeats: timed repetitions of every case (baseline and project interleaved); medians are
            reported. One untimed warm-up run of each case comes first.
        images: images embedded per timed run (baseline: one per call).
        texts: short prompts embedded per timed run (baseline: one per call, padded to 77).
        caption_tokens: tokens generated per caption (greedy).
        answer_tokens: the longest answer, in tokens (``mmdemo.generate.answer``'s default: 10).
        audio_seconds: length of the timed audio clip.
        fidelity_images: images captioned/asked once per path for the fidelity check.
        fidelity_clips: audio clips embedded once per path for the fidelity check.
        label_bank: zero-shot labels of the top-1 agreement check (:func:`~mmdemo.bench.inputs.label_bank`).
        l14_images: images of the ``image-l14`` workload (CLIP ViT-L/14's image tower: fidelity of
            the image fast paths on a 24-layer tower, one timed round).
        ablations: also time the single ideas (batching alone, dtype alone, …) in the same loop.
        retrieval_sizes: stored vectors for the retrieval workload.
        retrieval_queries: timed single queries per retrieval measurement.
        fusion_samples: synthetic samples for the Fusion Lab workload.
        fusion_epochs: epochs per strategy for the Fusion Lab workload.
        app_timeout: seconds to wait for ``python app.py`` to answer.
        models_dir: where the full-size checkpoints are built and reused.
        model_size: ``"base"`` (the real architectures) or ``"tiny"`` (tests of the machinery).
        model_names: role -> registry name, to benchmark already registered models instead of
            building the bench checkpoints (``image-text``, ``caption``, ``vqa``, ``audio``,
            ``speech``).
        seed: seed of every input.
        runtimes: runtime peers of every model workload (:data:`RUNTIME_PEERS`; none by default,
            ``--runtimes all``): CLIP towers, wav2vec2 (audio, speech), BLIP parts (caption, vqa),
            the offline preset's classifier and sentence encoder.
    """

    workloads: tuple[str, ...] = WORKLOADS
    repeats: int = 5
    images: int = 64
    texts: int = 256
    caption_tokens: int = 20
    answer_tokens: int = 10
    audio_seconds: float = 10.0
    fidelity_images: int = 10
    fidelity_clips: int = 4
    label_bank: int = LABEL_BANK
    l14_images: int = 16
    ablations: bool = True
    retrieval_sizes: tuple[int, ...] = (100_000, 1_000_000)
    retrieval_queries: int = 50
    fusion_samples: int = 2_000
    fusion_epochs: int = 30
    app_timeout: float = 180.0
    models_dir: Path = field(default_factory=default_models_dir)
    model_size: str = "base"
    model_names: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    runtimes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown_peers = [name for name in self.runtimes if name not in RUNTIME_PEERS]
        if unknown_peers:
            raise ValueError(f"Unknown runtime peer(s) {unknown_peers}; valid: {list(RUNTIME_PEERS)}")
        unknown = [name for name in self.workloads if name not in WORKLOADS]
        if unknown:
            raise UnknownModelError(f"Unknown workload(s) {unknown}; valid workloads: {list(WORKLOADS)}")
        if self.model_size not in ("base", "tiny"):
            raise UnknownModelError(f"Unknown model size {self.model_size!r}; valid: ['base', 'tiny']")
        for name in ("repeats", "images", "texts", "caption_tokens", "answer_tokens", "fidelity_images",
                     "fidelity_clips", "label_bank", "l14_images", "retrieval_queries", "fusion_samples", "fusion_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.audio_seconds > 0 or not self.app_timeout > 0:
            raise ValueError("audio_seconds and app_timeout must be positive")

    def quick(self) -> BenchConfig:
        """A few-minute version: fewer inputs and repeats, no ablations, smaller retrieval."""
        return replace(
            self, repeats=3, images=16, texts=64, fidelity_images=3, fidelity_clips=2, l14_images=8, ablations=False,
            retrieval_sizes=(20_000, 100_000), retrieval_queries=20, fusion_samples=500, fusion_epochs=5,
        )
