import pytest
from transformers import AutoTokenizer

from mmdemo.vocab import build_word_tokenizer, words_of


def test_clip_style_round_trip(tmp_path):
    tokenizer = build_word_tokenizer(["A red circle.", "a blue square"], style="clip")
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = loaded("A RED circle!").input_ids
    assert ids[0] == loaded.bos_token_id and ids[-1] == loaded.eos_token_id
    assert loaded.convert_ids_to_tokens(ids[1:4]) == ["a", "red", "circle"]
    assert loaded.convert_ids_to_tokens(ids[4:5]) == [loaded.unk_token]  # '!' was never seen
    assert loaded.decode(ids[:4], skip_special_tokens=True) == "a red circle"


def test_bert_style_has_blip_tokens():
    tokenizer = build_word_tokenizer(["what color"], style="bert")
    ids = tokenizer("what color").input_ids
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "what", "color", "[SEP]"]
    assert tokenizer.convert_tokens_to_ids("[DEC]") != tokenizer.unk_token_id
    assert tokenizer.pad_token == "[PAD]" and tokenizer.mask_token == "[MASK]"


def test_words_and_bad_style():
    assert words_of(["Red, red. BLUE"]) == [",", ".", "blue", "red"]
    with pytest.raises(ValueError, match="clip"):
        build_word_tokenizer(["x"], style="gpt")


def test_wordpiece_splits_unseen_words_into_pieces_and_keeps_special_ids(tmp_path):
    from mmdemo.vocab import build_wordpiece_tokenizer

    corpus = ["what colour is the red circle?", "what color is the shape?", "cannot tell"] * 5
    tokenizer = build_wordpiece_tokenizer(corpus, style="bert", vocab_size=300)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.convert_tokens_to_ids(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]) == [0, 1, 2, 3, 4, 5]
    tokens = loaded.tokenize("What ANIMAL is this? Café!")
    assert tokens[:1] == ["what"] and loaded.unk_token not in tokens  # accents stripped, pieces for the rest
    assert [t for t in tokens if t.startswith("##")]
    assert "colour" in loaded.tokenize("colour") and "color" in loaded.tokenize("color")
    assert loaded.decode(loaded("cannot tell").input_ids, skip_special_tokens=True) == "cannot tell"
    assert loaded.tokenize("😀") == [loaded.unk_token]  # outside the alphabet: the only unknown
    clip = build_wordpiece_tokenizer(["a red circle."], style="clip", vocab_size=200)
    ids = clip("a cat").input_ids
    assert ids[0] == clip.bos_token_id and ids[-1] == clip.eos_token_id and clip.unk_token_id not in ids
    with pytest.raises(ValueError, match="clip"):
        build_wordpiece_tokenizer(["x"], style="gpt")
