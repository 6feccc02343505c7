"""Held-out drawings and questions for the bundled models: nothing here comes from the world's generator.

- :func:`draw_single_shape`: one shape drawn with PIL's ``ImageDraw`` primitives (``ellipse``,
  ``rectangle``, ``regular_polygon``, a hand-made star), in web colours (``"crimson"``,
  ``"dodgerblue"``, ...), on a canvas of another size and aspect ratio, at any place and scale,
  filled or outlined, hard-edged or smoothed;
- three question sets written by hand, colour, shape and out-of-world each: the first
  (:data:`COLOUR_QUESTIONS`, ...) in the third session, the second (``FRESH_*``) in the fifth before
  that session widened the generator's phrasings, the third (``THIRD_*``) in the sixth, after this
  session's last widening and before its model was trained. The fifth session's widening was guided
  by the first set's failures and now produces three of its strings ("which colour has this been
  drawn in", "could you name its color", "which geometric shape is drawn here"), so the first set
  is a development set, reported on its own; the bars are held over the second and third, which
  the tests check the generator never produces.

``python -m tests.world.held_out`` prints the figures the README reports (from the repository root).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageColor, ImageDraw

# Web colour names (CSS / PIL) per world colour name: another program's palette.
PALETTE: dict[str, tuple[str, ...]] = {
    "red": ("red", "crimson", "firebrick", "#e03030"),
    "orange": ("orange", "darkorange", "#f57c1f", "#ff8c1a"),
    "yellow": ("gold", "yellow", "#f2d22e", "#ffe135"),
    "green": ("green", "forestgreen", "limegreen", "seagreen"),
    "blue": ("blue", "dodgerblue", "royalblue", "#1f5fbf"),
    "purple": ("purple", "darkviolet", "blueviolet", "mediumorchid"),
}
BACKGROUNDS = ("white", "#fafaf5", "#f0f4fa", "#f5efe6", "#e8e8e8", "ivory")
KINDS = ("circle", "square", "triangle", "star")

COLOUR_QUESTIONS: tuple[str, ...] = (
    "Which colour has this been drawn in?",
    "What's the color of this figure?",
    "Tell me what colour you see.",
    "colour of the drawing?",
    "What colour is used here?",
    "Could you name its color?",
)
SHAPE_QUESTIONS: tuple[str, ...] = (
    "What shape do you see?",
    "Which geometric shape is drawn here?",
    "Tell me the shape in the picture.",
    "what kind of shape is shown?",
    "Circle, square, triangle or star: which one is it?",
    "Name the shape, please.",
)
OUT_OF_WORLD_QUESTIONS: tuple[str, ...] = (
    "What is the meaning of life?",
    "What animal is this?",
    "Who is the president of France?",
    "What is the capital of Italy?",
    "What's the weather like today?",
    "How old is this person?",
    "Who painted this picture?",
    "What breed is the dog?",
    "What language do they speak here?",
    "How much does a coffee cost in Paris?",
    "Why is the sky blue?",
    "Which football team won the cup?",
    "What is your favourite food?",
    "Where do penguins live?",
    "When was the photo taken?",
    "Is the cat sleeping?",
    "What emotion does this show?",
    "Who wrote Hamlet?",
    "What is seven times eight?",
    "What song is playing?",
)

# A second hand-written set, written in the fifth session *before* the generator's phrasings were
# widened after the first set's failures (the first set had become a development set by then; this
# one checks that the widening generalises rather than fits the first set's words).
FRESH_COLOUR_QUESTIONS: tuple[str, ...] = (
    "In what colour is the figure painted?",
    "What hue is this?",
    "Can you see what color it is?",
    "Whats the colour here",
    "Identify the color of the shape.",
    "What colour does the drawing show?",
)
FRESH_SHAPE_QUESTIONS: tuple[str, ...] = (
    "What figure is drawn?",
    "Which form does this have?",
    "Can you identify the shape?",
    "What geometric figure do we have here?",
    "Is this a circle, a square, a triangle or a star?",
    "Describe the shape in one word.",
)
FRESH_OUT_OF_WORLD_QUESTIONS: tuple[str, ...] = (
    "What is the population of Tokyo?",
    "Who is the author of this book?",
    "What car is this?",
    "How many calories are in this?",
    "What is the name of this street?",
    "Is the food good?",
    "What music is playing?",
    "Who is the best football player?",
    "What year was this painted?",
    "What is the dog's name?",
)

# The third set: written in the sixth session after the generator's last widening (out-of-world
# properties asked in the world's own frames, "shade" and "tint"), before that session trained.
THIRD_COLOUR_QUESTIONS = (
    "Tell me which colour the shape is.",
    "Which colour was chosen for this shape?",
    "Give me the colour of the object.",
    "What colour would you call this?",
    "How would you describe its colour?",
    "The shape is which color?",
)
THIRD_SHAPE_QUESTIONS = (
    "What kind of figure do you see here?",
    "Tell me what this shape is.",
    "Which shape has been drawn?",
    "What sort of figure is it?",
    "Name the kind of shape shown.",
    "How would you name this figure?",
)
THIRD_OUT_OF_WORLD_QUESTIONS = (
    "What is the boiling point of water?",
    "Who discovered penicillin?",
    "How many legs does a spider have?",
    "What is the chemical formula of salt?",
    "Which planet is closest to the sun?",
    "How fast can a cheetah run?",
    "What is the GDP of Germany?",
    "Where is the nearest hospital?",
    "Is it safe to swim here?",
    "What is the opposite of happy?",
)

# The fourth set: written in the ninth session before that session widened the generator with
# imperative and "how would you ..." forms (the two shape phrasings the eighth session's model
# answered "cannot tell" were of those forms). Imperative and "how would you" forms are here in all
# three families, out-of-world ones too, so a model that took every imperative for a question about
# the picture would fail this set.
FOURTH_COLOUR_QUESTIONS = (
    "Describe its color.",
    "Please state the colour of the figure.",
    "What colour would you say this is?",
    "Look at the picture and tell me the colour.",
    "Colour, in one word?",
    "How would you call the colour of this object?",
)
FOURTH_SHAPE_QUESTIONS = (
    "Identify the figure.",
    "Please state the shape.",
    "What would you call this shape?",
    "How would you describe the form of this figure?",
    "Look at the drawing and name its shape.",
    "In one word, what is drawn here?",
)
FOURTH_OUT_OF_WORLD_QUESTIONS = (
    "Describe the weather in one word.",
    "How would you cook this?",
    "Name the capital of Spain.",
    "What would you call this dog?",
    "Tell me the time in London.",
    "Who lives in this house?",
    "What is the tallest mountain on Earth?",
    "How would you name a baby girl?",
    "Please state your age.",
    "Which river flows through Cairo?",
)

FOURTH_SETS = {
    "colour": FOURTH_COLOUR_QUESTIONS, "shape": FOURTH_SHAPE_QUESTIONS, "out-of-world": FOURTH_OUT_OF_WORLD_QUESTIONS,
}
HELD_OUT_SETS = {  # the sets the bars are held over (see the module docstring)
    "colour": FRESH_COLOUR_QUESTIONS + THIRD_COLOUR_QUESTIONS + FOURTH_COLOUR_QUESTIONS,
    "shape": FRESH_SHAPE_QUESTIONS + THIRD_SHAPE_QUESTIONS + FOURTH_SHAPE_QUESTIONS,
    "out-of-world": FRESH_OUT_OF_WORLD_QUESTIONS + THIRD_OUT_OF_WORLD_QUESTIONS + FOURTH_OUT_OF_WORLD_QUESTIONS,
}

@dataclass(frozen=True)
class Drawing:
    image: Image.Image
    colour: str
    kind: str


def _star(cx: float, cy: float, r: float, inner: float, rotation: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * inner
        theta = math.radians(rotation) + math.pi * i / 5 - math.pi / 2
        points.append((cx + radius * math.cos(theta), cy + radius * math.sin(theta)))
    return points


def draw_single_shape(rng: np.random.Generator) -> Drawing:
    """One random shape drawn by this module's own renderer (see the module docstring)."""
    width = int(rng.integers(120, 321))
    height = int(np.clip(width * rng.uniform(0.75, 1.34), 100, 360))
    colour, kind = str(rng.choice(list(PALETTE))), str(rng.choice(KINDS))
    rgb = ImageColor.getrgb(str(rng.choice(PALETTE[colour])))
    smooth = 2 if rng.random() < 0.5 else 1
    image = Image.new("RGB", (width * smooth, height * smooth), ImageColor.getrgb(str(rng.choice(BACKGROUNDS))))
    draw = ImageDraw.Draw(image)
    side = min(width, height) * smooth
    r = side * float(rng.uniform(0.12, 0.3))
    cx = float(rng.uniform(1.1 * r, width * smooth - 1.1 * r))
    cy = float(rng.uniform(1.1 * r, height * smooth - 1.1 * r))
    outline = int(rng.integers(3, 6)) * smooth if rng.random() < 0.25 else 0
    style = {"outline": rgb, "width": outline} if outline else {"fill": rgb}
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), **style)
    elif kind == "square":
        if rng.random() < 0.5:
            half = r * 0.85
            draw.rectangle((cx - half, cy - half, cx + half, cy + half), **style)
        else:
            draw.regular_polygon((cx, cy, r), 4, rotation=float(rng.uniform(0, 90)), **style)
    elif kind == "triangle":
        draw.regular_polygon((cx, cy, r), 3, rotation=float(rng.uniform(-30, 30)), **style)
    else:
        points = _star(cx, cy, r, float(rng.uniform(0.38, 0.5)), float(rng.uniform(-20, 20)))
        draw.polygon(points, **style)
    if smooth > 1:
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return Drawing(image, colour, kind)


