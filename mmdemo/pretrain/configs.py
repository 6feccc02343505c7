"""The bundled models' settings: data passed to :mod:`mmdemo.model_factory`, which builds them.

The architectures are :class:`~mmdemo.model_factory.ClipShape`, :class:`~mmdemo.model_factory.AudioShape`
and :class:`~mmdemo.model_factory.BlipShape` (their defaults are the shipped checkpoints'); what
ties them to the shapes world lives here: the shipped tokenizers are the word-level vocabulary of the
world's canonical texts (:func:`mmdemo.world.text.vocabulary_texts`). For models trained on the varied
world (``PretrainConfig.blip_wordpiece`` / ``clip_wordpiece``) there are WordPiece vocabularies trained
offline (:func:`mmdemo.vocab.build_wordpiece_tokenizer`) on captions, questions of every phrasing and
out-of-world questions (:func:`mmdemo.world.phrasing.question_corpus` / ``caption_corpus``), so a
word never seen splits into pieces instead of one unknown token. The image statistics are CLIP's, the audio is the world's
16 kHz. Images of any size are resized to the square input without crop or padding
(:func:`mmdemo.world.render.to_model_input` states the policy). The processors are the stock transformers classes, so the
saved folders load with ``from_pretrained`` / ``AutoProcessor.from_pretrained`` exactly like hub
checkpoints.

Special tokens: CLIP's text tower pools at the first ``<|endoftext|>`` (``eos_token_id``).
BLIP's decoders start from ``[DEC]`` (``bos_token_id``; both ``BlipForConditionalGeneration`` and
``BlipForQuestionAnswering`` start ``generate`` there) and stop at ``[SEP]``
(``sep_token_id``, which ``generate`` passes as its end token); training inputs are built the same
way (:func:`mmdemo.pretrain.train_blip.decoder_inputs`).
"""

from __future__ import annotations

from transformers import (
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    BlipProcessor,
    CLIPModel,
    CLIPProcessor,
    PreTrainedTokenizerFast,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
)

from mmdemo.model_factory import (
    AudioShape,
    BlipShape,
    ClipShape,
    build_small_audio,
    build_small_blip,
    build_small_clip,
    small_blip_processor,
)
from mmdemo.vocab import build_word_tokenizer, build_wordpiece_tokenizer
from mmdemo.world.sound import SAMPLE_RATE
from mmdemo.world.phrasing import caption_corpus, question_corpus
from mmdemo.world.text import vocabulary_texts

IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's, also BLIP's
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_TEXT_TOKENS = 40  # the longest reworded caption is about 36 tokens with its special tokens
CLIP_VOCAB_SIZE = 500
BERT_VOCAB_SIZE = 1200


def clip_tokenizer() -> PreTrainedTokenizerFast:
    return build_word_tokenizer(vocabulary_texts(), style="clip", model_max_length=MAX_TEXT_TOKENS)


def wordpiece_clip_tokenizer() -> PreTrainedTokenizerFast:
    return build_wordpiece_tokenizer(
        caption_corpus(), style="clip", vocab_size=CLIP_VOCAB_SIZE, model_max_length=MAX_TEXT_TOKENS
    )


def bert_tokenizer() -> PreTrainedTokenizerFast:
    return build_word_tokenizer(vocabulary_texts(), style="bert", model_max_length=MAX_TEXT_TOKENS)


def wordpiece_bert_tokenizer() -> PreTrainedTokenizerFast:
    return build_wordpiece_tokenizer(
        question_corpus(), style="bert", vocab_size=BERT_VOCAB_SIZE, model_max_length=MAX_TEXT_TOKENS
    )


def build_clip(shape: ClipShape = ClipShape(), wordpiece: bool = False) -> tuple[CLIPModel, CLIPProcessor]:
    """A freshly initialised bundled-size CLIP and its processor (word-level tokenizer unless ``wordpiece``)."""
    return build_small_clip(
        shape, wordpiece_clip_tokenizer() if wordpiece else clip_tokenizer(), image_mean=IMAGE_MEAN, image_std=IMAGE_STD, max_text_tokens=MAX_TEXT_TOKENS
    )


def build_audio(shape: AudioShape = AudioShape()) -> tuple[Wav2Vec2Model, Wav2Vec2FeatureExtractor]:
    """A freshly initialised bundled-size wav2vec2 and its feature extractor (16 kHz)."""
    return build_small_audio(shape, sample_rate=SAMPLE_RATE)


def blip_processor(shape: BlipShape = BlipShape(), wordpiece: bool = False) -> BlipProcessor:
    tokenizer = wordpiece_bert_tokenizer() if wordpiece else bert_tokenizer()
    return small_blip_processor(shape, tokenizer, image_mean=IMAGE_MEAN, image_std=IMAGE_STD)


def build_blip(
    shape: BlipShape = BlipShape(), share_text: bool = False, wordpiece: bool = False
) -> tuple[BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor]:
    """A fresh bundled-size captioner and VQA model for joint training, and their processor
    (see :func:`mmdemo.model_factory.build_small_blip` for what they share); ``wordpiece``: the
    WordPiece tokenizer instead of the world's word-level one."""
    processor = blip_processor(shape, wordpiece)
    captioner, vqa = build_small_blip(shape, processor, max_text_tokens=MAX_TEXT_TOKENS, share_text=share_text)
    return captioner, vqa, processor
