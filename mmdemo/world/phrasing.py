"""Words about scenes the way people write them: varied questions, varied captions, and questions
the world cannot answer.

:mod:`mmdemo.world.text` has one canonical template per caption form and question family (what the
data set on disk and its test split use). Pretraining also draws from here, so the bundled models
read what people type:

- :func:`ask_varied`: a question of a family in one of many phrasings (word order, "color" or
  "colour", "shape"/"object"/"thing"/"figure", "this"/"it", "which", "what kind of", polite and terse
  forms, imperative requests "describe the colour of it" and "how would you ..." forms), with the same typed one-word answer as the canonical question;
- :func:`ask_out_of_world`: a question no picture of shapes answers ("what breed is the dog?",
  "what time is it?"), answered :data:`CANNOT_TELL`;
- :func:`vary_caption`: a caption or partial description reworded ("a picture of ...",
  "to the left", "in the centre") with the same meaning;
- :func:`surface`: capitals and trailing punctuation, or none;
- :func:`question_corpus` / :func:`caption_corpus`: the texts the bundled WordPiece tokenizers
  are trained on.

Held-out tests write their own phrasings by hand and check that these generators never produce them.
"""

from __future__ import annotations

import numpy as np

from mmdemo.world.scenes import COLOUR_NAMES, KINDS, POSITIONS, SIZES, Scene, Shape, sample_free_scene, sample_scene
from mmdemo.world.text import COUNT_WORDS, DETAILS, PLURAL, QA, Detail, _absent_name, claim, describe, question_families

CANNOT_TELL = "cannot tell"  # the answer to a question the picture cannot answer
OUT_OF_WORLD = "out-of-world"  # the family name of such questions

PLACES: dict[str, tuple[str, ...]] = {
    "left": ("on the left", "at the left", "to the left", "on the left side", "in the left part"),
    "middle": ("in the middle", "in the centre", "in the center", "at the centre", "in the middle part"),
    "right": ("on the right", "at the right", "to the right", "on the right side", "in the right part"),
}
NOUNS: tuple[str, ...] = ("shape", "object", "thing", "figure", "item")
NOUN_PLURALS: tuple[str, ...] = ("shapes", "objects", "things", "figures", "items")
COLOUR_WORDS: tuple[str, ...] = ("colour", "color", "colour", "color", "shade", "tint")  # the common two twice as often
SHAPE_WORDS: tuple[str, ...] = (
    "shape", "kind of shape", "type of shape", "sort of shape", "kind of figure", "form", "geometric shape",
    "geometrical shape", "geometric form",
)
# Pictorial words people put in a question about the picture ("the *drawn* shape", "the *main*
# colour"); inserted at random before a noun or a colour / shape word, they change nothing.
PICTURE_WORDS: tuple[str, ...] = (
    "drawn", "main", "visible", "single", "little", "simple", "flat", "pictured", "displayed", "only",
    "whole", "coloured", "colored", "one", "actual", "exact", "overall", "painted", "plain", "big",
)
# How people start a request, verbs included ("could you name ...").
REQUESTS: tuple[str, ...] = (
    "could you name", "can you name", "would you name", "please name", "can you tell me", "could you tell me",
    "would you tell me", "do you know", "can you say", "could you say", "i'd like to know", "let me know",
    "i want to know",
)
# Verbs of an imperative request ("describe the colour of it", "state the shape"): a question
# about the picture need not be a question; out-of-world requests take the same verbs. ("identify"
# is left out: held-out questions use it, and an unseen verb is what they test.)
IMPERATIVES: tuple[str, ...] = (
    "describe", "state", "give", "specify", "report", "determine", "mention", "tell", "name",
    "say", "guess", "write down", "find", "point out", "spell out",
)
# Hypothetical forms ("how would you ...", "what would you say ...").
WOULD_YOU: tuple[str, ...] = (
    "how would you describe", "how would you label", "how would you put", "how would you state",
    "how would you report", "how would you classify", "how do you describe", "how do you call",
    "how would one describe", "how can you describe", "how should i describe",
)