def drawings(n: int, seed: int = 2024) -> list[Drawing]:
    rng = np.random.default_rng(seed)
    return [draw_single_shape(rng) for _ in range(n)]


def normalised(text: str) -> str:
    return " ".join(text.lower().replace("'", " ' ").replace("?", " ").replace(".", " ").replace(",", " ").split())


# ----------------------------------------------------------------------------- figures


@dataclass
class HeldOutFigures:
    """Right answers (shares) on the drawings: captions; VQA colour, shape and "cannot tell" on
    :data:`HELD_OUT_SETS` (the bars' figures, eighteen phrasings per family, thirty out-of-world
    questions each asked of three drawings), on the fourth set alone (``fourth_*``, the one written
    before the generator's last widening) and on the first, development set (``development_*``);
    ``per_question``: the share for every question asked."""

    caption_colour_kind: float
    vqa_colour: float
    vqa_shape: float
    out_of_world_cannot_tell: float
    drawings: int
    questions_per_family: int
    fourth_vqa_colour: float
    fourth_vqa_shape: float
    fourth_out_of_world_cannot_tell: float
    development_vqa_colour: float
    development_vqa_shape: float
    development_out_of_world_cannot_tell: float
    per_question: dict[str, float]

    def misses(self, below: float = 0.8) -> dict[str, float]:
        """The questions answered right on fewer than ``below`` of the drawings."""
        return {q: v for q, v in self.per_question.items() if v < below}


