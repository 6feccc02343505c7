"""Offline tokenizers for small models, built from a word list with the `tokenizers` library.

The hub checkpoints ship their own tokenizers. The bundled models and the tests' tiny models are
trained here, without the hub, so their tokenizers are built here too: a word-level vocabulary, a
lower-casing normaliser, punctuation splitting, and the special tokens each model family expects.
The result is a transformers ``PreTrainedTokenizerFast`` that saves with ``save_pretrained`` and
loads with ``AutoTokenizer.from_pretrained``, exactly like a hub tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
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
    if style not in STYLES:
        raise ValueError(f"Unknown tokenizer style {style!r}; valid styles: {sorted(STYLES)}")
    special = STYLES[style]
    vocab = {token: index for index, token in enumerate(special.ordered())}
    for word in words_of(texts):
        vocab.setdefault(word, len(vocab))

    tokenizer = Tokenizer(WordLevel(vocab, unk_token=special.unk))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
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
