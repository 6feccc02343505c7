"""The bundled world as a data set: deterministic samples, splits, and files on disk.

Sample ``i`` of a split is drawn from its own random stream ``(seed, split, i)``, so a split of any
size is reproducible from the seed, and a longer split starts with the samples of a shorter one.

Splits are disjoint in *descriptions*, not only in samples: every scene of two or three shapes is
assigned to train (80 %), val (10 %) or test (10 %) by a fixed hash of its caption, so no test
caption of a multi-shape scene occurs in training. Single-shape scenes (only 144 distinct
captions) appear in every split, with their own jitter, rotation and background.

On disk (:func:`write_world`) every split is a self-contained data set in the format users' own
data sets use in the Fusion Lab::

    <out>/world.json                  config, sizes and the tasks (classes, modalities, meaning)
    <out>/<split>/manifest.csv        one row per sample, columns:
                                      text   the claim ("the red circle is large.")
                                      image  path of the PNG, relative to the manifest
                                      audio  path of the 16 kHz mono WAV, relative to the manifest
                                      claim, sound_match, verdict, exactly_one   labels (see tasks)
    <out>/<split>/records.jsonl       everything else per sample: the scene and the sound scene as
                                      JSON, the caption, the claim's truth, questions and answers
    <out>/<split>/images/000000.png   the rendered scene
    <out>/<split>/audio/000000.wav    the sound of the sound scene (see :mod:`mmdemo.world.tasks`)

The manifest's audio is the sound the classification tasks use (the scene's own sound for half the
samples, a near miss for the rest); :meth:`WorldSample.scene_audio` is always the scene's own sound,
which is what pretraining and the retrieval figures use.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

from mmdemo.storage import atomic_write_bytes, write_json_atomic
from mmdemo.world.render import DEFAULT_SIZE, render_scene
from mmdemo.world.scenes import MAX_SHAPES, Scene, perturb_scene, sample_scene
from mmdemo.world.sound import CLIP_SECONDS, SAMPLE_RATE, synthesize
from mmdemo.world.tasks import TASKS, WorldContent, labels_of
from mmdemo.world.text import QA, Claim, ask, claim, describe, description_key, question_families

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_SHARES: dict[str, tuple[float, float]] = {
    "train": (0.0, 0.8),
    "val": (0.8, 0.9),
    "test": (0.9, 1.0),
}
MANIFEST_COLUMNS: tuple[str, ...] = ("text", "image", "audio", *TASKS)
FORMAT_VERSION = 1
_HASH_SALT = b"mmdemo-world-v1"


@dataclass(frozen=True)
class WorldConfig:
    """How samples are drawn.

    Attributes:
        seed: the world's seed; every sample follows from it, the split and the index.
        image_size: side of rendered images in pixels (64: what the bundled models see).
        sample_rate: audio sample rate in Hz (16 kHz, wav2vec2's rate).
        audio_seconds: length of every clip.
        questions_per_sample: question-answer pairs per sample (distinct families).
    """

    seed: int = 0
    image_size: int = DEFAULT_SIZE
    sample_rate: int = SAMPLE_RATE
    audio_seconds: float = CLIP_SECONDS
    questions_per_sample: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.questions_per_sample <= len(question_families()):
            raise ValueError(
                f"questions_per_sample must be 1..{len(question_families())}, "
                f"got {self.questions_per_sample}"
            )


@dataclass(frozen=True)
class WorldSample:
    """One sample: a scene and what each modality and task says about it."""

    split: str
    index: int
    config: WorldConfig
    scene: Scene
    sound_scene: Scene
    caption: str
    claim: Claim
    questions: tuple[QA, ...]
    labels: dict[str, str] = field(hash=False)

    @property
    def stem(self) -> str:
        return f"{self.index:06d}"

    def image(self, size: int | None = None) -> Image.Image:
        """The rendered scene (``config.image_size`` unless ``size`` is given)."""
        return render_scene(self.scene, size or self.config.image_size)

    def _audio_rng(self) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, SPLITS.index(self.split), self.index, 1])

    def audio(self) -> np.ndarray:
        """The manifest's audio: the sound of :attr:`sound_scene` (float32, mono)."""
        return synthesize(self.sound_scene, self._audio_rng(), self.config.sample_rate, self.config.audio_seconds)

    def scene_audio(self) -> np.ndarray:
        """The scene's own sound (equal to :meth:`audio` when the sound matches)."""
        return synthesize(self.scene, self._audio_rng(), self.config.sample_rate, self.config.audio_seconds)

    def to_record(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "scene": self.scene.to_dict(),
            "sound_scene": self.sound_scene.to_dict(),
            "caption": self.caption,
            "claim": self.claim.text,
            "claim_kind": self.claim.kind,
            "claim_true": self.claim.true,
            "questions": [asdict(qa) for qa in self.questions],
            "labels": dict(self.labels),
        }


def description_split(scene: Scene) -> str | None:
    """The split that owns this scene's caption, or None for single-shape scenes (all splits)."""
    if scene.count == 1:
        return None
    digest = hashlib.blake2b(repr(description_key(scene)).encode(), key=_HASH_SALT, digest_size=8)
    bucket = int.from_bytes(digest.digest(), "big") / 2**64
    for split, (low, high) in SPLIT_SHARES.items():
        if low <= bucket < high:
            return split
    return SPLITS[-1]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {list(SPLITS)}")


def make_sample(split: str, index: int, config: WorldConfig = WorldConfig()) -> WorldSample:
    """Sample ``index`` of ``split``, drawn from its own random stream."""
    _check_split(split)
    if index < 0:
        raise ValueError(f"Sample index must be >= 0, got {index}")
    rng = np.random.default_rng([config.seed, SPLITS.index(split), index])
    count = int(rng.integers(1, MAX_SHAPES + 1))  # drawn first: counts stay uniform in every split
    while True:
        scene = sample_scene(rng, count)
        owner = description_split(scene)
        if owner is None or owner == split:
            break
    statement = claim(scene, rng, true=bool(rng.random() < 0.5))
    sound_scene = scene if rng.random() < 0.5 else perturb_scene(scene, rng)
    families = rng.choice(len(question_families()), size=config.questions_per_sample, replace=False)
    questions = tuple(ask(scene, rng, question_families()[int(f)]) for f in sorted(families))
    content = WorldContent(scene=scene, sound_scene=sound_scene, claim=statement)
    return WorldSample(
        split=split,
        index=index,
        config=config,
        scene=scene,
        sound_scene=sound_scene,
        caption=describe(scene),
        claim=statement,
        questions=questions,
        labels=labels_of(content),
    )


def generate(split: str, n: int, config: WorldConfig = WorldConfig(), start: int = 0) -> list[WorldSample]:
    """Samples ``start .. start + n - 1`` of ``split``."""
    _check_split(split)
    if n < 0:
        raise ValueError(f"Number of samples must be >= 0, got {n}")
    return [make_sample(split, i, config) for i in range(start, start + n)]


# ----------------------------------------------------------------------------- files


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _manifest_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_split(out_dir: str | Path, split: str, n: int, config: WorldConfig = WorldConfig(),
                progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``n`` samples of ``split`` under ``out_dir/split``; returns the manifest's path.
    ``progress(done, n)`` is called after each sample written."""
    folder = Path(out_dir) / split
    rows: list[dict[str, str]] = []
    records: list[str] = []
    for done, sample in enumerate(generate(split, n, config), start=1):
        image_rel = f"images/{sample.stem}.png"
        audio_rel = f"audio/{sample.stem}.wav"
        atomic_write_bytes(folder / image_rel, _png_bytes(sample.image()))
        atomic_write_bytes(folder / audio_rel, _wav_bytes(sample.audio(), config.sample_rate))
        rows.append({"text": sample.claim.text, "image": image_rel, "audio": audio_rel, **sample.labels})
        records.append(json.dumps(sample.to_record(), ensure_ascii=False))
        if progress:
            progress(done, n)
    atomic_write_bytes(folder / "records.jsonl", ("\n".join(records) + "\n").encode("utf-8"))
    manifest = folder / "manifest.csv"
    atomic_write_bytes(manifest, _manifest_bytes(rows))
    return manifest


def write_world(
    out_dir: str | Path, sizes: dict[str, int], config: WorldConfig = WorldConfig()
) -> dict[str, Path]:
    """Write the splits named in ``sizes`` (split -> number of samples); returns their manifests."""
    for split in sizes:
        _check_split(split)
    manifests = {split: write_split(out_dir, split, n, config) for split, n in sizes.items()}
    write_json_atomic(
        Path(out_dir) / "world.json",
        {
            "format_version": FORMAT_VERSION,
            "config": asdict(config),
            "sizes": dict(sizes),
            "manifest_columns": list(MANIFEST_COLUMNS),
            "tasks": {
                name: {
                    "classes": list(spec.classes),
                    "modalities": list(spec.modalities),
                    "description": spec.description,
                }
                for name, spec in TASKS.items()
            },
        },
    )
    return manifests
