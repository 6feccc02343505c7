"""The bundled models on drawings and questions the world's generator never produces.

The shipped caption and VQA models (16x16 patches, a vision tower distilled from EfficientNet-Lite0's
feature map, the varied world, eight stages of pretraining; README, "The bundled world") meet every
bar on these 60 drawings: captions 0.92, VQA colour 0.94, shape 0.89, "cannot tell" 0.94 over the
second, third and fourth sets. (The plain-world models shipped before scored 0.10, 0.15, 0.13 and
0.00.)

The question sets (see :mod:`tests.world.held_out`): the bars are held over the second, third and
fourth, which the generator never produces (checked below); the first became a development set.

Shapes drawn by this test's own renderer (:mod:`tests.world.held_out`: PIL ``ImageDraw`` primitives,
web colours, other canvas sizes and aspect ratios, any place and scale, filled or outlined) and
questions written by hand. ``python -m tests.world.held_out`` prints the same figures on 200 drawings.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo import generate, registry
from mmdemo.pretrain.evaluate import saved_model_functions
from mmdemo.world.phrasing import CANNOT_TELL, ask_out_of_world, ask_varied, is_cannot_tell
from mmdemo.world.scenes import sample_free_scene, sample_scene
from mmdemo.world.text import ask, question_families
from tests.world.held_out import (
    HELD_OUT_SETS,
    drawings,
    figures,
    normalised,
)

BUNDLED = registry.PRESETS["bundled"]


def test_the_generators_never_produce_the_held_out_questions():
    rng = np.random.default_rng(5)
    produced: set[str] = set()
    for i in range(10000):  # ~200,000 questions
        scene = sample_free_scene(rng, count=1) if i % 3 else sample_scene(rng)
        for family in question_families():
            produced.add(normalised(ask_varied(scene, rng, family).question))
            produced.add(normalised(ask(scene, rng, family).question))
        produced.add(normalised(ask_out_of_world(rng).question))
    assert len(produced) > 3000  # the generator varies a lot ...
    held_out = [q for questions in HELD_OUT_SETS.values() for q in questions]
    assert not {normalised(q) for q in held_out} & produced  # ... and never writes these
    assert min(len(HELD_OUT_SETS["colour"]), len(HELD_OUT_SETS["shape"])) >= 10
    assert len(HELD_OUT_SETS["out-of-world"]) >= 20


def test_the_held_out_renderer_varies_canvas_place_and_scale():
    made = drawings(20)
    assert len({d.image.size for d in made}) > 10
    assert any(d.image.size[0] != d.image.size[1] for d in made)
    assert {d.kind for d in made} == {"circle", "square", "triangle", "star"}


def test_the_varied_worlds_tokenizer_splits_unseen_words_instead_of_dropping_them():
    from mmdemo.pretrain.configs import wordpiece_bert_tokenizer

    tokenizer = wordpiece_bert_tokenizer()
    tokens = tokenizer.tokenize("What animal is this hippopotamus? Colour/color!")
    assert tokenizer.unk_token not in tokens
    assert "colour" in tokens and "color" in tokens  # both spellings are whole words
    assert [t for t in tokens if t.startswith("##")]  # unseen words come apart into pieces
    assert tokenizer.convert_tokens_to_ids(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]) == [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def held_out():
    functions = saved_model_functions(registry.BUNDLED_DIR)
    if "caption" not in functions or "answer" not in functions:
        pytest.fail("bundled checkpoints missing; run `python -m mmdemo pretrain`")
    return figures(60, caption=functions["caption"], answer=functions["answer"])


def test_captions_name_colour_and_kind_of_shapes_drawn_elsewhere(held_out):
    assert held_out.caption_colour_kind >= 0.9, held_out


def test_vqa_answers_colour_questions_asked_in_other_words(held_out):
    assert held_out.questions_per_family >= 10  # twelve hand-written phrasings per family
    assert held_out.vqa_colour >= 0.85, held_out


def test_vqa_answers_shape_questions_asked_in_other_words(held_out):
    assert held_out.vqa_shape >= 0.85, held_out


def test_out_of_world_questions_are_answered_cannot_tell(held_out):
    assert held_out.out_of_world_cannot_tell >= 0.9, held_out


def test_the_api_presents_cannot_tell_as_not_answerable(monkeypatch):
    """A generated "cannot tell" (what a VQA model trained on the varied world answers out of the
    world) is returned as not answerable, with a notice; any other answer as it is."""
    from mmdemo.backends import blip_backend

    image = drawings(1, seed=7)[0].image
    real = blip_backend.answer_question
    monkeypatch.setattr(blip_backend, "answer_question", lambda *args: blip_backend.ScoredText("cannot tell", 0.9))
    out = generate.answer(image, "What is the meaning of life?", model=BUNDLED["vqa"])
    assert out.answerable is False and out.answer.startswith(CANNOT_TELL)
    assert is_cannot_tell("Can't tell.") and not is_cannot_tell("red")
    monkeypatch.setattr(blip_backend, "answer_question", real)
    shown = generate.answer(image, "what colour is it?", model=BUNDLED["vqa"])
    assert shown.answerable is True and shown.answer in {"red", "orange", "yellow", "green", "blue", "purple"}
