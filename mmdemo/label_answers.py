"""Captions and answers built from recognised ImageNet classes: the offline preset's honest
stand-ins for BLIP.

A caption names the most probable classes: ``"a photo of a dog (Labrador retriever, 71 %)"``.
An answer is given only to the questions the classes can answer:

- "what is this?" / "what is in the picture?" / "what do you see?": the top class;
- "is this a X?" / "is there a X?" / "does it show a X?": yes when most of the image's class
  probability lies on classes that are X (X is the class's name or coarse parent, or X's text
  embedding is close to the class's, or X is the parent of the class closest to X), with that
  probability (or its complement) as the confidence;

anything else, or an X that no ImageNet class resembles, gets "This offline preset can't answer
that ..." with ``answerable=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from mmdemo.loading import LoadedModel
from mmdemo.recognition import Recognition, RecognisedClass

_NOT_OBJECTS = frozenset(  # adjectives ImageNet's class names contain but never decide ("red fox")
    "red orange yellow green blue purple pink brown black white grey gray golden silver dark light "
    "big small large tiny old young wet dry hot cold open closed empty full".split()
)
SIMILAR = 0.75  # cosine of "a photo of a X." and a class prompt at which X counts as that class
KNOWN = 0.7  # below this for every class, X is not something ImageNet's classes can tell
_WHAT = re.compile(
    r"^(what('s| is| are)? (this|that|it|these|those|there|shown|in (the|this) (picture|image|photo))"
    r"|what (object|animal|thing)s?( is| are)? (this|that|it|shown|there)"
    r"|what do(es)? (you|it) (see|show)|describe( (this|the|it) ?(picture|image|photo)?)?|name (it|this))\b"
)
_IS_A = re.compile(
    r"^(is (this|that|it|there) |are (these|those|they|there) |does (this|it|the (picture|image|photo)) "
    r"(show|contain|have) |do you see |can you see )(an? |the |some |any )?(?P<thing>[\w\s'-]+?)"
    r"( in (the|this) (picture|image|photo))?$"
)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def caption_text(item: RecognisedClass) -> str:
    """``"a photo of a dog (Labrador retriever, 71 %)"``."""
    percent = f"{round(100 * item.probability)} %"
    if item.parent and item.parent.lower() != item.name.lower():
        return f"a photo of {_article(item.parent)} {item.parent} ({item.name}, {percent})"
    return f"a photo of {_article(item.name)} {item.name} ({percent})"


@dataclass
class LabelAnswer:
    """An answer from labels; ``answerable`` is False when the question is beyond them."""

    answer: str
    confidence: float
    answerable: bool
    kind: str  # "what", "yes-no" or "unanswerable"


def _normalise(question: str) -> str:
    text = question.lower().strip()
    text = re.sub(r"[?!.]+$", "", text).strip()
    return re.sub(r"\s+", " ", text.replace("what's", "what is"))


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def _seen(recognition: Recognition) -> str:
    return ", ".join(f"{item.label} {round(100 * item.probability)} %" for item in recognition.classes[:3])


def _cannot(recognition: Recognition, why: str) -> LabelAnswer:
    return LabelAnswer(
        f"This offline preset can't answer that: {why}. It only recognises ImageNet objects "
        f"(here it sees: {_seen(recognition)}). Ask \"what is this?\" or \"is this a <thing>?\", "
        "or use the pretrained preset for open questions.",
        0.0, False, "unanswerable",
    )


def matching_mass(
    loaded: LoadedModel, probabilities: torch.Tensor, thing: str
) -> tuple[float, bool]:
    """The probability mass [0, 1] of the classes that are ``thing``, and whether any class is
    close enough to ``thing`` for the question to be answerable."""
    from mmdemo.backends import conse_backend
    from mmdemo.backends.imagenet_labels import class_names, parents

    names, table = class_names(), parents()
    word = _singular(thing.lower())
    by_name = torch.tensor([
        _singular(name.lower()) == word or (parent is not None and _singular(parent.lower()) == word)
        or word in name.lower().split()
        for name, parent in zip(names, table)
    ])
    prompt = loaded.model.config.prompt.format(thing)
    similarity = (loaded.model.class_vectors @ conse_backend.encode_texts(loaded, [prompt])[0]).cpu()  # [1000]
    probabilities = probabilities.cpu()
    closest = int(similarity.argmax())
    if not bool(by_name.any()) and float(similarity[closest]) < KNOWN:
        return 0.0, False
    same = by_name | (similarity >= SIMILAR)
    parent = table[closest]
    if parent is not None and float(similarity[closest]) >= KNOWN:
        same |= torch.tensor([p == parent for p in table])
    return float(probabilities[same].sum()), True


def answer_from_labels(loaded: LoadedModel, picture, question: str, recognition: Recognition) -> LabelAnswer:
    """Answer ``question`` about ``picture`` from the ConSE model ``loaded``'s classes, or say it can't."""
    from mmdemo.backends import conse_backend

    text = _normalise(question)
    if _WHAT.match(text):
        top = recognition.top
        return LabelAnswer(f"{_article(top.label)} {top.label}", top.probability, True, "what")
    found = _IS_A.match(text)
    if found is None:
        return _cannot(recognition, "it is not a \"what is this?\" or \"is this a ...?\" question")
    thing = found.group("thing").strip()
    if set(thing.split()) <= _NOT_OBJECTS:
        return _cannot(recognition, f"{thing!r} is not an object, and colours, sizes and states are beyond its labels")
    probabilities = conse_backend.class_probabilities(loaded, [picture])[0]
    mass, known = matching_mass(loaded, probabilities, thing)
    if not known:
        return _cannot(recognition, f"no ImageNet class resembles {thing!r}")
    if mass >= 0.5:
        return LabelAnswer("yes", mass, True, "yes-no")
    return LabelAnswer("no", 1.0 - mass, True, "yes-no")
