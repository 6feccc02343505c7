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