# Out-of-world questions: things, people and topics a picture of flat shapes says nothing about.
# (Held-out tests use other words: "animal", "car", "weather", "president", "meaning", "capital", ...)
OFF_NOUNS: tuple[str, ...] = (
    "dog", "cat", "horse", "bird", "fish", "cow", "sheep", "lion", "tiger", "bear", "elephant", "monkey",
    "bus", "truck", "bicycle", "plane", "boat", "train", "motorbike", "rocket",
    "person", "man", "woman", "child", "baby", "boy", "girl", "teacher", "doctor", "player", "king",
    "tree", "flower", "plant", "grass", "forest", "garden", "house", "building", "city", "street",
    "bridge", "church", "mountain", "river", "lake", "beach", "sea", "sky", "cloud", "sun", "moon",
    "planet", "food", "pizza", "apple", "banana", "cake", "bread", "coffee", "tea", "wine", "soup",
    "book", "movie", "song", "band", "game", "computer", "phone", "camera", "television", "clock",
    "chair", "table", "bed", "door", "window", "shirt", "hat", "shoe", "dress", "bag", "ball",
    "team", "sport", "country", "language", "flag", "company", "brand", "artist", "author", "photo",
)
OFF_FRAMES: tuple[str, ...] = (
    "what {n} is this", "what kind of {n} is this", "what type of {n} is shown", "is this a {n}",
    "what is the {n} doing", "how old is the {n}", "who owns the {n}", "where is the {n} from",
    "what is the name of the {n}", "why is the {n} here", "when was the {n} made", "what does the {n} eat",
    "is the {n} happy", "what colour is the {n}", "what color is the {n}", "how much does the {n} cost",
    "which {n} is the best", "what is the {n} made of", "who made the {n}", "what size is the {n}",
    "where is the {n}", "what shape is the {n}", "is there a {n}", "how many {ns} are there",
    "how many {ns} are in the picture", "how many {ns} do you see", "count the {ns}", "number of {ns}",
    "do you like the {n}", "what is the {n} called", "can the {n} swim", "is the {n} real",
    "describe the {n}", "tell me about the {n}", "how would you describe the {n}",
    "what would you call the {n}", "how would you feed the {n}", "describe what the {n} is doing",
    "name the owner of the {n}", "guess the age of the {n}", "state where the {n} is from",
    "how would you clean the {n}", "give the {n} a name",
)
# The frames with the thing asked about in the middle (a made-up word first or last is a filler).
_MIDDLE_FRAMES = tuple(f for f in OFF_FRAMES if "{n" in " ".join(f.split()[1:-1]))
_IRREGULAR_PLURALS = {
    "sheep": "sheep", "fish": "fish", "person": "people", "man": "men", "woman": "women", "child": "children",
}


def plural(noun: str) -> str:
    """The English plural of an :data:`OFF_NOUNS` noun ("bus" -> "buses", "sky" -> "skies")."""
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


# Properties a picture of flat shapes does not show, asked in the very frames the colour and shape
# questions use ("what is the price of the shape"): what makes a question unanswerable is the thing
# asked for, not its sentence. (Every frame they are asked in is also a frame of the world's own
# questions; "name" is left out, a verb of the world's questions: "name the colour".)
OFF_ATTRIBUTES: tuple[str, ...] = (
    "price", "cost", "age", "weight", "value", "origin", "purpose", "temperature", "smell", "taste",
    "sound", "speed", "date", "title", "owner", "brand", "material", "flavour", "mood", "story", "history",
    "reason", "address", "genre", "nationality", "salary", "opinion", "plot", "function", "job", "birthday",
    "nickname", "recipe", "currency", "ingredients", "personality", "future", "secret", "definition",
    "winner", "religion", "score", "author", "inventor", "language", "country", "era", "species",
)
OFF_QUESTIONS: tuple[str, ...] = (
    "who are you", "what time is it", "what day is it today", "how are you", "what year is it", "why",
    "who drew this", "what is your name", "tell me a joke", "what should i do", "who won the game",
    "what is the temperature", "how far away is the moon", "what is love", "what happens next",
    "where was this taken", "who took this photo", "what is the price", "is it going to rain",
    "what season is it", "what is the score", "which team is winning", "what is the time", "why is this here",
    "what does it smell like", "what sound does it make", "how heavy is it", "who is that",
    "what is the story", "what city is this", "what country is this", "what is happening",
    "how do i cook rice", "what is the best movie", "do you like music", "what is the answer",
    "how tall is the tower", "what is the speed of light", "who invented the telephone",
    "what is two plus two", "when is the party", "what are they eating", "is this food healthy",
    "describe your day", "name a famous painter", "state the date", "give me a recipe",
    "how would you spend a million", "what would you do today", "tell me a story", "describe a sunset",
    "name three rivers", "say something funny", "guess my age", "how would you fix a car",
    "explain gravity", "write a poem", "how do you make bread",
)

