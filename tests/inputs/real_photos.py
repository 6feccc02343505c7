"""Real photos shipped by installed packages (no network), for the offline preset's tests.

Each photo's subject is one ImageNet-1k knows (so the ConSE model can be right about it):
scikit-image's chelsea (a cat), coffee, rocket and motorcycle; gradio's cheetah; scikit-learn's
flower (a dahlia). Photos whose subject ImageNet has no class for (skimage's astronaut, the
Eiffel tower, a temple, a portrait) are measured in the README, not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _package_file(package: str, *parts: str) -> Path:
    import importlib.util

    found = importlib.util.find_spec(package)
    return Path(next(iter(found.submodule_search_locations))).joinpath(*parts)


def real_photos() -> dict[str, Image.Image]:
    """Subject -> RGB photo."""
    import skimage.data

    rgb = lambda array: Image.fromarray(np.asarray(array)).convert("RGB")  # noqa: E731
    return {
        "cat": rgb(skimage.data.chelsea()),
        "coffee": rgb(skimage.data.coffee()),
        "rocket": rgb(skimage.data.rocket()),
        "motorcycle": rgb(skimage.data.stereo_motorcycle()[0]),
        "cheetah": Image.open(_package_file("gradio", "media_assets", "images", "cheetah1.jpg")).convert("RGB"),
        "flower": Image.open(_package_file("sklearn", "datasets", "images", "flower.jpg")).convert("RGB"),
    }


def tuning_photos() -> dict[str, Image.Image]:
    """The 11 photos the ConSE recipe was measured on (:mod:`mmdemo.backends.conse_backend`): the six
    of :func:`real_photos` and five whose subject ImageNet has no class for."""
    import skimage.data

    rgb = lambda array: Image.fromarray(np.asarray(array)).convert("RGB")  # noqa: E731
    return {
        **real_photos(),
        "astronaut": rgb(skimage.data.astronaut()),
        "camera man": rgb(skimage.data.camera()),
        "eiffel tower": Image.open(_package_file("gradio", "media_assets", "images", "tower.jpg")).convert("RGB"),
        "chinese temple": Image.open(_package_file("sklearn", "datasets", "images", "china.jpg")).convert("RGB"),
        "woman in uniform": Image.open(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")).convert("RGB"),
    }
