"""Quality figures of models on the world's held-out split.

The figures the project reports (and its tests assert for the shipped checkpoints):

- **text-to-image recall@1**: each of the first ``gallery_size`` test samples' full captions
  queries a gallery of those samples' images; a hit is a top image whose scene has the same caption
  (several scenes may share one caption; any of them counts).
- **audio-to-image recall@1**: the same with each scene's own sound as query; a hit is a top image
  whose scene has the same sound description (colours and kinds, left to right).
- **audio-to-text recall@1** (reported, not asserted): sounds query the gallery's full captions;
  a hit is a caption whose scene has the same sound description.
- **caption accuracy**: the share of single-shape test scenes whose generated caption names the
  shape's kind, colour, size and column correctly (:func:`~mmdemo.world.text.caption_names_scene`);
  also reported over the gallery's scenes of every count.
- **VQA accuracy**: exact-match accuracy of one-word answers on the gallery samples'
  question-answer pairs (three per sample, distinct families), also per family.

The model side is passed in as plain functions, so the same code evaluates models straight after
training (:func:`saved_model_functions`, from the saved folders) and through the app's public API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmdemo.storage import load_tensors
from mmdemo.world.dataset import WorldConfig, WorldSample, generate, make_sample
from mmdemo.world.text import QA, caption_names_scene

CAPTION_TOKENS = 30  # BLIP's generate reads no max length from the saved generation config
ANSWER_TOKENS = 10
ImagesFn = Callable[[list[Image.Image]], torch.Tensor]
TextsFn = Callable[[list[str]], torch.Tensor]
AudioFn = Callable[[list[np.ndarray]], torch.Tensor]
CaptionFn = Callable[[list[Image.Image]], list[str]]
AnswerFn = Callable[[list[Image.Image], list[str]], list[str]]


@dataclass(frozen=True)
class EvalSet:
    """Held-out samples: the retrieval gallery (also the VQA set) and single-shape caption scenes."""

    gallery: list[WorldSample]
    single: list[WorldSample]

    @property
    def questions(self) -> list[tuple[WorldSample, QA]]:
        return [(sample, qa) for sample in self.gallery for qa in sample.questions]


def evaluation_set(
    config: WorldConfig = WorldConfig(), gallery_size: int = 100, caption_size: int = 100, split: str = "test"
) -> EvalSet:
    """The first ``gallery_size`` samples of ``split`` and its first ``caption_size`` single-shape ones."""
    gallery = generate(split, gallery_size, config)
    single: list[WorldSample] = []
    index = 0
    while len(single) < caption_size:
        sample = make_sample(split, index, config)
        if sample.scene.count == 1:
            single.append(sample)
        index += 1
    return EvalSet(gallery=gallery, single=single)


@dataclass
class WorldMetrics:
    """Figures on the held-out split; None where the model was not evaluated."""

    text_to_image_r1: float | None = None
    audio_to_image_r1: float | None = None
    audio_to_text_r1: float | None = None
    caption_accuracy: float | None = None
    caption_accuracy_all: float | None = None
    vqa_accuracy: float | None = None
    vqa_by_family: dict[str, float] = field(default_factory=dict)
    gallery_size: int = 0
    caption_scenes: int = 0
    vqa_questions: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """Human-readable lines, one per figure."""
        rows = [
            ("text->image recall@1", self.text_to_image_r1, f"{self.gallery_size}-item gallery"),
            ("audio->image recall@1", self.audio_to_image_r1, f"{self.gallery_size}-item gallery"),
            ("audio->text recall@1", self.audio_to_text_r1, f"{self.gallery_size}-item gallery"),
            ("caption, single shape", self.caption_accuracy, f"{self.caption_scenes} scenes"),
            ("caption, all scenes", self.caption_accuracy_all, f"{self.gallery_size} scenes"),
            ("VQA accuracy", self.vqa_accuracy, f"{self.vqa_questions} questions"),
        ]
        lines = [f"{name:24s} {value:.3f}  ({what})" for name, value, what in rows if value is not None]
        if self.vqa_by_family:
            lines.append("VQA by family: " + ", ".join(f"{k} {v:.3f}" for k, v in self.vqa_by_family.items()))
        return "\n".join(lines)


def recall_at_1(queries: torch.Tensor, gallery: torch.Tensor, query_keys: Sequence, gallery_keys: Sequence) -> float:
    """Share of queries whose most similar gallery item has the query's key (cosine similarity)."""
    if len(queries) != len(query_keys) or len(gallery) != len(gallery_keys):
        raise ValueError("every query and gallery item needs a key")
    scores = F.normalize(queries.float(), dim=-1) @ F.normalize(gallery.float(), dim=-1).T  # [Q, G]
    top = scores.argmax(dim=1).tolist()
    hits = [query_keys[q] == gallery_keys[g] for q, g in enumerate(top)]
    return float(np.mean(hits)) if hits else 0.0