_CAP_STYLES = ("lower", "sentence", "upper", "title")
_CAP_WEIGHTS = (0.45, 0.43, 0.06, 0.06)
_ENDINGS = ("?", "", ".", " ?", "??", "!")
_ENDING_WEIGHTS = (0.55, 0.25, 0.08, 0.06, 0.03, 0.03)


def _pick(rng: np.random.Generator, items) -> object:
    items = list(items)
    return items[int(rng.integers(len(items)))]


def surface(text: str, rng: np.random.Generator, question: bool = True) -> str:
    """``text`` with random capitals and trailing punctuation (or none)."""
    text = text.rstrip("?.! ")
    style = _CAP_STYLES[int(rng.choice(len(_CAP_STYLES), p=_CAP_WEIGHTS))]
    if style == "sentence":
        text = text[:1].upper() + text[1:]
    elif style == "upper":
        text = text.upper()
    elif style == "title":
        text = text.title()
    if question:
        ending = _ENDINGS[int(rng.choice(len(_ENDINGS), p=_ENDING_WEIGHTS))]
    else:
        ending = str(_pick(rng, (".", "", ".", "!")))
    return text + ending


# Harmless words people add to a question about the picture: a question about the picture stays one
# even with words the model has never seen, so "unknown words" alone never mean "out of the world".
FILLER_PREFIXES: tuple[str, ...] = (
    "so, ", "hey, ", "ok, ", "tell me, ", "i wonder, ", "quick question: ", "do you know ", "now, ",
    "question: ", "looking at the picture, ", "in this image, ", "just curious, ", "one more: ",
)
FILLER_SUFFIXES: tuple[str, ...] = (
    " here", " in this picture", " in the image", " in the drawing", " exactly", " you see",
    " in this photo", " on the canvas", " right now", " do you think", " in the picture shown",
    " that is drawn", " being shown", " by the way", " in a single word", " with a word", " briefly",
    " in short", " in just one word", " using one word",
)


def _filler(text: str, rng: np.random.Generator) -> str:
    roll = rng.random()
    if roll < 0.15:
        return str(_pick(rng, FILLER_PREFIXES)) + text
    if roll < 0.3:
        return text + str(_pick(rng, FILLER_SUFFIXES))
    return text


def _polite(text: str, rng: np.random.Generator) -> str:
    text = _filler(text, rng)
    roll = rng.random()
    if roll < 0.08:
        return "please, " + text
    if roll < 0.14:
        return text + ", please"
    if roll < 0.2:
        return "can you tell me " + text if not text.startswith(("is ", "are ", "do ", "does ", "can ")) else text
    return text


def _choice(start: str, answer: str, options: tuple[str, ...], rng: np.random.Generator, article: str) -> str:
    """``start`` + two to four options, the answer among them: "is it a circle or a star"."""
    others = [o for o in options if o != answer]
    count = int(rng.integers(1, 4))
    chosen = [answer] + [str(o) for o in rng.choice(others, size=count, replace=False)]
    order = rng.permutation(len(chosen))
    words = [article + chosen[i] for i in order]
    return start + (", ".join(words[:-1]) + " or " + words[-1])


