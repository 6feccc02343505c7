"""Which ImageNet classes an image shows, by the offline preset's classifier (ConSE models only).

The label-based captions and answers (:mod:`mmdemo.label_answers`) are built from this, and the
app can show it to explain a ConSE result: the classes behind an image's vector.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo.errors import ConfigError, UnknownModelError
from mmdemo.loading import LoadedModel, get_model
from mmdemo.media import ImageInput, MediaLimits, load_image
from mmdemo.registry import list_models, get_model_spec

MAX_CLASSES = 20


@dataclass(frozen=True)
class RecognisedClass:
    """One ImageNet class: its index, name, coarse parent (``"dog"``; None if none) and probability."""

    index: int
    name: str
    parent: str | None
    probability: float

    @property
    def label(self) -> str:
        """``"dog (Labrador retriever)"``, or the bare name when there is no distinct parent."""
        if self.parent and self.parent.lower() != self.name.lower():
            return f"{self.parent} ({self.name})"
        return self.name


@dataclass
class Recognition:
    """The top ImageNet classes of one image, most probable first, and the model that saw them."""

    classes: list[RecognisedClass]
    model: str

    @property
    def top(self) -> RecognisedClass:
        return self.classes[0]


def conse_models() -> list[str]:
    return [name for name in list_models("image-text") if get_model_spec(name).backend == "conse"]


def recognise_loaded(loaded: LoadedModel, picture, top: int = 5) -> Recognition:
    """:func:`recognise` for an already loaded ConSE model and a loaded PIL image."""
    from mmdemo.backends import conse_backend
    from mmdemo.backends.imagenet_labels import class_names, parents

    if loaded.spec.backend != "conse":
        raise UnknownModelError(
            f"Model {loaded.spec.name!r} does not recognise ImageNet classes; models that do: "
            f"{', '.join(conse_models())}"
        )
    if not 1 <= top <= MAX_CLASSES:
        raise ConfigError(f"top must be between 1 and {MAX_CLASSES}, got {top}")
    probabilities = conse_backend.class_probabilities(loaded, [picture])[0]
    best = probabilities.topk(top)
    names, table = class_names(), parents()
    classes = [
        RecognisedClass(int(i), names[int(i)], table[int(i)], float(p))
        for p, i in zip(best.values, best.indices)
    ]
    return Recognition(classes, loaded.spec.name)


def recognise(
    image: ImageInput, *, model: str | None = None, top: int = 5, limits: MediaLimits | None = None
) -> Recognition:
    """The ``top`` most probable ImageNet classes of ``image`` under a ConSE image-text model
    (None: the active preset's image-text model, which must be a ConSE one)."""
    loaded = get_model(model, "image-text")
    return recognise_loaded(loaded, load_image(image, limits), top)
