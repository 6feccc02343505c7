"""The offline preset's ConSE image-text model, captions and answers, on real photos, through the public API."""

from __future__ import annotations

import pytest
import torch

import mmdemo
from mmdemo.backends.conse_backend import conse_vectors
from mmdemo.errors import MediaError, UnknownModelError
from mmdemo.recognition import recognise
from mmdemo.registry import active_preset, use_preset
from tests.inputs.real_photos import real_photos

LABELS = ["cat", "dog", "cup of coffee", "rocket", "motorcycle", "cheetah", "flower", "car", "airplane", "banana"]
TRUTH = {"cat": "cat", "coffee": "cup of coffee", "rocket": "rocket", "motorcycle": "motorcycle",
         "cheetah": "cheetah", "flower": "flower"}
QUERIES = {"cat": "a cat lying on a rug", "coffee": "a cup of hot coffee", "rocket": "a rocket ready for launch",
           "motorcycle": "a red motorbike", "cheetah": "a spotted cheetah in the grass", "flower": "an orange blossom"}


@pytest.fixture(scope="module")
def photos():
    before = active_preset()
    use_preset("offline")
    yield real_photos()
    use_preset(before)


def test_conse_vector_is_the_renormalised_top_t_mixture():
    vectors = torch.eye(4)  # four classes, one axis each
    probabilities = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    mixed = conse_vectors(probabilities, vectors, top_k=2)
    assert torch.allclose(mixed, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))


def test_zero_shot_names_every_photo_subject(photos):
    for subject, photo in photos.items():
        result = mmdemo.zero_shot_classify(photo, LABELS)
        assert result.model == "offline-conse"
        assert result.top_label == TRUTH[subject], (subject, result.ranked()[:3])


def test_text_queries_find_their_photo(photos):
    names = list(photos)
    images = mmdemo.embed_images(list(photos.values())).embeddings  # [6, 384]
    texts = mmdemo.embed_texts([QUERIES[name] for name in names]).embeddings
    assert images.shape == (len(names), 384)
    best = (texts @ images.T).argmax(dim=1).tolist()
    assert [names[i] for i in best] == names


def test_captions_name_the_subject_and_say_they_come_from_labels(photos):
    result = mmdemo.caption(photos["cat"])
    assert result.method == "labels" and result.model == "offline-caption"
    assert result.best.startswith("a photo of a cat (") and result.best.endswith(" %)")
    assert result.classes[0].parent == "cat" and result.captions[0].score == pytest.approx(result.classes[0].probability)
    assert "coffee" in mmdemo.caption(photos["coffee"]).best
    assert "rocket" in mmdemo.caption(photos["rocket"]).best
    three = mmdemo.caption(photos["motorcycle"], decoding=mmdemo.DecodingConfig(strategy="beam", num_captions=3))
    assert "motorcycle" in three.best and len(three.captions) == 3
    assert [c.score for c in three.captions] == sorted((c.score for c in three.captions), reverse=True)
    with pytest.raises(MediaError, match="cannot continue a prefix"):
        mmdemo.caption(photos["cat"], prefix="a picture of")


def test_answers_only_what_the_labels_can_answer(photos):
    cat = photos["cat"]
    what = mmdemo.answer(cat, "What is in the picture?")
    assert what.answerable and what.method == "labels" and what.answer.startswith("a cat (")
    yes = mmdemo.answer(cat, "Is this a cat?")
    assert (yes.answer, yes.answerable) == ("yes", True) and yes.confidence > 0.8
    no = mmdemo.answer(cat, "is there a dog in the picture?")
    assert no.answer == "no" and no.confidence > 0.8
    assert mmdemo.answer(photos["coffee"], "Is this a cup of coffee?").answer == "yes"
    for question in ("What colour is the cat?", "Is this an astronaut?", "Is it red?"):
        refused = mmdemo.answer(cat, question)
        assert not refused.answerable and refused.confidence == 0.0
        assert refused.answer.startswith("This offline preset can't answer that")
        assert "cat (tabby)" in refused.answer  # it says what it does see


def test_recognise_ranks_classes_and_refuses_other_models(photos, tiny_models):
    seen = recognise(photos["cheetah"], top=3)
    assert seen.top.name == "cheetah" and seen.top.parent == "big cat"
    assert [c.probability for c in seen.classes] == sorted((c.probability for c in seen.classes), reverse=True)
    with pytest.raises(UnknownModelError, match="offline-conse"):
        recognise(photos["cheetah"], model=tiny_models.clip)