def _choice_first(answer: str, options: tuple[str, ...], rng: np.random.Generator, article: str) -> str:
    """The options first, then the question: "circle, star or square: which one is it"."""
    listed = _choice("", answer, options, rng, article)
    return listed + str(_pick(rng, (": which one is it", ": which is it", " - which one", ", which one is it", "? which one")))


def _place(position: str, rng: np.random.Generator) -> str:
    return str(_pick(rng, PLACES[position]))


# --------------------------------------------------------------------------- referring expressions


def _refs_without_colour(scene: Scene, shape: Shape, rng: np.random.Generator) -> str:
    """A way to point at ``shape`` that does not give its colour away (for colour questions)."""
    options = [f"the {str(_pick(rng, NOUNS))} {_place(shape.position, rng)}", f"the {shape.kind} {_place(shape.position, rng)}"]
    if sum(s.kind == shape.kind for s in scene.shapes) == 1:
        options += [f"the {shape.kind}", f"that {shape.kind}", f"this {shape.kind}"]
    if scene.count == 1:
        options += ["it", "this", "the shape", f"this {_pick(rng, NOUNS)}", f"the {_pick(rng, NOUNS)}", "that"]
    return str(_pick(rng, options))


def _refs_without_kind(scene: Scene, shape: Shape, rng: np.random.Generator) -> str:
    """A way to point at ``shape`` that does not give its kind away (for shape questions)."""
    noun = str(_pick(rng, NOUNS + ("one",)))
    options = [f"the {str(_pick(rng, NOUNS))} {_place(shape.position, rng)}", f"the {shape.colour} {noun} {_place(shape.position, rng)}"]
    if sum(s.colour == shape.colour for s in scene.shapes) == 1:
        options += [f"the {shape.colour} {noun}", f"the {shape.colour} {noun}", f"the {shape.colour}"]
    if scene.count == 1:
        options += ["it", "this", "this thing", f"this {_pick(rng, NOUNS)}", f"the {_pick(rng, NOUNS)}", "that"]
    return str(_pick(rng, options))


def _refs_full(scene: Scene, shape: Shape, rng: np.random.Generator) -> str:
    """A way to point at ``shape`` by colour and kind (or, alone in the scene, by "it")."""
    options = [f"the {shape.name}", f"the {shape.name}", f"that {shape.name}"]
    if scene.count == 1:
        options += ["it", "this", f"the {_pick(rng, NOUNS)}", f"this {_pick(rng, NOUNS)}"]
    return str(_pick(rng, options))


# --------------------------------------------------------------------------- question families


def _asking_for(word: str, ref: str) -> list[str]:
    """The phrasings shared by the colour and shape families: ask for the ``word`` (a colour or
    shape word) of ``ref`` (draw nothing from the generator, so the families' draws stay in order)."""
    return [
        f"what {word} is {ref}", f"which {word} is {ref}", f"what is the {word} of {ref}",
        f"what {word} does {ref} have", f"tell me the {word} of {ref}", f"{ref}: what {word}",
        f"{ref} is what {word}", f"what {word} does {ref} show",
    ]


def _asking_it(word: str) -> list[str]:
    """The same for a scene of one shape, which needs no reference."""
    return [f"what {word} is it", f"what {word} is this", f"{word}", f"what {word}"]


def _imperatives(word: str, ref: str, rng: np.random.Generator) -> list[str]:
    """Requests and hypotheticals for the ``word`` of ``ref``: "describe the colour of it", "how
    would you label the shape of the red one", "what would you say the colour of it is"."""
    verb, would = str(_pick(rng, IMPERATIVES)), str(_pick(rng, WOULD_YOU))
    return [
        f"{verb} the {word} of {ref}", f"{verb} which {word} {ref} is", f"{would} the {word} of {ref}",
        f"what would you say the {word} of {ref} is", f"what {word} would you say {ref} has",
        f"look at {ref} and {verb} its {word}",
    ]


