"""Words about scenes: captions, partial descriptions, claims, and question-answer pairs.

Captions list the shapes from left to right::

    a large red circle on the left.
    a small blue square in the middle and a large green star on the right.
    a small red circle on the left, a large blue square in the middle and a small green star on the right.

A :class:`Detail` drops size and/or position from a caption (``"a red circle and a blue square."``);
such partial descriptions match every scene with those shapes in that left-to-right order
(:func:`matches`). Answers to questions are single words. :func:`vocabulary_texts` lists every word
the world ever uses, which is what the bundled tokenizers are built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mmdemo.world.scenes import COLOUR_NAMES, KINDS, POSITIONS, SIZES, Scene, Shape

COUNT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three")
PLACE = {"left": "on the left", "middle": "in the middle", "right": "on the right"}
PLURAL = {kind: kind + "s" for kind in KINDS}


@dataclass(frozen=True)
class Detail:
    """Which attributes a description names besides colour and kind."""

    size: bool = True
    position: bool = True


FULL = Detail()
SOUND_LEVEL = Detail(size=False, position=False)  # what the scene's sound carries
DETAILS: tuple[Detail, ...] = (FULL, Detail(size=False), Detail(position=False), SOUND_LEVEL)


@dataclass(frozen=True)
class QA:
    """One question about a scene with its one-word answer; ``kind`` names the question family."""

    question: str
    answer: str
    kind: str


@dataclass(frozen=True)
class Claim:
    """A statement about a scene and whether it is true of it.

    Attributes:
        text: the sentence ("the red circle is large.").
        true: whether it holds of the scene it was made for.
        kind: ``exists``, ``count``, ``size`` or ``position``.
        subject: the shape it names as (colour, kind); None for a count claim.
        value: what it says of the subject (a size or a column) or of the scene (the count).
    """

    text: str
    true: bool
    kind: str
    subject: tuple[str, str] | None = None
    value: str | int | None = None

    def holds(self, scene: Scene) -> bool:
        """Whether the claim is true of ``scene`` (any scene: "the red circle is large." is false of
        a scene without a red circle)."""
        if self.kind == "count":
            return scene.count == self.value
        shape = scene.find(*self.subject)  # type: ignore[misc]
        if self.kind == "exists":
            return shape is not None
        if shape is None:
            return False
        return (shape.size if self.kind == "size" else shape.position) == self.value


def _phrase(shape: Shape, detail: Detail) -> str:
    words = ["a"]
    if detail.size:
        words.append(shape.size)
    words += [shape.colour, shape.kind]
    if detail.position:
        words.append(PLACE[shape.position])
    return " ".join(words)


def describe(scene: Scene, detail: Detail = FULL) -> str:
    """The scene's caption at the given level of detail (the full caption by default)."""
    phrases = [_phrase(shape, detail) for shape in scene.shapes]
    if len(phrases) == 1:
        body = phrases[0]
    else:
        body = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return body + "."


def description_key(scene: Scene, detail: Detail = FULL) -> tuple:
    """What a description at ``detail`` says about ``scene``; equal keys mean equal captions."""
    key = []
    for shape in scene.shapes:
        item = [shape.colour, shape.kind]
        if detail.size:
            item.append(shape.size)
        if detail.position:
            item.append(shape.position)
        key.append(tuple(item))
    return tuple(key)


def matches(scene: Scene, other: Scene, detail: Detail = FULL) -> bool:
    """True when the description of ``scene`` at ``detail`` is also true of ``other``."""
    return description_key(scene, detail) == description_key(other, detail)


_SHAPE_WORDS = re.compile(
    r"(?:(?P<size>%s) )?(?P<colour>%s) (?P<kind>%s)(?: (?:on|in) the (?P<position>%s))?"
    % ("|".join(SIZES), "|".join(COLOUR_NAMES), "|".join(KINDS), "|".join(POSITIONS))
)


