"""Captioning and visual question answering: BLIP (run by its backend, :mod:`mmdemo.backends.blip_backend`)
and, for the offline preset, captions and answers from recognised ImageNet classes.

``caption`` decodes greedily, with beam search or with nucleus sampling, optionally continuing a
text prefix (conditional captioning); ``answer`` answers a question about an image. Scores are
per-token geometric-mean probabilities, ``exp(mean log p)``, in (0, 1]: comparable across lengths.
The offline preset's ``conse-caption`` / ``conse-vqa`` models write no text: their captions and
answers are built from recognised ImageNet classes (:mod:`mmdemo.label_answers`), marked
``method="labels"`` with the classes attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmdemo.backends import backend_module
from mmdemo.backends.base import LoadedModel
from mmdemo.errors import MediaError
from mmdemo.loading import get_model
from mmdemo.media import ImageInput, MediaLimits, clean_text, load_image
from mmdemo.world.phrasing import is_cannot_tell

STRATEGIES = ("greedy", "beam", "sample")

# What a generated "cannot tell" becomes: a notice that the question has no answer in the picture.
CANNOT_TELL_MESSAGE = "cannot tell: the model finds no answer to this question in the picture"


@dataclass(frozen=True)
class DecodingConfig:
    """How to decode a caption.

    Attributes:
        strategy: ``"greedy"`` (one caption), ``"beam"`` (beam search, ``num_beams`` beams) or
            ``"sample"`` (nucleus sampling with ``top_p`` and ``temperature``, seeded).
        num_captions: how many captions to return (beam: at most ``num_beams``).
        num_beams: beams for beam search.
        max_new_tokens: the longest caption, in tokens (1 to 100).
        top_p: nucleus sampling's cumulative probability (0 < top_p <= 1).
        temperature: sampling temperature (> 0).
        seed: sampling seed; the same seed gives the same captions.
    """

    strategy: str = "greedy"
    num_captions: int = 1
    num_beams: int = 3
    max_new_tokens: int = 30
    top_p: float = 0.9
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown decoding strategy {self.strategy!r}; valid: {list(STRATEGIES)}")
        if not 1 <= self.max_new_tokens <= 100:
            raise ValueError(f"max_new_tokens must be between 1 and 100, got {self.max_new_tokens}")
        if not 1 <= self.num_captions <= 10:
            raise ValueError(f"num_captions must be between 1 and 10, got {self.num_captions}")
        if self.strategy == "greedy" and self.num_captions != 1:
            raise ValueError("Greedy decoding gives one caption; use 'beam' or 'sample' for more")
        if self.strategy == "beam" and not self.num_captions <= self.num_beams <= 20:
            raise ValueError(
                f"Beam search needs num_captions <= num_beams <= 20, got {self.num_captions} "
                f"captions and {self.num_beams} beams"
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not self.temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def generate_kwargs(self) -> dict:
        kwargs: dict = dict(
            max_new_tokens=self.max_new_tokens,
            num_return_sequences=self.num_captions,
            output_scores=True,
            return_dict_in_generate=True,
        )
        if self.strategy == "beam":
            kwargs.update(num_beams=self.num_beams, do_sample=False, early_stopping=True)
        elif self.strategy == "sample":
            kwargs.update(do_sample=True, top_p=self.top_p, temperature=self.temperature, top_k=0)
        else:
            kwargs.update(num_beams=1, do_sample=False)
        return kwargs


@dataclass
class Caption:
    text: str
    score: float


@dataclass
class CaptionOutput:
    """Captions, best first, with the model that wrote them.

    ``method`` is ``"generated"`` (BLIP wrote them) or ``"labels"`` (built from the recognised
    ImageNet classes in ``classes``, a list of :class:`mmdemo.recognition.RecognisedClass`).
    """

    captions: list[Caption]
    model: str
    prefix: str | None = None
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    method: str = "generated"
    classes: list = field(default_factory=list)

    @property
    def best(self) -> str:
        return self.captions[0].text


@dataclass
class AnswerOutput:
    """An answer to a question about an image; ``confidence`` in (0, 1].

    ``method`` and ``classes`` as for :class:`CaptionOutput`; ``answerable`` is False when the
    model cannot answer the question, and ``answer`` then says so: a label-based model (``confidence``
    is 0), or a generative one whose answer is "cannot tell" (the bundled VQA model is trained to
    answer so a question outside its world; ``confidence`` is then how sure it is of that).
    """

    answer: str
    confidence: float
    question: str
    model: str
    method: str = "generated"
    answerable: bool = True
    classes: list = field(default_factory=list)


def caption(
    image: ImageInput,
    *,
    prefix: str | None = None,
    decoding: DecodingConfig | None = None,
    model: str | None = None,
    limits: MediaLimits | None = None,
) -> CaptionOutput:
    """Caption ``image``; with ``prefix``, continue that text (conditional captioning)."""
    decoding = decoding or DecodingConfig()
    loaded = get_model(model, "caption")
    picture = load_image(image, limits)
    if loaded.spec.backend == "conse-caption":  # offline preset: captions from labels
        return _label_caption(loaded, picture, prefix, decoding)
    text = clean_text(prefix, limits, what="caption prefix") if prefix and prefix.strip() else None
    seed = decoding.seed if decoding.strategy == "sample" else None
    generated = backend_module(loaded.spec.backend).generate_captions(
        loaded, picture, text, decoding.generate_kwargs(), seed
    )
    captions = [Caption(item.text, item.score) for item in generated]
    unique: dict[str, Caption] = {}
    for item in sorted(captions, key=lambda c: -c.score):
        unique.setdefault(item.text, item)
    return CaptionOutput(list(unique.values()), loaded.spec.name, text, decoding)


def answer(
    image: ImageInput,
    question: str,
    *,
    model: str | None = None,
    max_new_tokens: int = 10,
    limits: MediaLimits | None = None,
) -> AnswerOutput:
    """Answer ``question`` about ``image`` (greedy decoding) with the answer's confidence."""
    loaded = get_model(model, "vqa")
    question = clean_text(question, limits, what="question")
    picture = load_image(image, limits)
    if loaded.spec.backend == "conse-vqa":  # offline preset: answers from labels
        return _label_answer(loaded, picture, question)
    reply = backend_module(loaded.spec.backend).answer_question(loaded, picture, question, max_new_tokens)
    if is_cannot_tell(reply.text):
        return AnswerOutput(CANNOT_TELL_MESSAGE, reply.score, question, loaded.spec.name, answerable=False)
    # An empty answer (the model ended at once) is returned as it is; the UI says so.
    return AnswerOutput(reply.text, reply.score, question, loaded.spec.name)


