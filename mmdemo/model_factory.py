"""Build checkpoints of the supported architectures from configs, offline, with seeded weights.

Used by the tests (``size="tiny"``: a few thousand parameters, saved and then loaded through the
registry exactly like a hub checkpoint) and by the benchmark (``size="base"``: the default configs
of CLIP ViT-B/32, BLIP base and wav2vec2-base, so the FLOPs match the pretrained checkpoints).
Weights are random; tokenizers are word-level ones from :mod:`mmdemo.vocab`.

It is also the one place the bundled small models are built (:func:`build_small_clip`,
:func:`build_small_audio`, :func:`build_small_blip` from :class:`ClipShape`, :class:`AudioShape`,
:class:`BlipShape`); :mod:`mmdemo.pretrain.configs` holds the bundled models' settings and passes
them here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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
    PreTrainedTokenizerFast,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
    Wav2Vec2Processor,
)

from mmdemo.storage import save_tensors_atomic, write_json_atomic
from mmdemo.vocab import build_word_tokenizer

KINDS = ("clip", "open_clip", "siglip", "siglip2", "blip-caption", "blip-vqa", "blip-itm", "wav2vec2", "wav2vec2-ctc")
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
    layer_norm: bool = False,
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
        layer_norm: for ``wav2vec2`` / ``wav2vec2-ctc``: the layer-norm family (``lv60``:
            ``feat_extract_norm="layer"``, stable layer norm, a feature extractor returning attention
            masks) instead of wav2vec2-base's group norm.
    """
    _check(kind, size)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "clip":
        _build_clip(folder, size, vocabulary)
    elif kind == "open_clip":
        _build_open_clip(folder, size)
    elif kind in ("siglip", "siglip2"):
        _build_siglip(folder, size, vocabulary, version=2 if kind == "siglip2" else 1)
    elif kind in ("blip-caption", "blip-vqa", "blip-itm"):
        _build_blip(folder, size, vocabulary, head=kind)
    elif kind == "wav2vec2":
        _build_wav2vec2(folder, size, projection_dim, layer_norm)
    else:
        _build_wav2vec2_ctc(folder, size, layer_norm)
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


def _build_siglip(folder: Path, size: str, vocabulary: str, *, version: int) -> None:
    """SigLIP (``SiglipModel``) or SigLIP 2 NaFlex (``Siglip2Model``) with a word-level fast tokenizer
    (the hub ones use SentencePiece / Gemma vocabularies); texts pad to the context, as in SigLIP."""
    from transformers import (
        Siglip2Config,
        Siglip2ImageProcessor,
        Siglip2Model,
        Siglip2Processor,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
        SiglipProcessor,
    )

    context = 16 if size == "tiny" else 64
    if version == 1:
        tokenizer = build_word_tokenizer([vocabulary], style="clip", model_max_length=context)
    else:  # SigLIP 2 loads its own (Gemma) tokenizer class: a character-level vocabulary of it
        from transformers import Siglip2Tokenizer

        vocab = {token: index for index, token in enumerate(("<pad>", "<eos>", "<bos>", "<unk>", "<mask>"))}
        for character in "▁" + "".join(sorted(set(vocabulary.lower()) - {" "})) + ".,?'":
            vocab.setdefault(character, len(vocab))
        tokenizer = Siglip2Tokenizer(vocab=vocab, merges=[], model_max_length=context)
    ids = dict(
        vocab_size=len(tokenizer) if size == "tiny" else 32000,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    tiny = size == "tiny"
    text_config = dict(**_TINY_TRANSFORMER, **ids) if tiny else ids
    if version == 1:
        vision_config = dict(**_TINY_TRANSFORMER, image_size=32, patch_size=8) if tiny else {}
        SiglipModel(SiglipConfig(text_config=text_config, vision_config=vision_config)).eval().save_pretrained(folder)
        side = 32 if tiny else 224
        image_processor = SiglipImageProcessor(size={"height": side, "width": side})
        SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
        return
    vision_config = dict(**_TINY_TRANSFORMER, patch_size=8, num_patches=16) if tiny else {}
    Siglip2Model(Siglip2Config(text_config=text_config, vision_config=vision_config)).eval().save_pretrained(folder)
    image_processor = Siglip2ImageProcessor(patch_size=8 if tiny else 16, max_num_patches=16 if tiny else 256)
    Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


def _build_blip(folder: Path, size: str, vocabulary: str, *, head: str) -> None:
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
    from transformers import BlipForImageTextRetrieval

    cls = {
        "blip-caption": BlipForConditionalGeneration,
        "blip-vqa": BlipForQuestionAnswering,
        "blip-itm": BlipForImageTextRetrieval,
    }[head]
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


_LAYER_NORM = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
"""What sets the ``lv60`` family apart from wav2vec2-base (which uses group norm)."""


def _feature_extractor(layer_norm: bool = False) -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
        return_attention_mask=layer_norm,
    )


