import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo.classify import parse_labels, zero_shot_classify
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.errors import MediaError


def test_probabilities_match_clip_softmax(tiny_models):
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    out = zero_shot_classify(image, "red circle, blue square, dog", "a picture of a {}", model=tiny_models.clip)
    assert out.labels == ["red circle", "blue square", "dog"]
    assert sum(out.probabilities) == pytest.approx(1.0, abs=1e-5)
    from mmdemo.loading import get_model

    loaded = get_model(tiny_models.clip, "image-text")
    img = embed_images([image], model=tiny_models.clip).embeddings
    txt = embed_texts([f"a picture of a {x}" for x in out.labels], model=tiny_models.clip).embeddings
    expected = torch.softmax(loaded.model.logit_scale.exp().item() * (img @ txt.T)[0], dim=0)
    assert torch.allclose(torch.tensor(out.probabilities), expected, atol=1e-4)
    assert out.top_label == out.labels[int(expected.argmax())]
    assert out.ranked()[0][0] == out.top_label


def test_label_parsing_and_template_errors(tiny_models):
    assert parse_labels("cat, dog,\n cat ,, bird") == ["cat", "dog", "bird"]
    with pytest.raises(MediaError, match="at least two"):
        parse_labels("cat")
    with pytest.raises(MediaError, match="exactly once"):
        zero_shot_classify(Image.new("RGB", (8, 8)), "cat, dog", "a photo", model=tiny_models.clip)


def test_labels_outside_a_word_level_vocabulary_are_refused_not_scored_alike():
    """The bundled CLIP's vocabulary is the shapes world's words: it cannot read "cat" or "car"."""
    from mmdemo.classify import zero_shot_classify
    from mmdemo.errors import MediaError
    from mmdemo.registry import BUNDLED_DIR

    assert (BUNDLED_DIR / "clip").is_dir()
    image = Image.new("RGB", (64, 64), "red")
    with pytest.raises(MediaError, match="knows no word of the label.*'cat', 'dog', 'car', 'airplane'.*e.g. .*circle"):
        zero_shot_classify(image, "cat, dog, car, airplane", model="bundled-clip")
    result = zero_shot_classify(image, "red circle, blue square", model="bundled-clip")  # known words still work
    assert len(result.probabilities) == 2


def test_labels_a_closed_wordpiece_vocabulary_never_saw_as_words_are_refused():
    """A WordPiece vocabulary built from a closed world reads "cat" as pieces ("c ##at"): no unknown
    token, yet no word the model ever saw, so it cannot know the label either."""
    from types import SimpleNamespace

    from mmdemo.backends.base import unknown_labels
    from mmdemo.vocab import build_wordpiece_tokenizer

    tokenizer = build_wordpiece_tokenizer(["a red circle.", "a blue square on the left."] * 3, style="clip", vocab_size=200)
    loaded = SimpleNamespace(tokenizer=tokenizer)
    assert tokenizer.unk_token_id not in tokenizer("cat", add_special_tokens=False)["input_ids"]
    assert unknown_labels(loaded, ["cat", "hot dog", "red circle", "red cat", "circle"]) == ["cat", "hot dog"]
