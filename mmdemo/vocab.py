"""Offline tokenizers for small models, built from a word list with the `tokenizers` library.

The hub checkpoints ship their own tokenizers. The bundled models and the tests' tiny models are
trained here, without the hub, so their tokenizers are built here too, in one of two kinds:

- :func:`build_word_tokenizer`: a word-level vocabulary (every word of the given texts; anything
  else is the unknown token): the tests' tiny models;
- :func:`build_wordpiece_tokenizer`: a WordPiece vocabulary trained offline on the given texts
  with the `tokenizers` library, plus every letter, digit and punctuation mark as a piece, so a
  word never seen splits into sub-words or characters instead of one unknown token (only
  characters outside that alphabet, e.g. emoji, are unknown): the bundled models.

Both lower-case the text (WordPiece also strips accents), split punctuation, and add the special tokens
each model family expects, at fixed ids (pad 0, unknown 1, start 2, end 3, then the extras).
The result is a transformers ``PreTrainedTokenizerFast`` that saves with ``save_pretrained`` and
loads with ``AutoTokenizer.from_pretrained``, exactly like a hub tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import string

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordLevel, WordPiece
from transformers import PreTrainedTokenizerFast

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class SpecialTokens:
    """Names of the special tokens of one model family, in vocabulary order."""

    pad: str
    unk: str
    bos: str
    eos: str
    extra: tuple[str, ...] = ()

    def ordered(self) -> list[str]:
        tokens = [self.pad, self.unk, self.bos, self.eos, *self.extra]
        return list(dict.fromkeys(tokens))


# CLIP: <|startoftext|> text <|endoftext|>; CLIP pads with the end token in the OpenAI checkpoints,
# here with a distinct pad token so attention masks stay exact.
CLIP_TOKENS = SpecialTokens(pad="<pad>", unk="<unk>", bos="<|startoftext|>", eos="<|endoftext|>")
# BERT / BLIP: [CLS] text [SEP]; BLIP's text decoder starts generation from [DEC].
BERT_TOKENS = SpecialTokens(pad="[PAD]", unk="[UNK]", bos="[CLS]", eos="[SEP]", extra=("[MASK]", "[DEC]"))

STYLES = {"clip": CLIP_TOKENS, "bert": BERT_TOKENS}


def words_of(texts: Iterable[str]) -> list[str]:
    """The sorted set of lower-cased words and punctuation marks in ``texts``."""
    found: set[str] = set()
    for text in texts:
        found.update(_WORD.findall(text.lower()))
    return sorted(found)


def build_word_tokenizer(
    texts: Iterable[str],
    *,
    style: str = "clip",
    model_max_length: int = 32,
) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer whose vocabulary is every word in ``texts``.

    Args:
        texts: sentences (or single words) that define the vocabulary.
        style: ``"clip"`` (``<|startoftext|> … <|endoftext|>``) or ``"bert"``
            (``[CLS] … [SEP]``, plus ``[MASK]`` and BLIP's ``[DEC]``).
        model_max_length: the longest sequence the model accepts, special tokens included.

    Unknown words at run time map to the unknown token, never to an error.
    """
    special = _style(style)
    vocab = {token: index for index, token in enumerate(special.ordered())}
    for word in words_of(texts):
        vocab.setdefault(word, len(vocab))
    return _wrap(Tokenizer(WordLevel(vocab, unk_token=special.unk)), vocab, style, model_max_length, strip_accents=False)


SUBWORD_PREFIX = "##"
ALPHABET: tuple[str, ...] = tuple(string.ascii_lowercase + string.digits + string.punctuation)


def build_wordpiece_tokenizer(
    texts: Iterable[str],
    *,
    style: str = "bert",
    vocab_size: int = 1000,
    model_max_length: int = 32,
) -> PreTrainedTokenizerFast:
    """Train a WordPiece tokenizer on ``texts`` (offline, deterministic for the same texts).

    Args:
        texts: the training corpus; its frequent words become whole tokens.
        style: ``"clip"`` or ``"bert"``, as for :func:`build_word_tokenizer`.
        vocab_size: the most tokens (special tokens and the alphabet included).
        model_max_length: the longest sequence the model accepts, special tokens included.

    Every character of :data:`ALPHABET` is a token both at the start of a word and as a
    continuation (``##x``), so any word of those characters tokenizes without the unknown token.
    """
    special = _style(style)
    texts = list(texts)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=special.ordered(),
        initial_alphabet=list(ALPHABET),
        limit_alphabet=len(ALPHABET),
        continuing_subword_prefix=SUBWORD_PREFIX,
        show_progress=False,
    )
    draft = Tokenizer(WordPiece(unk_token=special.unk, continuing_subword_prefix=SUBWORD_PREFIX))
    _set_text_handling(draft)
    draft.train_from_iterator(texts, trainer)
    trained = draft.get_vocab()
    vocab = {token: index for index, token in enumerate(special.ordered())}
    for token in sorted(trained, key=trained.__getitem__):  # the trainer's order: stable ids
        vocab.setdefault(token, len(vocab))
    for char in ALPHABET:  # pieces the corpus never had in that position
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(SUBWORD_PREFIX + char, len(vocab))
    model = WordPiece(vocab, unk_token=special.unk, continuing_subword_prefix=SUBWORD_PREFIX, max_input_chars_per_word=100)
    tokenizer = Tokenizer(model)
    tokenizer.decoder = decoders.WordPiece(prefix=SUBWORD_PREFIX, cleanup=True)
    return _wrap(tokenizer, vocab, style, model_max_length)


def _style(style: str) -> SpecialTokens:
    if style not in STYLES:
        raise ValueError(f"Unknown tokenizer style {style!r}; valid styles: {sorted(STYLES)}")
    return STYLES[style]


def _set_text_handling(tokenizer: Tokenizer, strip_accents: bool = True) -> None:
    accents = [normalizers.NFD(), normalizers.StripAccents()] if strip_accents else []
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), *accents, normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )


def _wrap(
    tokenizer: Tokenizer, vocab: dict[str, int], style: str, model_max_length: int, strip_accents: bool = True
) -> PreTrainedTokenizerFast:
    """Normaliser, pre-tokenizer and special-token template around ``tokenizer``; the fast tokenizer."""
    special = STYLES[style]
    _set_text_handling(tokenizer, strip_accents)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{special.bos} $A {special.eos}",
        pair=f"{special.bos} $A {special.eos} $B {special.eos}",
        special_tokens=[(special.bos, vocab[special.bos]), (special.eos, vocab[special.eos])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=model_max_length,
        pad_token=special.pad,
        unk_token=special.unk,
        bos_token=special.bos,
        eos_token=special.eos,
        additional_special_tokens=list(special.extra) or None,
    )
    if style == "bert":
        fast.cls_token = special.bos
        fast.sep_token = special.eos
        fast.mask_token = "[MASK]"
    return fast