def _build_wav2vec2(folder: Path, size: str, projection_dim: int | None, layer_norm: bool = False) -> None:
    model = Wav2Vec2Model(_wav2vec2_config(size, **(_LAYER_NORM if layer_norm else {}))).eval()
    model.save_pretrained(folder)
    _feature_extractor(layer_norm).save_pretrained(folder)
    if projection_dim:
        hidden = model.config.hidden_size
        weight = torch.randn(projection_dim, hidden) / hidden**0.5
        save_tensors_atomic(
            folder / "projection.safetensors", {"weight": weight, "bias": torch.zeros(projection_dim)}
        )


def _build_wav2vec2_ctc(folder: Path, size: str, layer_norm: bool = False) -> None:
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for letter in letters:
        vocab[letter] = len(vocab)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), word_delimiter_token="|")
    extra = _LAYER_NORM if layer_norm else {}
    model = Wav2Vec2ForCTC(_wav2vec2_config(size, vocab_size=len(vocab), pad_token_id=0, **extra)).eval()
    if size == "tiny":  # a CTC head whose argmax follows the input (random tiny heads output one letter)
        with torch.no_grad():
            model.lm_head.weight.mul_(50.0)
    model.save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=_feature_extractor(layer_norm), tokenizer=tokenizer).save_pretrained(folder)


# ---------------------------------------------------------------- small models trained from scratch
# The bundled models (see mmdemo.pretrain.configs, which passes the world's tokenizers, image
# statistics and sample rate) are built here from these shapes; same shape and seed, same weights.

SMALL_IMAGE_SIZE = 96  # the bundled world's image size (mmdemo.world.render.DEFAULT_SIZE)


@dataclass(frozen=True)
class ClipShape:
    """Size of the bundled CLIP (defaults: 96x96 images, 32x32 patches: one per grid cell)."""

    image_size: int = SMALL_IMAGE_SIZE
    patch_size: int = 32
    vision_hidden: int = 128
    vision_layers: int = 3
    text_hidden: int = 128
    text_layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    projection_dim: int = 128


@dataclass(frozen=True)
class AudioShape:
    """Size of the bundled wav2vec2 (50 frames per second, like wav2vec2-base)."""

    conv_dim: tuple[int, ...] = (32, 32, 32, 32, 32)
    conv_kernel: tuple[int, ...] = (10, 8, 8, 4, 4)
    conv_stride: tuple[int, ...] = (5, 4, 4, 2, 2)
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256


@dataclass(frozen=True)
class BlipShape:
    """Size of the bundled BLIP models (vision and text share one width, as BLIP VQA requires)."""

    image_size: int = SMALL_IMAGE_SIZE
    patch_size: int = 32
    hidden: int = 128
    vision_layers: int = 3
    text_layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4


def build_small_clip(
    shape: ClipShape,
    tokenizer: PreTrainedTokenizerFast,
    *,
    image_mean: Sequence[float],
    image_std: Sequence[float],
    max_text_tokens: int,
) -> tuple[CLIPModel, CLIPProcessor]:
    """A freshly initialised small CLIP of ``shape`` with ``tokenizer``, and its processor."""
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shape.text_hidden,
            "intermediate_size": shape.text_hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.text_layers,
            "num_attention_heads": shape.heads,
            "max_position_embeddings": max_text_tokens,
            "projection_dim": shape.projection_dim,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={
            "hidden_size": shape.vision_hidden,
            "intermediate_size": shape.vision_hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.vision_layers,
            "num_attention_heads": shape.heads,
            "image_size": shape.image_size,
            "patch_size": shape.patch_size,
            "projection_dim": shape.projection_dim,
        },
        projection_dim=shape.projection_dim,
    )
    # Any picture is resized to the square input, no centre crop (which would cut off the sides of
    # a wide picture): the policy of mmdemo.world.render.to_model_input.
    image_processor = CLIPImageProcessor(
        size={"height": shape.image_size, "width": shape.image_size},
        do_center_crop=False,
        crop_size={"height": shape.image_size, "width": shape.image_size},
        image_mean=list(image_mean),
        image_std=list(image_std),
    )
    model = CLIPModel(config)
    embeddings = model.vision_model.embeddings
    _position_at_patch_scale(embeddings.position_embedding.weight, embeddings.patch_embedding)
    return model, CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_small_audio(shape: AudioShape, *, sample_rate: int) -> tuple[Wav2Vec2Model, Wav2Vec2FeatureExtractor]:
    """A freshly initialised small wav2vec2 of ``shape`` (layer-norm variant, so padded batches are
    exact) and its feature extractor for ``sample_rate`` Hz audio."""
    if not len(shape.conv_dim) == len(shape.conv_kernel) == len(shape.conv_stride):
        raise ValueError("conv_dim, conv_kernel and conv_stride must have the same length")
    config = Wav2Vec2Config(
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.intermediate,
        conv_dim=list(shape.conv_dim),
        conv_kernel=list(shape.conv_kernel),
        conv_stride=list(shape.conv_stride),
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        apply_spec_augment=False,
        mask_time_prob=0.0,
        layerdrop=0.0,
        hidden_dropout=0.0,
        activation_dropout=0.0,
        attention_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=sample_rate,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    )
    return Wav2Vec2Model(config), extractor


