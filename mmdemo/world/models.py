"""Architectures, tokenizers and processors of the bundled models (small transformers configs).

Everything here is built offline: the tokenizers come from the world's own vocabulary
(:func:`mmdemo.world.text.vocabulary_texts`) through :mod:`mmdemo.vocab`, and the processors are
the stock transformers classes, so the saved folders load with ``from_pretrained`` /
``AutoProcessor.from_pretrained`` exactly like hub checkpoints.

Special tokens: CLIP's text tower pools at the first ``<|endoftext|>`` (``eos_token_id``).
BLIP's decoders start from ``[DEC]`` (``bos_token_id``; both ``BlipForConditionalGeneration`` and
``BlipForQuestionAnswering`` start ``generate`` there) and stop at ``[SEP]``
(``sep_token_id``, which ``generate`` passes as its end token); training inputs are built the same
way (:func:`decoder_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
)

from mmdemo.vocab import build_word_tokenizer
from mmdemo.world.render import DEFAULT_SIZE
from mmdemo.world.sound import SAMPLE_RATE
from mmdemo.world.text import vocabulary_texts

IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's, also BLIP's
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_TEXT_TOKENS = 40  # the longest caption is 29 tokens with its special tokens


@dataclass(frozen=True)
class ClipShape:
    """Size of the bundled CLIP (defaults: 96x96 images, 32x32 patches: one per grid cell)."""

    image_size: int = DEFAULT_SIZE
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

    image_size: int = DEFAULT_SIZE
    patch_size: int = 32
    hidden: int = 128
    vision_layers: int = 3
    text_layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4


def clip_tokenizer() -> PreTrainedTokenizerFast:
    return build_word_tokenizer(vocabulary_texts(), style="clip", model_max_length=MAX_TEXT_TOKENS)


def bert_tokenizer() -> PreTrainedTokenizerFast:
    return build_word_tokenizer(vocabulary_texts(), style="bert", model_max_length=MAX_TEXT_TOKENS)


def build_clip(shape: ClipShape = ClipShape()) -> tuple[CLIPModel, CLIPProcessor]:
    """A freshly initialised small CLIP and its processor."""
    tokenizer = clip_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shape.text_hidden,
            "intermediate_size": shape.text_hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.text_layers,
            "num_attention_heads": shape.heads,
            "max_position_embeddings": MAX_TEXT_TOKENS,
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
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": shape.image_size},
        crop_size={"height": shape.image_size, "width": shape.image_size},
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
    )
    model = CLIPModel(config)
    embeddings = model.vision_model.embeddings
    _position_at_patch_scale(embeddings.position_embedding.weight, embeddings.patch_embedding)
    return model, CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_audio(shape: AudioShape = AudioShape()) -> tuple[Wav2Vec2Model, Wav2Vec2FeatureExtractor]:
    """A freshly initialised small wav2vec2 (layer-norm variant, so padded batches are exact)."""
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
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    )
    return Wav2Vec2Model(config), extractor


def _blip_config(shape: BlipShape, tokenizer: PreTrainedTokenizerFast) -> BlipConfig:
    dec_id = tokenizer.convert_tokens_to_ids("[DEC]")
    return BlipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": shape.hidden,
            "encoder_hidden_size": shape.hidden,
            "intermediate_size": shape.hidden * shape.mlp_ratio,
            "num_hidden_layers": shape.text_layers,
            "num_attention_heads": shape.heads,
            "max_position_embeddings": MAX_TEXT_TOKENS + 8,
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


def blip_processor(shape: BlipShape = BlipShape()) -> BlipProcessor:
    image_processor = BlipImageProcessor(
        size={"height": shape.image_size, "width": shape.image_size},
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
    )
    return BlipProcessor(image_processor=image_processor, tokenizer=bert_tokenizer())


def build_blip(
    shape: BlipShape = BlipShape(), share_text: bool = False
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor]:
    """A fresh captioner and VQA model for joint training, and their processor.

    They share the vision tower. With ``share_text`` the VQA question encoder also shares the
    captioner's text transformer except its self-attention (as in BLIP, where the text encoder and
    decoder share all but the self-attention layers). Saving writes a full copy of the shared
    parts into each model's folder.
    """
    processor = blip_processor(shape)
    config = _blip_config(shape, processor.tokenizer)
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
    captioner.generation_config.max_length = MAX_TEXT_TOKENS
    vqa.generation_config.max_length = 8
    for model in (captioner, vqa):
        model.generation_config.num_beams = 1
        model.generation_config.do_sample = False
    return captioner, vqa, processor


def decoder_inputs(
    tokenizer: PreTrainedTokenizerFast, texts: list[str], bos_token_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoder ``input_ids`` ([DEC] words [SEP] [PAD]...), attention mask and LM labels.

    The labels are the input ids with padding set to -100; BLIP's LM head shifts them itself.
    """
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    input_ids = batch["input_ids"].clone()  # [B, L]
    input_ids[:, 0] = bos_token_id
    labels = input_ids.masked_fill(batch["attention_mask"] == 0, -100)
    return input_ids, batch["attention_mask"], labels