def normalise_answer(text: str) -> str:
    """Lower case, stripped of spaces and final punctuation."""
    return text.strip().lower().rstrip(".?!").strip()


def evaluate(
    evalset: EvalSet,
    *,
    embed_images: ImagesFn | None = None,
    embed_texts: TextsFn | None = None,
    embed_audio: AudioFn | None = None,
    caption: CaptionFn | None = None,
    answer: AnswerFn | None = None,
    caption_every_scene: bool = True,
) -> WorldMetrics:
    """Compute every figure for which the needed model functions are given (with
    ``caption_every_scene=False``, captions of the single-shape scenes only: no
    ``caption_accuracy_all``)."""
    gallery = evalset.gallery
    metrics = WorldMetrics(gallery_size=len(gallery))
    images = [sample.image() for sample in gallery]
    full_keys = [sample.scene.key() for sample in gallery]
    sound_keys = [sample.scene.sound_key() for sample in gallery]
    image_vectors = embed_images(images) if embed_images is not None and (embed_texts or embed_audio) else None
    if image_vectors is not None and embed_texts is not None:
        text_vectors = embed_texts([sample.caption for sample in gallery])
        metrics.text_to_image_r1 = recall_at_1(text_vectors, image_vectors, full_keys, full_keys)
    if embed_audio is not None:
        audio_vectors = embed_audio([sample.scene_audio() for sample in gallery])
        if image_vectors is not None:
            metrics.audio_to_image_r1 = recall_at_1(audio_vectors, image_vectors, sound_keys, sound_keys)
        if embed_texts is not None:
            text_vectors = embed_texts([sample.caption for sample in gallery])
            metrics.audio_to_text_r1 = recall_at_1(audio_vectors, text_vectors, sound_keys, sound_keys)
    if caption is not None:
        single = evalset.single
        made = caption([sample.image() for sample in single])
        metrics.caption_accuracy = float(np.mean([caption_names_scene(t, s.scene) for t, s in zip(made, single)]))
        metrics.caption_scenes = len(single)
        if caption_every_scene:
            made_all = caption(images)
            metrics.caption_accuracy_all = float(np.mean([caption_names_scene(t, s.scene) for t, s in zip(made_all, gallery)]))
    if answer is not None:
        pairs = evalset.questions
        given = answer([sample.image() for sample, _ in pairs], [qa.question for _, qa in pairs])
        right = [normalise_answer(g) == qa.answer for g, (_, qa) in zip(given, pairs)]
        metrics.vqa_accuracy = float(np.mean(right))
        metrics.vqa_questions = len(pairs)
        families: dict[str, list[bool]] = {}
        for ok, (_, qa) in zip(right, pairs):
            families.setdefault(qa.kind, []).append(ok)
        metrics.vqa_by_family = {name: float(np.mean(v)) for name, v in sorted(families.items())}
    return metrics


# ----------------------------------------------------------------------------- saved folders