# -- offline preset: captions and answers from recognised ImageNet classes --------------------


def _label_caption(loaded: LoadedModel, picture, prefix: str | None, decoding: DecodingConfig) -> CaptionOutput:
    """The top ``decoding.num_captions`` classes as captions, scored by their probabilities."""
    from mmdemo.label_answers import caption_text
    from mmdemo.recognition import recognise_loaded

    if prefix and prefix.strip():
        raise MediaError(
            f"{loaded.spec.name} builds captions from recognised ImageNet classes and cannot continue "
            "a prefix; leave the prefix empty (or use the pretrained preset's BLIP)"
        )
    recognition = recognise_loaded(_image_text(loaded), picture, top=5)
    captions = [Caption(caption_text(item), item.probability) for item in recognition.classes]
    return CaptionOutput(
        captions[: decoding.num_captions], loaded.spec.name, None, decoding,
        method="labels", classes=recognition.classes,
    )


def _label_answer(loaded: LoadedModel, picture, question: str) -> AnswerOutput:
    from mmdemo.label_answers import answer_from_labels
    from mmdemo.recognition import recognise_loaded

    image_text = _image_text(loaded)
    recognition = recognise_loaded(image_text, picture, top=5)
    result = answer_from_labels(image_text, picture, question, recognition)
    return AnswerOutput(
        result.answer, result.confidence, question, loaded.spec.name,
        method="labels", answerable=result.answerable, classes=recognition.classes,
    )


def _image_text(loaded: LoadedModel) -> LoadedModel:
    return get_model(loaded.extras["image_text_model"], "image-text", device=loaded.device.type)


# -- end of the offline preset block ----------------------------------------------------------
