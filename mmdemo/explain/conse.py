"""Explain the offline preset's ImageNet classes: Grad-CAM of the ConSE model's classifier.

The ``offline-conse`` image-text model (:mod:`mmdemo.backends.conse_backend`) sees an image only
through its ImageNet classifier (EfficientNet-Lite0), so its evidence for a class is that
classifier's: Grad-CAM (:func:`~mmdemo.explain.gradcam.grad_cam`) on ``conv_head`` (the last
convolution, 7 x 7 at 224 px), the score being the class's logit. A text target (a zero-shot
label, a retrieval query) is explained through the ImageNet class ConSE puts nearest to it: the
class whose prompt's sentence embedding is closest to the text's (an exact class name is that
class). The label-based captions and answers of the offline preset explain their top class.

It runs on the explanation copy of the checkpoint (:mod:`~mmdemo.explain.copies`), float32.
"""

from __future__ import annotations

import dataclasses

import torch
from PIL import Image

from mmdemo.errors import ConfigError
from mmdemo.explain.clip import transform_box
from mmdemo.explain.copies import eager_copy, path_of
from mmdemo.explain.gradcam import CNN_METHODS, grad_cam
from mmdemo.explain.result import Explanation, check_method
from mmdemo.loading import LoadedModel
from mmdemo.media import ImageInput, MediaLimits, clean_text, load_image
from mmdemo.registry import OFFLINE_IMAGE_TEXT, ModelSpec

CLASS_TARGET_LAYER = "conv_head"  # the classifier's last convolution (timm EfficientNet)


def _check_conse(loaded: LoadedModel) -> None:
    if loaded.spec.backend != "conse":
        raise ConfigError(
            f"explain_class needs a ConSE model (backend 'conse', e.g. {OFFLINE_IMAGE_TEXT!r}); "
            f"{loaded.spec.name!r} has backend {loaded.spec.backend!r}"
        )


def _pixels(loaded: LoadedModel, picture: Image.Image) -> torch.Tensor:
    return loaded.processor(picture.convert("RGB")).unsqueeze(0).to(loaded.device)


def nearest_class(loaded: LoadedModel, text: str) -> int:
    """The ImageNet class index for ``text``: an exact class name (case-insensitive), else the class
    whose prompt vector is closest to the text's prompt (ConSE's own text space)."""
    from mmdemo.backends.conse_backend import encode_texts
    from mmdemo.backends.imagenet_labels import class_names

    names = [name.lower() for name in class_names()]
    if text.strip().lower() in names:
        return names.index(text.strip().lower())
    model = loaded.model
    vector = encode_texts(loaded, [model.config.prompt.format(text)])[0]
    return int((model.class_vectors @ vector).argmax())


def top_class(image: ImageInput, *, model: str | ModelSpec | None = None, device: str | None = None,
              limits: MediaLimits | None = None) -> int:
    """The ImageNet class index the ConSE ``model`` (None: ``offline-conse``) ranks first for ``image``."""
    loaded = eager_copy(model or OFFLINE_IMAGE_TEXT, "image-text", device)
    _check_conse(loaded)
    with loaded.run_lock, torch.no_grad():
        return int(loaded.model.classifier(_pixels(loaded, load_image(image, limits)))[0].argmax())


def explain_class(
    image: ImageInput,
    target: int | str | None = None,
    *,
    model: str | ModelSpec | None = None,
    method: str | None = None,
    device: str | None = None,
    limits: MediaLimits | None = None,
) -> Explanation:
    """Grad-CAM of the ConSE ``model``'s ImageNet class ``target`` on ``image``.

    ``target``: a class index (0-999), a text (its nearest class, see :func:`nearest_class`), or
    None (the top class). The score is the class's logit; the target names the class (and the
    text it stands for).
    """
    from mmdemo.backends.imagenet_labels import NUM_CLASSES, class_names

    method = check_method(method, CNN_METHODS, "gradcam")
    if isinstance(target, bool) or (isinstance(target, int) and not 0 <= target < NUM_CLASSES):
        raise ConfigError(f"class index {target!r} is out of range; valid: 0 to {NUM_CLASSES - 1}")
    text = clean_text(target, limits, what="text") if isinstance(target, str) else None
    picture = load_image(image, limits)
    loaded = eager_copy(model or OFFLINE_IMAGE_TEXT, "image-text", device)
    _check_conse(loaded)
    classifier = loaded.model.classifier
    with loaded.run_lock:
        pixels = _pixels(loaded, picture)
        if text is not None:
            index = nearest_class(loaded, text)
        elif target is None:
            with torch.no_grad():
                index = int(classifier(pixels)[0].argmax())
        else:
            index = int(target)
        result = grad_cam(
            classifier, getattr(classifier, CLASS_TARGET_LAYER), pixels, index,
            image=picture, box=transform_box(loaded.processor, picture.size), model_name=loaded.spec.name,
        )
    how = f' (nearest to "{text}")' if text is not None else " (the top class)" if target is None else ""
    described = f'ImageNet class {index} "{class_names()[index]}"{how}'
    return dataclasses.replace(result, target=described, path=path_of(loaded) + ", Grad-CAM on the classifier's conv_head")