def _colour(scene: Scene, rng: np.random.Generator) -> QA:
    shape: Shape = _pick(rng, scene.shapes)  # type: ignore[assignment]
    ref, word = _refs_without_colour(scene, shape, rng), str(_pick(rng, COLOUR_WORDS))
    templates = [
        *_asking_for(word, ref), f"what {word} has {ref}", f"in what {word} is {ref} drawn",
        f"what {word} is {ref} painted in", f"name the {word} of {ref}", f"{word} of {ref}",
        f"which {word} does {ref} use", f"what {word} is {ref} filled with", f"say the {word} of {ref}",
        _choice(f"is {ref} ", shape.colour, COLOUR_NAMES, rng, ""),
        _choice_first(shape.colour, COLOUR_NAMES, rng, ""),
        f"which {word} has {ref} been drawn in", f"what {word} was {ref} drawn in", f"what {word} was used for {ref}",
        f"which {word} is used for {ref}", f"{_pick(rng, REQUESTS)} the {word} of {ref}",
        *_imperatives(word, ref, rng),
    ]
    if scene.count == 1:
        templates += [
            *_asking_it(word), f"which {word}", f"what's the {word}", f"what {word} is used",
            f"which {word} was used", f"what is its {word}", f"{_pick(rng, REQUESTS)} its {word}",
            f"which {word} has it been drawn in", f"what {word} has been used", f"its {word}",
            f"{_pick(rng, IMPERATIVES)} the {word}", f"{_pick(rng, IMPERATIVES)} the {word} you see",
            f"{_pick(rng, WOULD_YOU)} the {word} here",
        ]
    return QA(_polite(str(_pick(rng, templates)), rng), shape.colour, "colour")


def _shape(scene: Scene, rng: np.random.Generator) -> QA:
    shape: Shape = _pick(rng, scene.shapes)  # type: ignore[assignment]
    ref, word = _refs_without_kind(scene, shape, rng), str(_pick(rng, SHAPE_WORDS))
    templates = [
        *_asking_for(word, ref), f"what is {ref}", f"what kind of {_pick(rng, NOUNS)} is {ref}",
        f"name the {word} of {ref}", f"{word} of {ref}", f"which kind of {_pick(rng, NOUNS)} is {ref}",
        f"what {word} is shown {_place(shape.position, rng)}", f"what {word} has {ref}", f"say the {word} of {ref}",
        _choice(f"is {ref} ", shape.kind, KINDS, rng, "a "),
        _choice_first(shape.kind, KINDS, rng, str(_pick(rng, ("", "a ")))),
        f"which {word} has been drawn {_place(shape.position, rng)}", f"{_pick(rng, REQUESTS)} the {word} of {ref}",
        f"which {word} is {ref} drawn as", *_imperatives(word, ref, rng),
        f"{_pick(rng, IMPERATIVES)} what {ref} is", f"{_pick(rng, WOULD_YOU)} {ref}",
    ]
    if scene.count == 1:
        templates += [
            *_asking_it(word), "what is this", "what is it", "what is drawn", f"what's the {word}",
            f"which {word} is drawn", f"what {word} is drawn", f"what {word} has been drawn", f"what is its {word}",
            f"{_pick(rng, REQUESTS)} its {word}", f"{_pick(rng, REQUESTS)} the {word}", f"its {word}",
            f"which {word} is shown", f"what {word} do you see drawn",
            f"{_pick(rng, IMPERATIVES)} the {word}", f"{_pick(rng, IMPERATIVES)} what you see",
            f"{_pick(rng, IMPERATIVES)} what is drawn", f"{_pick(rng, WOULD_YOU)} what is drawn",
            f"{_pick(rng, WOULD_YOU)} what you see", f"what has been drawn",
        ]
    return QA(_polite(str(_pick(rng, templates)), rng), shape.kind, "shape")