def _batched(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@torch.no_grad()
def saved_model_functions(folder: str | Path, batch_size: int = 64) -> dict[str, Callable]:
    """Model functions for :func:`evaluate` from a pretraining output folder (whatever it holds).

    They load each model with ``from_pretrained`` from its subfolder and compute exactly what the
    app's encoders and generators compute, in float32.
    """
    # Imported here, not at the top: the figures themselves (evaluate, evaluation_set) need no
    # transformers, which takes seconds to import; only loading saved models does.
    from transformers import (
        AutoFeatureExtractor,
        AutoProcessor,
        BlipForConditionalGeneration,
        BlipForQuestionAnswering,
        CLIPModel,
        Wav2Vec2Model,
    )

    from mmdemo.backends.wav2vec2_backend import pool_hidden_states  # imports transformers too

    folder = Path(folder)
    functions: dict[str, Callable] = {}
    if (folder / "clip").is_dir():
        clip = CLIPModel.from_pretrained(folder / "clip").eval()
        clip_processor = AutoProcessor.from_pretrained(folder / "clip")

        def embed_images(images: list[Image.Image]) -> torch.Tensor:
            parts = [
                clip.get_image_features(**clip_processor(images=chunk, return_tensors="pt")).pooler_output
                for chunk in _batched(images, batch_size)
            ]
            return F.normalize(torch.cat(parts), dim=-1)

        def embed_texts(texts: list[str]) -> torch.Tensor:
            parts = []
            for chunk in _batched(texts, batch_size):
                batch = clip_processor(text=chunk, padding=True, return_tensors="pt")
                parts.append(clip.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output)
            return F.normalize(torch.cat(parts), dim=-1)

        functions.update(embed_images=embed_images, embed_texts=embed_texts)
    if (folder / "audio").is_dir():
        wav2vec = Wav2Vec2Model.from_pretrained(folder / "audio").eval()
        extractor = AutoFeatureExtractor.from_pretrained(folder / "audio")
        projection = load_tensors(folder / "audio" / "projection.safetensors")

        def embed_audio(clips: list[np.ndarray]) -> torch.Tensor:
            parts = []
            for chunk in _batched(clips, batch_size):
                batch = extractor(chunk, sampling_rate=extractor.sampling_rate, padding=True, return_attention_mask=True, return_tensors="pt")
                hidden = wav2vec(batch["input_values"], attention_mask=batch["attention_mask"]).last_hidden_state
                pooled = pool_hidden_states(wav2vec, hidden, torch.tensor([len(c) for c in chunk]))
                parts.append(pooled @ projection["weight"].T + projection["bias"])  # [B, H] -> [B, D]
            return F.normalize(torch.cat(parts), dim=-1)

        functions["embed_audio"] = embed_audio
    if (folder / "caption").is_dir():
        captioner = BlipForConditionalGeneration.from_pretrained(folder / "caption").eval()
        caption_processor = AutoProcessor.from_pretrained(folder / "caption")

        def caption(images: list[Image.Image]) -> list[str]:
            out: list[str] = []
            for chunk in _batched(images, batch_size):
                ids = captioner.generate(**caption_processor(images=chunk, return_tensors="pt"), max_new_tokens=CAPTION_TOKENS)
                out += [t.strip() for t in caption_processor.batch_decode(ids, skip_special_tokens=True)]
            return out

        functions["caption"] = caption
    if (folder / "vqa").is_dir():
        vqa = BlipForQuestionAnswering.from_pretrained(folder / "vqa").eval()
        vqa_processor = AutoProcessor.from_pretrained(folder / "vqa")

        def answer(images: list[Image.Image], questions: list[str]) -> list[str]:
            out: list[str] = []
            for chunk_images, chunk_questions in zip(_batched(images, batch_size), _batched(questions, batch_size)):
                inputs = vqa_processor(images=chunk_images, text=chunk_questions, padding=True, return_tensors="pt")
                ids = vqa.generate(**inputs, max_new_tokens=ANSWER_TOKENS)
                out += [t.strip() for t in vqa_processor.batch_decode(ids, skip_special_tokens=True)]
            return out

        functions["answer"] = answer
    return functions
