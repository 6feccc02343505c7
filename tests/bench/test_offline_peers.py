"""Runtime peers of the offline preset's models (mmdemo.bench.offline) on its real weights: the
classifier and the sentence encoder converted by a peer match float32 torch within the bars; a
broken peer fails them."""

import pytest
import torch

from mmdemo.bench.inputs import textures
from mmdemo.bench.offline import _classifier_checks, _pixels, _sentence_checks, _tokens
from mmdemo.bench.peer_sets import convert_all
from mmdemo.bench.runtimes import missing_runtime
from mmdemo.registry import OFFLINE_IMAGE_TEXT, missing_offline_packages
from mmdemo.runtimes.towers import ClassifierTower, SentenceTower

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(bool(missing_offline_packages()), reason="the offline preset's packages are not installed"),
              pytest.mark.skipif(missing_runtime("ort-fp32") is not None, reason="onnxruntime / onnx not installed")]


@pytest.fixture(scope="module")
def conse():
    from mmdemo.loading import get_model

    return get_model(OFFLINE_IMAGE_TEXT, "image-text")


def test_ort_peer_matches_float32_torch_and_a_broken_one_fails(conse):
    pictures = textures(6, seed=3, strength=1.0)
    texts = ["a photo of a cat.", "a red car on a road", "two dogs playing", "a cup of coffee", "the night sky"]
    pixels, (ids, mask) = _pixels(conse, pictures), _tokens(conse, texts)
    classifier, sentence = ClassifierTower(conse.model.classifier).eval(), SentenceTower(conse.model.text_encoder).eval()
    with torch.no_grad():
        logits, vectors = classifier(pixels), sentence(ids, mask)
    peers = convert_all(("ort-fp32",), lambda: {"classifier": (classifier, (pixels[:2],)),
                                               "sentence": (sentence, (ids[:2], mask[:2]))})
    peer = peers["ort-fp32"]
    assert peer.ok and peer.result.conversion_s > 0 and set(peer.runs) == {"classifier", "sentence"}
    image_checks = _classifier_checks(logits, peer.runs["classifier"](pixels))
    text_checks = _sentence_checks(vectors, peer.runs["sentence"](ids, mask))
    assert all(c.passed for c in image_checks + text_checks), [c.summary() for c in image_checks + text_checks]
    assert len(set(logits.argmax(-1).tolist())) > 1  # the pictures get different classes: top-1 means something
    broken = _classifier_checks(logits, logits.roll(1, dims=0))
    assert not any(c.passed for c in broken), [c.summary() for c in broken]
    assert not all(c.passed for c in _sentence_checks(vectors, vectors.roll(1, dims=0)))