def _count(scene: Scene, rng: np.random.Generator) -> QA:
    roll = rng.random()
    if roll < 0.4:
        noun, n = str(_pick(rng, NOUN_PLURALS)), scene.count
    elif roll < 0.7:
        kind = str(_pick(rng, KINDS))
        noun, n = PLURAL[kind], sum(s.kind == kind for s in scene.shapes)
    else:
        colour = str(_pick(rng, COLOUR_NAMES))
        noun, n = f"{colour} {_pick(rng, NOUN_PLURALS)}", sum(s.colour == colour for s in scene.shapes)
    templates = [
        f"how many {noun} are there", f"how many {noun} do you see", f"how many {noun} can you see",
        f"how many {noun} are in the picture", f"count the {noun}", f"number of {noun}",
        f"how many {noun}", f"what is the number of {noun}", f"how many {noun} are shown",
    ]
    return QA(_polite(str(_pick(rng, templates)), rng), COUNT_WORDS[n], "count")


def _position(scene: Scene, rng: np.random.Generator) -> QA:
    shape: Shape = _pick(rng, scene.shapes)  # type: ignore[assignment]
    ref = str(_pick(rng, [f"the {shape.name}", f"the {shape.name}", f"that {shape.name}", f"a {shape.name}"]))
    templates = [
        f"where is {ref}", f"where is {ref} located", f"in which part is {ref}", f"where's {ref}",
        f"which side is {ref} on", f"{ref}: where", f"where can you see {ref}", f"where do you find {ref}",
        f"what is the position of {ref}", f"where is {ref} placed", f"{ref} is where",
    ]
    return QA(_polite(str(_pick(rng, templates)), rng), shape.position, "position")


def _size(scene: Scene, rng: np.random.Generator) -> QA:
    shape: Shape = _pick(rng, scene.shapes)  # type: ignore[assignment]
    ref = _refs_full(scene, shape, rng)
    templates = [
        f"what size is {ref}", f"how big is {ref}", f"is {ref} small or large", f"is {ref} large or small",
        f"how large is {ref}", f"what is the size of {ref}", f"{ref}: small or large", f"size of {ref}",
        f"is {ref} big or small", f"which size is {ref}",
    ]
    return QA(_polite(str(_pick(rng, templates)), rng), shape.size, "size")


def _yes_no(scene: Scene, rng: np.random.Generator) -> QA:
    want_yes = rng.random() < 0.5
    answer = "yes" if want_yes else "no"
    roll = rng.random()
    if roll < 0.45:
        name = _pick(rng, scene.shapes).name if want_yes else " ".join(_absent_name(scene, rng))  # type: ignore[union-attr]
        templates = [f"is there a {name}", f"do you see a {name}", f"can you see a {name}", f"is a {name} present",
                     f"does the picture contain a {name}", f"is there any {name}", f"any {name}"]
        if scene.count == 1:
            templates += [f"is this a {name}", f"is it a {name}"]
        return QA(str(_pick(rng, templates)), answer, "yes/no")
    if roll < 0.7:
        shape: Shape = _pick(rng, scene.shapes)  # type: ignore[assignment]
        size = shape.size if want_yes else ("large" if shape.size == "small" else "small")
        ref = _refs_full(scene, shape, rng)
        return QA(str(_pick(rng, [f"is {ref} {size}", f"is {ref} a {size} one"])), answer, "yes/no")
    position = str(_pick(rng, POSITIONS))
    answer = "yes" if scene.at(position) is not None else "no"
    place = _place(position, rng)
    templates = [f"is there a {_pick(rng, NOUNS)} {place}", f"is there anything {place}", f"is something {place}"]
    return QA(str(_pick(rng, templates)), answer, "yes/no")


_FAMILIES = {
    "colour": _colour, "shape": _shape, "count": _count, "position": _position, "size": _size, "yes/no": _yes_no,
}