def parse_caption(text: str) -> list[dict[str, str | None]]:
    """The shapes a caption names, in order: dicts with kind, colour, size, position (or None).

    The inverse of :func:`describe` for well-formed captions; tolerant of extra words, so a
    generated caption can be checked attribute by attribute.
    """
    found = []
    for match in _SHAPE_WORDS.finditer(text.lower()):
        found.append({name: match.group(name) for name in ("kind", "colour", "size", "position")})
    return found


def caption_names_scene(text: str, scene: Scene) -> bool:
    """True when ``text`` names exactly the scene's shapes with every attribute right, in order."""
    parsed = parse_caption(text)
    wanted = [
        {"kind": s.kind, "colour": s.colour, "size": s.size, "position": s.position}
        for s in scene.shapes
    ]
    return parsed == wanted


# ----------------------------------------------------------------------------- questions


def _pick(rng: np.random.Generator, items: list) -> object:
    return items[int(rng.integers(len(items)))]


def _absent_name(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    present = {shape.name for shape in scene.shapes}
    while True:
        colour, kind = _pick(rng, list(COLOUR_NAMES)), _pick(rng, list(KINDS))
        if f"{colour} {kind}" not in present:
            return colour, kind  # type: ignore[return-value]


def question_families() -> tuple[str, ...]:
    """Names of the question families, in a fixed order."""
    return tuple(_FAMILIES)


def _q_colour(scene: Scene, rng: np.random.Generator) -> QA | None:
    kinds = [s.kind for s in scene.shapes]
    unique = [s for s in scene.shapes if kinds.count(s.kind) == 1]
    if unique and rng.random() < 0.5:
        shape = _pick(rng, unique)
        return QA(f"what colour is the {shape.kind}?", shape.colour, "colour")  # type: ignore[union-attr]
    shape = _pick(rng, list(scene.shapes))
    return QA(f"what colour is the shape {PLACE[shape.position]}?", shape.colour, "colour")  # type: ignore[union-attr]


def _q_shape(scene: Scene, rng: np.random.Generator) -> QA | None:
    colours = [s.colour for s in scene.shapes]
    unique = [s for s in scene.shapes if colours.count(s.colour) == 1]
    if unique and rng.random() < 0.5:
        shape = _pick(rng, unique)
        return QA(f"what shape is {shape.colour}?", shape.kind, "shape")  # type: ignore[union-attr]
    shape = _pick(rng, list(scene.shapes))
    return QA(f"what shape is {PLACE[shape.position]}?", shape.kind, "shape")  # type: ignore[union-attr]


def _q_count(scene: Scene, rng: np.random.Generator) -> QA | None:
    roll = rng.random()
    if roll < 0.4:
        return QA("how many shapes are there?", COUNT_WORDS[scene.count], "count")
    if roll < 0.7:
        kind = _pick(rng, list(KINDS))
        n = sum(s.kind == kind for s in scene.shapes)
        return QA(f"how many {PLURAL[kind]} are there?", COUNT_WORDS[n], "count")  # type: ignore[index]
    colour = _pick(rng, list(COLOUR_NAMES))
    n = sum(s.colour == colour for s in scene.shapes)
    return QA(f"how many {colour} shapes are there?", COUNT_WORDS[n], "count")


def _q_position(scene: Scene, rng: np.random.Generator) -> QA | None:
    shape = _pick(rng, list(scene.shapes))
    return QA(f"where is the {shape.name}?", shape.position, "position")  # type: ignore[union-attr]


def _q_size(scene: Scene, rng: np.random.Generator) -> QA | None:
    shape = _pick(rng, list(scene.shapes))
    return QA(f"what size is the {shape.name}?", shape.size, "size")  # type: ignore[union-attr]


def _q_yes_no(scene: Scene, rng: np.random.Generator) -> QA | None:
    want_yes = rng.random() < 0.5
    roll = rng.random()
    if roll < 0.5:
        if want_yes:
            name = _pick(rng, list(scene.shapes)).name  # type: ignore[union-attr]
        else:
            name = " ".join(_absent_name(scene, rng))
        return QA(f"is there a {name}?", "yes" if want_yes else "no", "yes/no")
    if roll < 0.75:
        shape = _pick(rng, list(scene.shapes))
        size = shape.size if want_yes else ("large" if shape.size == "small" else "small")  # type: ignore[union-attr]
        return QA(f"is the {shape.name} {size}?", "yes" if want_yes else "no", "yes/no")  # type: ignore[union-attr]
    position = _pick(rng, list(POSITIONS))
    answer = "yes" if scene.at(position) is not None else "no"  # type: ignore[arg-type]
    return QA(f"is there a shape {PLACE[position]}?", answer, "yes/no")  # type: ignore[index]


_FAMILIES = {
    "colour": _q_colour,
    "shape": _q_shape,
    "count": _q_count,
    "position": _q_position,
    "size": _q_size,
    "yes/no": _q_yes_no,
}


def ask(scene: Scene, rng: np.random.Generator, family: str | None = None) -> QA:
    """One question about ``scene`` (family drawn uniformly unless given) with its answer."""
    if family is None:
        family = _pick(rng, list(_FAMILIES))  # type: ignore[assignment]
    if family not in _FAMILIES:
        raise ValueError(f"Unknown question family {family!r}; valid: {list(_FAMILIES)}")
    qa = _FAMILIES[family](scene, rng)  # type: ignore[index]
    if qa is None:  # every family has a fallback; keep the contract explicit
        raise RuntimeError(f"No {family} question for scene {scene.key()}")
    return qa


# ----------------------------------------------------------------------------- claims


def claim(scene: Scene, rng: np.random.Generator, true: bool) -> Claim:
    """A statement about ``scene`` that is ``true`` (or false), of one of four kinds.

    Kinds: ``exists`` ("there is a red circle."), ``count`` ("there are two shapes."),
    ``size`` ("the red circle is large.") and ``position`` ("the red circle is on the left.").
    A false ``size``/``position`` claim names a shape that is present with a wrong attribute.
    """
    kind = _pick(rng, ["exists", "count", "size", "position"])
    if kind == "exists":
        if true:
            chosen = _pick(rng, list(scene.shapes))
            subject = (chosen.colour, chosen.kind)  # type: ignore[union-attr]
        else:
            subject = tuple(_absent_name(scene, rng))
        return Claim(f"there is a {' '.join(subject)}.", true, kind, subject=subject)  # type: ignore[arg-type]
    if kind == "count":
        n = scene.count if true else _pick(rng, [c for c in (1, 2, 3) if c != scene.count])
        noun = "shape" if n == 1 else "shapes"
        verb = "is" if n == 1 else "are"
        return Claim(f"there {verb} {COUNT_WORDS[n]} {noun}.", true, kind, value=int(n))  # type: ignore[index,arg-type]
    shape = _pick(rng, list(scene.shapes))
    subject = (shape.colour, shape.kind)  # type: ignore[union-attr]
    if kind == "size":
        size = shape.size if true else ("large" if shape.size == "small" else "small")  # type: ignore[union-attr]
        return Claim(f"the {shape.name} is {size}.", true, kind, subject=subject, value=size)  # type: ignore[union-attr]
    others = [p for p in POSITIONS if p != shape.position]  # type: ignore[union-attr]
    position = shape.position if true else _pick(rng, others)  # type: ignore[union-attr]
    return Claim(f"the {shape.name} is {PLACE[position]}.", true, kind, subject=subject, value=position)  # type: ignore[union-attr,index]


# ----------------------------------------------------------------------------- vocabulary


def vocabulary_texts() -> list[str]:
    """Every word and punctuation mark the world's captions, claims, questions and answers use."""
    texts = [" ".join(COLOUR_NAMES), " ".join(KINDS), " ".join(PLURAL.values()), " ".join(SIZES)]
    texts += list(PLACE.values()) + [" ".join(POSITIONS), " ".join(COUNT_WORDS)]
    texts += [
        "a , and .",
        "what colour is the shape ?",
        "what shape is ?",
        "how many shapes are there ?",
        "where is the ?",
        "what size is the ?",
        "is there a shape ?",
        "yes no",
        "there is a . there are shapes .",
    ]
    return texts
