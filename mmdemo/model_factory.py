"""Build checkpoints of the supported architectures from configs, offline, with seeded weights.

Used by the tests (``size="tiny"``: a few thousand parameters, saved and then loaded through the
registry exactly like a hub checkpoint) and by the benchmark (``size="base"``: the default configs
of CLIP ViT-B/32, BLIP base and wav2vec2-base, so the FLOPs match the pretrained checkpoints).
Weights are random; tokenizers are word-level ones from :mod:`mmdemo.vocab`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    BlipImageProcessor,
    BlipProcessor,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
    Wav2Vec2Processor,
)

from mmdemo.storage import save_tensors_atomic, write_json_atomic
from mmdemo.vocab import build_word_tokenizer

KINDS = ("clip", "open_clip", "blip-caption", "blip-vqa", "wav2vec2", "wav2vec2-ctc")
SIZES = ("tiny", "base")

# Words the tests' tiny tokenizers know: enough for captions, questions and labels.
DEFAULT_VOCABULARY = (
    "a an the photo of picture drawing image small large big red green blue yellow purple orange "
    "white black circle square triangle star shape shapes one two three left right top bottom "
    "middle center on in and is are there what color colour how many which yes no dog cat car "
    "sound beep tone high low"
)

_TINY_TRANSFORMER = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2
)


def _check(kind: str, size: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown checkpoint kind {kind!r}; valid kinds: {list(KINDS)}")
    if size not in SIZES:
        raise ValueError(f"Unknown size {size!r}; valid sizes: {list(SIZES)}")


def build_checkpoint(
    kind: str,
    folder: str | Path,
    *,
    size: str = "tiny",
    seed: int = 0,
    vocabulary: str = DEFAULT_VOCABULARY,
    projection_dim: int | None = None,
) -> Path:
    """Write a ``kind`` checkpoint with seeded random weights (and its processor) to ``folder``.

    Args:
        kind: one of :data:`KINDS`.
        folder: where to save (created).
        size: ``"tiny"`` for tests, ``"base"`` for the real architecture's default config.
        seed: weight initialisation seed.
        vocabulary: text that defines the word-level tokenizer's vocabulary.
        projection_dim: for ``wav2vec2``: also write a projection head into a space of this size
            (the ``projection`` audio road).
    """
    _check(kind, size)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "clip":
        _build_clip(folder, size, vocabulary)
    elif kind == "open_clip":
        _build_open_clip(folder, size)
    elif kind in ("blip-caption", "blip-vqa"):
        _build_blip(folder, size, vocabulary, vqa=kind == "blip-vqa")
    elif kind == "wav2vec2":
        _build_wav2vec2(folder, size, projection_dim)
    else:
        _build_wav2vec2_ctc(folder, size)
    return folder


def _build_clip(folder: Path, size: str, vocabulary: str) -> None:
    tokenizer = build_word_tokenizer([vocabulary], style="clip", model_max_length=77)
    ids = dict(
        vocab_size=len(tokenizer) if size == "tiny" else 49408,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if size == "tiny":
        config = CLIPConfig(
            text_config=dict(**_TINY_TRANSFORMER, max_position_embeddings=77, **ids),
            vision_config=dict(**_TINY_TRANSFORMER, image_size=32, patch_size=8),
            projection_dim=16,
        )
        image_size = 32
    else:
        config = CLIPConfig(text_config=ids)  # defaults: ViT-B/32, 512-d projection
        image_size = 224
    CLIPModel(config).eval().save_pretrained(folder)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


def _build_open_clip(folder: Path, size: str) -> None:
    import open_clip

    if size == "tiny":
        model_cfg = {
            "embed_dim": 16,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
        }
    else:
        model_cfg = open_clip.get_model_config("ViT-B-32")
    model = open_clip.CLIP(**model_cfg).eval()
    config = {
        "model_cfg": model_cfg,
        "preprocess_cfg": {
            "mean": list(open_clip.OPENAI_DATASET_MEAN),
            "std": list(open_clip.OPENAI_DATASET_STD),
        },
    }
    write_json_atomic(folder / "open_clip_config.json", config)
    save_tensors_atomic(folder / "open_clip_model.safetensors", model.state_dict())


def _build_blip(folder: Path, size: str, vocabulary: str, *, vqa: bool) -> None:
    tokenizer = build_word_tokenizer([vocabulary], style="bert", model_max_length=64)
    ids = dict(
        vocab_size=len(tokenizer) if size == "tiny" else 30524,
        bos_token_id=tokenizer.convert_tokens_to_ids("[DEC]"),
        eos_token_id=tokenizer.sep_token_id,
        sep_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if size == "tiny":
        config = BlipConfig(
            text_config=dict(**_TINY_TRANSFORMER, max_position_embeddings=64, **ids),
            vision_config=dict(**_TINY_TRANSFORMER, image_size=32, patch_size=8),
            projection_dim=16,
        )
        image_size = 32
    else:
        config = BlipConfig(text_config=ids)  # defaults: BLIP base (ViT-B/16, 384 px)
        image_size = 384
    cls = BlipForQuestionAnswering if vqa else BlipForConditionalGeneration
    cls(config).eval().save_pretrained(folder)
    image_processor = BlipImageProcessor(size={"height": image_size, "width": image_size})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


def _wav2vec2_config(size: str, **extra: object) -> Wav2Vec2Config:
    if size == "base":
        return Wav2Vec2Config(**extra)  # defaults: wav2vec2-base
    return Wav2Vec2Config(
        **_TINY_TRANSFORMER,
        conv_dim=(16, 16),
        conv_kernel=(10, 8),
        conv_stride=(5, 4),
        num_feat_extract_layers=2,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        **extra,
    )


def _feature_extractor() -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
        return_attention_mask=False,
    )


def _build_wav2vec2(folder: Path, size: str, projection_dim: int | None) -> None:
    model = Wav2Vec2Model(_wav2vec2_config(size)).eval()
    model.save_pretrained(folder)
    _feature_extractor().save_pretrained(folder)
    if projection_dim:
        hidden = model.config.hidden_size
        weight = torch.randn(projection_dim, hidden) / hidden**0.5
        save_tensors_atomic(
            folder / "projection.safetensors", {"weight": weight, "bias": torch.zeros(projection_dim)}
        )


def _build_wav2vec2_ctc(folder: Path, size: str) -> None:
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for letter in letters:
        vocab[letter] = len(vocab)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), word_delimiter_token="|")
    model = Wav2Vec2ForCTC(_wav2vec2_config(size, vocab_size=len(vocab), pad_token_id=0)).eval()
    model.save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=_feature_extractor(), tokenizer=tokenizer).save_pretrained(folder)
