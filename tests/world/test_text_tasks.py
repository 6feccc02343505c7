"""Captions, questions, claims and the classification tasks."""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo.world.scenes import Scene, Shape, sample_scene
from mmdemo.world.tasks import TASKS, WorldContent, get_task, labels_of
from mmdemo.world.text import (
    FULL,
    SOUND_LEVEL,
    Detail,
    ask,
    caption_names_scene,
    claim,
    describe,
    matches,
    parse_caption,
    question_families,
    vocabulary_texts,
)
from mmdemo.vocab import words_of

SCENE = Scene(
    (
        Shape("circle", "red", "large", "left"),
        Shape("square", "blue", "small", "middle"),
        Shape("star", "red", "small", "right"),
    )
)


def test_captions_list_shapes_left_to_right():
    assert describe(SCENE) == (
        "a large red circle on the left, a small blue square in the middle and a small red star on the right."
    )
    assert describe(SCENE, SOUND_LEVEL) == "a red circle, a blue square and a red star."
    assert describe(Scene((SCENE.shapes[1],)), Detail(size=False)) == "a blue square in the middle."


def test_parse_inverts_describe_and_checks_attributes():
    for seed in range(40):
        scene = sample_scene(np.random.default_rng(seed))
        assert caption_names_scene(describe(scene), scene)
        parsed = parse_caption(describe(scene))
        assert [p["kind"] for p in parsed] == [s.kind for s in scene.shapes]
    one = Scene((Shape("circle", "red", "large", "left"),))
    assert not caption_names_scene("a small red circle on the left.", one)  # wrong size
    assert not caption_names_scene("a large red circle on the right.", one)  # wrong column
    assert not caption_names_scene("a large red circle.", one)  # column missing
    assert not caption_names_scene("", one)


def test_partial_descriptions_match_every_scene_they_describe():
    moved = Scene(tuple(Shape(s.kind, s.colour, "large", s.position) for s in SCENE.shapes))
    assert matches(SCENE, moved, SOUND_LEVEL)
    assert matches(SCENE, moved, Detail(size=False))
    assert not matches(SCENE, moved, FULL)


@pytest.mark.parametrize("family", question_families())
def test_answers_are_right(family):
    rng = np.random.default_rng(0)
    for _ in range(30):
        qa = ask(SCENE, rng, family)
        q, a = qa.question, qa.answer
        assert qa.kind == family and len(a.split()) == 1
        if q == "what colour is the circle?":
            assert a == "red"
        if q == "what shape is on the right?":
            assert a == "star"
        if q == "how many shapes are there?":
            assert a == "three"
        if q == "how many red shapes are there?":
            assert a == "two"
        if q == "where is the blue square?":
            assert a == "middle"
        if q == "what size is the red circle?":
            assert a == "large"
        if q.startswith("is there a ") and q.endswith("?") and "shape" not in q:
            assert a == ("yes" if SCENE.find(*q[len("is there a ") : -1].split()) else "no")
    with pytest.raises(ValueError, match="valid"):
        ask(SCENE, rng, "texture")


def test_colour_question_by_kind_only_when_unambiguous():
    rng = np.random.default_rng(1)
    questions = {ask(SCENE, rng, "shape").question for _ in range(60)}
    assert "what shape is red?" not in questions  # two red shapes
    assert "what shape is blue?" in questions


def test_claims_are_true_or_false_as_asked():
    rng = np.random.default_rng(2)
    kinds = set()
    for _ in range(80):
        truth = bool(rng.random() < 0.5)
        c = claim(SCENE, rng, truth)
        kinds.add(c.kind)
        assert c.true is truth
        text = c.text
        if c.kind == "count":
            assert ("three" in text) is truth
        if c.kind == "exists":
            name = text[len("there is a ") : -1]
            assert (SCENE.find(*name.split()) is not None) is truth
    assert kinds == {"exists", "count", "size", "position"}


def test_a_claim_can_be_checked_against_any_scene():
    """``Claim.holds`` agrees with the truth a claim was made with, and judges other scenes by what
    they show (the CLIP's claim loss compares every claim with every image of a batch)."""
    rng = np.random.default_rng(5)
    for seed in range(200):
        scene = sample_scene(np.random.default_rng(seed))
        truth = bool(rng.random() < 0.5)
        assert claim(scene, rng, truth).holds(scene) is truth
    other = Scene(shapes=(Shape("circle", "red", "small", "left"), Shape("star", "blue", "large", "middle")))
    said = {c.text: c for c in (claim(SCENE, np.random.default_rng(s), bool(s % 2)) for s in range(300))}
    expected = {
        "there is a red circle.": True, "there is a blue star.": True, "there is a green triangle.": False,
        "there are two shapes.": True, "there are three shapes.": False, "there is one shape.": False,
        "the red circle is small.": True, "the red circle is large.": False,
        "the blue star is in the middle.": True, "the blue star is on the right.": False,
    }
    checked = 0
    for text, want in expected.items():
        if text in said:
            assert said[text].holds(other) is want, text
            checked += 1
    # claims about a shape the other scene lacks are false of it
    for c in said.values():
        if c.subject is not None and other.find(*c.subject) is None:
            assert not c.holds(other), c.text
    assert checked >= 4, sorted(said)


def test_vocabulary_covers_everything_the_world_says():
    vocabulary = set(words_of(vocabulary_texts()))
    rng = np.random.default_rng(3)
    said: list[str] = []
    for seed in range(200):
        scene = sample_scene(np.random.default_rng(seed))
        said.append(describe(scene))
        said.append(describe(scene, SOUND_LEVEL))
        said.append(claim(scene, rng, bool(seed % 2)).text)
        for family in question_families():
            qa = ask(scene, rng, family)
            said += [qa.question, qa.answer]
    assert set(words_of(said)) <= vocabulary


def test_task_labels_follow_claim_and_sound():
    rng = np.random.default_rng(4)
    other = Scene((Shape("circle", "green", "large", "left"),) + SCENE.shapes[1:])
    for truth in (True, False):
        for sound in (SCENE, other):
            content = WorldContent(scene=SCENE, sound_scene=sound, claim=claim(SCENE, rng, truth))
            labels = labels_of(content)
            assert labels["claim"] == ("true" if truth else "false")
            assert labels["sound_match"] == ("same" if sound is SCENE else "different")
            assert labels["exactly_one"] == ("yes" if truth != (sound is SCENE) else "no")
            for name, label in labels.items():
                assert label in TASKS[name].classes
    assert labels_of(WorldContent(SCENE, SCENE, claim(SCENE, rng, True)))["verdict"] == "both"
    assert labels_of(WorldContent(SCENE, other, claim(SCENE, rng, False)))["verdict"] == "neither"
    with pytest.raises(ValueError, match="valid tasks"):
        get_task("colour")