def ask_varied(scene: Scene, rng: np.random.Generator, family: str | None = None) -> QA:
    """A question of ``family`` (drawn uniformly unless given) in a random phrasing, with its answer."""
    if family is None:
        family = str(_pick(rng, question_families()))
    if family not in _FAMILIES:
        raise ValueError(f"Unknown question family {family!r}; valid: {list(_FAMILIES)}")
    qa = _FAMILIES[family](scene, rng)
    return QA(surface(_unseen_word(_picture_word(qa.question, rng), rng), rng), qa.answer, qa.kind)


def ask_out_of_world(rng: np.random.Generator) -> QA:
    """A question no picture of the world answers, answered :data:`CANNOT_TELL`."""
    roll = rng.random()
    if roll < 0.35:
        noun = str(_pick(rng, OFF_NOUNS))
        text = str(_pick(rng, OFF_FRAMES)).format(n=noun, ns=plural(noun))
    elif roll < 0.47:  # a thing no list names, in the middle: what is asked for puts it out of the world
        noun = made_up_word(rng)
        text = str(_pick(rng, _MIDDLE_FRAMES)).format(n=noun, ns=noun + "s")
    elif roll < 0.59:  # "what is the <made-up> of it": the shape and colour questions' own frames
        text = _off_attribute(rng, made_up_word(rng))
    elif roll < 0.8:
        text = _off_attribute(rng)
    else:
        text = str(_pick(rng, OFF_QUESTIONS))
    return QA(surface(_unseen_word(_polite(text, rng), rng), rng), CANNOT_TELL, OUT_OF_WORLD)


def _off_attribute(rng: np.random.Generator, attribute: str | None = None) -> str:
    """A property (``attribute``, else one of :data:`OFF_ATTRIBUTES`) asked of a shape in the colour
    and shape families' own frames ("what is the price of the red circle", "its age"), or why a
    shape looks as it does."""
    made_up, attribute = attribute is not None, attribute or str(_pick(rng, OFF_ATTRIBUTES))
    noun = str(_pick(rng, NOUNS))
    colour, kind = str(_pick(rng, COLOUR_NAMES)), str(_pick(rng, KINDS))
    ref = str(_pick(rng, (
        "it", "this", "that", f"the {noun}", f"this {noun}", f"the {noun} {_place(str(_pick(rng, POSITIONS)), rng)}",
        f"the {colour} {noun}", f"the {colour} {kind}", f"the {kind}",
    )))
    templates = [
        *_asking_for(attribute, ref), *_asking_it(attribute), f"what is its {attribute}",
        f"{_pick(rng, REQUESTS)} the {attribute} of {ref}", f"why is {ref} {colour}", f"why is {ref} a {kind}",
        f"who drew {ref}", f"what does {ref} mean", *_imperatives(attribute, ref, rng),
    ]
    if made_up:  # only where the word is what is asked for: in the middle (first or last, it is a filler)
        templates = [t for t in templates if attribute in t.split()[1:-1]]
    return str(_pick(rng, templates))


_PICTURE_SLOTS = NOUNS + COLOUR_WORDS  # "shape" is one of the nouns


def _picture_word(text: str, rng: np.random.Generator, share: float = 0.15) -> str:
    """With probability ``share``, a :data:`PICTURE_WORDS` word before one noun, colour or shape word."""
    words = text.split(" ")
    slots = [i for i, w in enumerate(words) if w in _PICTURE_SLOTS]
    if not slots or rng.random() >= share:
        return text
    i = int(_pick(rng, slots))
    return " ".join(words[:i] + [str(_pick(rng, PICTURE_WORDS))] + words[i:])


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORLD_WORDS = frozenset(" ".join((*COLOUR_NAMES, *KINDS, *NOUNS, *COLOUR_WORDS, *PICTURE_WORDS)).split())


def _random_letters(rng: np.random.Generator, shortest: int) -> str:
    """``shortest`` to 9 random lowercase letters."""
    return "".join(str(_pick(rng, _LETTERS)) for _ in range(int(rng.integers(shortest, 10))))


