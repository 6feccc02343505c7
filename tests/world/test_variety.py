"""The varied world: free layouts, drawing styles and phrasings keep every label exact."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from PIL import Image

from mmdemo.world.phrasing import (
    CANNOT_TELL,
    OUT_OF_WORLD,
    ask_out_of_world,
    ask_varied,
    caption_corpus,
    is_cannot_tell,
    surface,
    vary_caption,
)
from mmdemo.world.render import (
    COLOUR_RANGES,
    RenderStyle,
    render_scene,
    sample_colour,
    sample_style,
    shape_centre,
    shape_radius,
    to_model_input,
)
from mmdemo.world.scenes import COLOUR_NAMES, KINDS, POSITIONS, SIZE_BANDS, Scene, Shape, sample_free_scene, vary_scene
from mmdemo.world.text import COUNT_WORDS, DETAILS, parse_caption, question_families


def test_free_scenes_keep_columns_sizes_and_canvas_exact():
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(300):
        scene = sample_free_scene(rng)
        counts.add(scene.count)
        for shape in scene.shapes:
            x, y = shape_centre(shape)
            column = POSITIONS.index(shape.position)
            assert column / 3 < x < (column + 1) / 3  # the centre is in its column's third
            low, high = SIZE_BANDS[shape.size]
            assert low <= shape_radius(shape) <= high  # the radius is in its size's band
            assert 0 < x - shape_radius(shape) and x + shape_radius(shape) < 1 and 0 < y - shape_radius(shape) < y + shape_radius(shape) < 1
        assert Scene.from_dict(scene.to_dict()).key() == scene.key()
    assert counts == {1, 2, 3}
    with pytest.raises(ValueError, match="between 1 and 3"):
        sample_free_scene(rng, count=0)


def test_near_misses_of_free_scenes_keep_size_bands():
    rng = np.random.default_rng(1)
    for _ in range(200):
        scene = sample_free_scene(rng)
        other = vary_scene(scene, rng)
        for shape in other.shapes:
            low, high = SIZE_BANDS[shape.size]
            assert low <= shape_radius(shape) <= high


def _hue(rgb) -> tuple[float, float, float]:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return h * 360, s, v


def test_colour_ranges_are_disjoint_and_samples_stay_inside():
    rng = np.random.default_rng(2)
    for name in COLOUR_NAMES:
        low, high, saturation, value = COLOUR_RANGES[name]
        for _ in range(50):
            h, s, v = _hue(sample_colour(name, rng))
            h = h - 360 if h > 300 and low < 0 else h
            assert low - 1 <= h <= high + 1 and s >= saturation - 0.01 and v >= value - 0.01
    ranges = sorted((low, high) for low, high, _, _ in COLOUR_RANGES.values())
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))


def test_styled_rendering_draws_the_canvas_and_the_shape_where_the_scene_says():
    scene = Scene((Shape("circle", "red", "large", "left", dx=0.02, dy=-0.1, radius=0.2),), background=(250, 250, 250))
    style = RenderStyle(width=200, height=120, antialias=False)
    image = render_scene(scene, style=style)
    assert image.size == (200, 120)
    x, y = shape_centre(scene.shapes[0])
    assert tuple(image.getpixel((int(x * 200), int(y * 120)))) == (220, 38, 38)
    outlined = render_scene(scene, style=RenderStyle(width=200, height=120, outline=0.03, antialias=False))
    assert tuple(outlined.getpixel((int(x * 200), int(y * 120)))) == (250, 250, 250)  # hollow inside
    noisy = render_scene(scene, style=RenderStyle(width=200, height=120, noise=8, blur=1.0, jpeg_quality=40, colour_seed=3))
    assert noisy.size == (200, 120) and noisy.tobytes() != image.tobytes()
    assert to_model_input(image).size == (96, 96)  # squashed, not cropped: the left third stays left
    assert np.asarray(to_model_input(image))[int(y * 96), int(x * 96), 0] > 200


def test_sampled_styles_vary_everything_a_drawing_program_varies():
    rng = np.random.default_rng(3)
    styles = [sample_style(rng) for _ in range(200)]
    assert len({(s.width, s.height) for s in styles}) > 150
    assert any(s.width > s.height for s in styles) and any(s.width < s.height for s in styles)
    for attribute in ("outline", "blur", "noise"):
        assert 0.15 < np.mean([getattr(s, attribute) > 0 for s in styles]) < 0.5
    assert 0.3 < np.mean([s.antialias for s in styles]) < 0.7
    assert 0.15 < np.mean([s.jpeg_quality is not None for s in styles]) < 0.5


ANSWER_TYPES = {
    "colour": set(COLOUR_NAMES),
    "shape": set(KINDS),
    "count": set(COUNT_WORDS),
    "position": set(POSITIONS),
    "size": {"small", "large"},
    "yes/no": {"yes", "no"},
}


def test_varied_questions_have_many_phrasings_and_answers_of_the_asked_type():
    rng = np.random.default_rng(4)
    for family in question_families():
        phrasings = set()
        for _ in range(200):
            scene = sample_free_scene(rng)
            qa = ask_varied(scene, rng, family)
            assert qa.answer in ANSWER_TYPES[family] and qa.kind == family
            phrasings.add(qa.question)
        assert len(phrasings) > 60, family
    words = " ".join(ask_varied(sample_free_scene(rng, 1), rng, "colour").question.lower() for _ in range(300))
    for word in ("color", "colour", "which", "this", "it", "please"):
        assert word in words.split() or word + "," in words.split() or word in words
    with pytest.raises(ValueError, match="valid"):
        ask_varied(sample_free_scene(rng), rng, "weather")


def test_the_answer_of_a_varied_question_is_true_of_its_scene():
    scene = Scene((Shape("star", "green", "small", "right", radius=0.07),))
    rng = np.random.default_rng(5)
    for _ in range(100):
        assert ask_varied(scene, rng, "colour").answer == "green"
        assert ask_varied(scene, rng, "shape").answer == "star"
        assert ask_varied(scene, rng, "position").answer == "right"
        assert ask_varied(scene, rng, "size").answer == "small"


def test_out_of_world_questions_are_answered_cannot_tell():
    rng = np.random.default_rng(6)
    questions = {ask_out_of_world(rng) for _ in range(200)}
    assert all(qa.answer == CANNOT_TELL and qa.kind == OUT_OF_WORLD for qa in questions)
    assert len({qa.question for qa in questions}) > 150
    assert is_cannot_tell("Cannot tell.") and is_cannot_tell("can't  tell") and not is_cannot_tell("cannot")


def test_reworded_captions_keep_their_meaning():
    rng = np.random.default_rng(7)
    for _ in range(100):
        scene = sample_free_scene(rng)
        for detail in DETAILS:
            text = vary_caption(scene, detail, rng)
            parsed = parse_caption(text)
            assert [(p["colour"], p["kind"]) for p in parsed] == [(s.colour, s.kind) for s in scene.shapes]
    assert surface("what colour is it?", np.random.default_rng(0)) != ""
    assert len(set(caption_corpus(20))) > 50


def test_questions_carry_pictorial_and_made_up_words_on_both_sides_of_the_world():
    """A word the model never saw first or last is a filler, no sign of an out-of-world question:
    made-up fillers appear in about a tenth of the world's questions and of the out-of-world ones
    alike. In the middle, where the thing or property asked about goes ("what is the *zorbel* of
    it", "what does the *quimt* eat"), it is what puts a question out of the world, and only
    out-of-world questions have one there. Pictorial words ("drawn", "main") appear in some of the
    world's questions, the answer unchanged."""
    from mmdemo.world.phrasing import PICTURE_WORDS, question_corpus

    known = set(" ".join(question_corpus(n=200)).lower().replace("?", " ").replace(",", " ").replace(":", " ").split())

    def share_with_unknown(questions: list[str]) -> float:
        words = [q.lower().rstrip("?.! ").replace(",", " ").replace(":", " ").split() for q in questions]
        return float(np.mean([any(w.isalpha() and w not in known and w not in PICTURE_WORDS for w in ws) for ws in words]))

    rng = np.random.default_rng(8)
    scene = Scene((Shape("star", "green", "small", "right", radius=0.07),))
    world = [ask_varied(scene, rng, "colour") for _ in range(600)]
    assert all(qa.answer == "green" for qa in world)
    outside = [ask_out_of_world(rng).question for _ in range(600)]
    inside_share, outside_share = share_with_unknown([qa.question for qa in world]), share_with_unknown(outside)
    # fillers on both sides; made-up things and properties asked for on the outside only (~a quarter)
    assert 0.05 < inside_share < 0.2 and inside_share + 0.1 < outside_share < 0.5, (inside_share, outside_share)
    from mmdemo.world.phrasing import _MIDDLE_FRAMES, _WORLD_WORDS, _off_attribute, _unseen_word, made_up_word

    for _ in range(100):  # what is asked for: never first or last, never a word of the world
        word = made_up_word(rng)
        assert word not in _WORLD_WORDS and word not in known and 4 <= len(word) <= 9
        asked = _off_attribute(rng, word).split()
        assert word in asked[1:-1], asked
        frame = str(rng.choice(_MIDDLE_FRAMES)).format(n=word, ns=word + "s").split()
        assert word in " ".join(frame[1:-1]), frame

    for _ in range(50):  # a filler: first or last, never where the thing asked for goes
        words = _unseen_word("what is the colour of it", rng, share=1.0).split()
        assert len(words) == 7 and (words[1:] == "what is the colour of it".split() or words[:-1] == "what is the colour of it".split())
    pictorial = np.mean([any(w in PICTURE_WORDS for w in qa.question.lower().split()) for qa in world])
    assert pictorial > 0.08
    choices = [qa.question for qa in (ask_varied(scene, rng, "shape") for _ in range(400)) if "which one" in qa.question.lower()]
    assert choices and all("star" in q.lower() for q in choices)  # options first, the answer among them


def test_out_of_world_questions_ask_for_other_properties_in_the_world_questions_own_frames():
    """What makes a question unanswerable is the property asked for: "what is the price of the
    shape" is out of the world in the very frame "what is the colour of the shape" is in it."""
    from mmdemo.world.phrasing import COLOUR_WORDS, OFF_ATTRIBUTES, is_cannot_tell

    rng = np.random.default_rng(3)
    scene = Scene((Shape("circle", "red", "large", "left", radius=0.12),))

    def frames(questions: list[str], words) -> set[str]:
        found = set()
        for question in questions:
            text = " ".join(question.lower().rstrip("?.! ").split())
            for word in words:
                if f" {word} " in f" {text} ":
                    found.add(f" {text} ".replace(f" {word} ", " <asked> ").strip())
        return found

    outside = [ask_out_of_world(rng) for _ in range(3000)]
    assert all(is_cannot_tell(qa.answer) for qa in outside)
    world = [ask_varied(scene, rng, "colour").question for _ in range(3000)]
    shared = frames([qa.question for qa in outside], OFF_ATTRIBUTES) & frames(world, set(COLOUR_WORDS))
    assert {"what is the <asked> of it", "what <asked> is this"} <= shared, sorted(shared)[:20]
    assert len(shared) >= 10