def _blip_config(shape: BlipShape, tokenizer: PreTrainedTokenizerFast, max_text_tokens: int) -> BlipConfig:
    dec_id = tokenizer.convert_tokens_to_ids("[DEC]")
    return BlipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shape.hidden,
            "encoder_hidden_size": shape.hidden,
            "intermediate_size": shape.hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.text_layers,
            "num_attention_heads": shape.heads,
            "max_position_embeddings": max_text_tokens + 8,
            "bos_token_id": dec_id,
            "eos_token_id": tokenizer.sep_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": shape.hidden,
            "intermediate_size": shape.hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.vision_layers,
            "num_attention_heads": shape.heads,
            "image_size": shape.image_size,
            "patch_size": shape.patch_size,
            # BLIP's default (1e-10) suits fine-tuning released weights, not training from scratch.
            "initializer_range": 0.02,
        },
        projection_dim=shape.hidden,
        image_text_hidden_size=shape.hidden,
    )


@torch.no_grad()
def _position_at_patch_scale(position: torch.Tensor, patch: torch.nn.Conv2d) -> None:
    """Draw position embeddings at the scale of the patch embeddings' outputs.

    With the stock initialisation a 32x32 patch projects to vectors ~50 times larger than the
    position embeddings, so a tower trained for minutes hardly knows where a patch is (a linear
    probe of a trained CLIP's embedding found a shape's column at chance, and BLIP answered
    "where is ...?" at chance). At a comparable scale, where things are is as visible as what.
    """
    fan_in = patch.weight[0].numel()
    scale = float(patch.weight.std()) * fan_in**0.5  # std of a patch embedding for unit-variance pixels
    position.normal_(0.0, scale)


def small_blip_processor(
    shape: BlipShape, tokenizer: PreTrainedTokenizerFast, *, image_mean: Sequence[float], image_std: Sequence[float]
) -> BlipProcessor:
    """The processor of a small BLIP of ``shape``: ``tokenizer`` (BERT style, with ``[DEC]``) and
    an image processor that resizes to the shape's image size."""
    image_processor = BlipImageProcessor(
        size={"height": shape.image_size, "width": shape.image_size},
        image_mean=list(image_mean),
        image_std=list(image_std),
    )
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_small_blip(
    shape: BlipShape,
    processor: BlipProcessor,
    *,
    max_text_tokens: int,
    share_text: bool = False,
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering]:
    """A fresh captioner and VQA model of ``shape`` for joint training with ``processor``
    (see :func:`small_blip_processor`).

    They share the vision tower. With ``share_text`` the VQA question encoder also shares the
    captioner's text transformer except its self-attention (as in BLIP, where the text encoder and
    decoder share all but the self-attention layers). Saving writes a full copy of the shared
    parts into each model's folder.
    """
    config = _blip_config(shape, processor.tokenizer, max_text_tokens)
    captioner = BlipForConditionalGeneration(config)
    embeddings = captioner.vision_model.embeddings
    _position_at_patch_scale(embeddings.position_embedding, embeddings.patch_embedding)
    vqa = BlipForQuestionAnswering(config)
    vqa.vision_model = captioner.vision_model  # one tower, two heads
    if share_text:
        decoder = captioner.text_decoder.bert
        vqa.text_encoder.embeddings = decoder.embeddings
        for encoder_layer, decoder_layer in zip(vqa.text_encoder.encoder.layer, decoder.encoder.layer):
            encoder_layer.crossattention = decoder_layer.crossattention
            encoder_layer.intermediate = decoder_layer.intermediate
            encoder_layer.output = decoder_layer.output
    captioner.generation_config.max_length = max_text_tokens
    vqa.generation_config.max_length = 8
    for model in (captioner, vqa):
        model.generation_config.num_beams = 1
        model.generation_config.do_sample = False
    return captioner, vqa