def made_up_word(rng: np.random.Generator) -> str:
    """4-9 random letters, never one of the world's own words (colours, kinds, nouns, picture words):
    a word no tokenizer vocabulary built from real text holds whole, as "capital" or "cheetah" are
    not in the world's."""
    while True:
        word = _random_letters(rng, 4)
        if word not in _WORLD_WORDS:
            return word


def _unseen_word(text: str, rng: np.random.Generator, share: float = 0.1) -> str:
    """With probability ``share``, a made-up word (3-9 random letters) first or last: a filler word
    the model never saw says nothing about whether the question is about the picture, in the world's
    questions and the out-of-world ones alike. (Not in the middle: there an unseen word is what the
    question asks for, "what is the *population* of it", and that makes it out of the world.)"""
    if rng.random() >= share:
        return text
    word = _random_letters(rng, 3)
    return f"{word} {text}" if rng.random() < 0.5 else f"{text} {word}"


def is_cannot_tell(answer: str) -> bool:
    """True when ``answer`` is the world's "cannot tell" (any case, spaces or final punctuation)."""
    return " ".join(answer.lower().replace("can't", "cannot").replace("can not", "cannot").split()).strip(" .!?") == CANNOT_TELL


# --------------------------------------------------------------------------- captions


_CAPTION_PREFIXES = ("", "", "", "a picture of ", "an image of ", "a drawing of ", "there is ", "this shows ",
                     "i see ", "a photo of ", "here is ")


def vary_caption(scene: Scene, detail: Detail, rng: np.random.Generator) -> str:
    """A description of ``scene`` at ``detail`` reworded: same shapes, same meaning."""
    phrases = []
    for shape in scene.shapes:
        words = ["a"]
        if detail.size:
            words.append(shape.size)
        words += [shape.colour, shape.kind]
        if detail.position:
            words.append(_place(shape.position, rng))
        phrases.append(" ".join(words))
    if len(phrases) == 1:
        body = phrases[0]
    else:
        last = str(_pick(rng, (" and ", ", and ", " and ", ", ")))
        body = ", ".join(phrases[:-1]) + last + phrases[-1]
    return surface(str(_pick(rng, _CAPTION_PREFIXES)) + body, rng, question=False)


# --------------------------------------------------------------------------- tokenizer corpora


def _corpus_scenes(n: int, seed: int) -> list[Scene]:
    rng = np.random.default_rng([seed, 99])
    return [sample_scene(rng) if i % 2 else sample_free_scene(rng) for i in range(n)]


def caption_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Captions, reworded captions and claims: what the bundled CLIP's tokenizer is trained on."""
    rng = np.random.default_rng([seed, 98])
    texts: list[str] = []
    for scene in _corpus_scenes(n, seed):
        for detail in DETAILS:
            texts += [describe(scene, detail), vary_caption(scene, detail, rng).lower()]
        texts.append(claim(scene, rng, true=bool(rng.random() < 0.5)).text)
    texts += [" ".join(SIZES), " ".join(POSITIONS), " ".join(COUNT_WORDS), " ".join(PLURAL.values())]
    return texts


def question_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Captions, questions of every family and phrasing, answers and out-of-world questions: what
    the bundled BLIP's tokenizer is trained on."""
    rng = np.random.default_rng([seed, 97])
    texts = caption_corpus(n, seed)
    for scene in _corpus_scenes(n, seed):
        for family in question_families():
            qa = ask_varied(scene, rng, family)
            texts += [qa.question.lower(), qa.answer]
        texts.append(ask_out_of_world(rng).question.lower())
    texts += [CANNOT_TELL, "yes no", " ".join(COLOUR_NAMES), " ".join(KINDS)]
    texts += [frame.format(n=noun, ns=plural(noun)) for frame in OFF_FRAMES[:1] for noun in OFF_NOUNS] + list(OFF_QUESTIONS)
    texts += [frame.format(n="dog", ns="dogs") for frame in OFF_FRAMES] + [" ".join(plural(n) for n in OFF_NOUNS)]
    texts += [f"what is the {attribute} of it" for attribute in OFF_ATTRIBUTES] + [" ".join(COLOUR_WORDS)]
    return texts