def figures(n: int = 60, caption=None, answer=None) -> HeldOutFigures:
    """The held-out figures for model functions ``caption(images) -> texts`` and
    ``answer(images, questions) -> answers`` (raw model answers, before the app's notice)."""
    from mmdemo.world.phrasing import is_cannot_tell
    from mmdemo.world.text import parse_caption

    made = drawings(n)
    images = [d.image for d in made]
    texts = caption(images)
    caption_ok = []
    for text, drawing in zip(texts, made):
        parsed = parse_caption(text)
        caption_ok.append(len(parsed) == 1 and parsed[0]["colour"] == drawing.colour and parsed[0]["kind"] == drawing.kind)

    per_question: dict[str, float] = {}
    for questions, attribute in (
        (COLOUR_QUESTIONS + HELD_OUT_SETS["colour"], "colour"), (SHAPE_QUESTIONS + HELD_OUT_SETS["shape"], "kind"),
    ):
        given = answer([d.image for d in made for _ in questions], [q for _ in made for q in questions])
        wanted = [getattr(d, attribute) for d in made for _ in questions]
        right = np.array([g.strip().lower().rstrip(".") == w for g, w in zip(given, wanted)]).reshape(n, len(questions))  # [drawings, questions]
        for j, question in enumerate(questions):
            per_question[question] = float(right[:, j].mean())
    off = OUT_OF_WORLD_QUESTIONS + HELD_OUT_SETS["out-of-world"]
    asked = [(made[i % n].image, q) for i, q in enumerate(off * 3)]  # each question of three drawings
    told = [is_cannot_tell(g) for g in answer([im for im, _ in asked], [q for _, q in asked])]
    for j, question in enumerate(off):
        per_question[question] = float(np.mean(told[j :: len(off)]))

    def share(questions: tuple[str, ...]) -> float:
        return float(np.mean([per_question[q] for q in questions]))

    return HeldOutFigures(
        caption_colour_kind=float(np.mean(caption_ok)),
        vqa_colour=share(HELD_OUT_SETS["colour"]),
        vqa_shape=share(HELD_OUT_SETS["shape"]),
        out_of_world_cannot_tell=share(HELD_OUT_SETS["out-of-world"]),
        drawings=n,
        questions_per_family=min(len(HELD_OUT_SETS["colour"]), len(HELD_OUT_SETS["shape"])),
        fourth_vqa_colour=share(FOURTH_SETS["colour"]),
        fourth_vqa_shape=share(FOURTH_SETS["shape"]),
        fourth_out_of_world_cannot_tell=share(FOURTH_SETS["out-of-world"]),
        development_vqa_colour=share(COLOUR_QUESTIONS),
        development_vqa_shape=share(SHAPE_QUESTIONS),
        development_out_of_world_cannot_tell=share(OUT_OF_WORLD_QUESTIONS),
        per_question=per_question,
    )


if __name__ == "__main__":
    import sys

    from mmdemo.pretrain.evaluate import saved_model_functions
    from mmdemo.pretrain.program import DEFAULT_OUT

    folder = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    functions = saved_model_functions(folder)
    result = figures(int(sys.argv[2]) if len(sys.argv) > 2 else 200, caption=functions["caption"], answer=functions["answer"])
    print({k: v for k, v in vars(result).items() if k != "per_question"})
    print("answered right on fewer than 0.8 of the drawings:", result.misses())
