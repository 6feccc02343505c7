"""Grad-CAM of the offline preset's ConSE classifier, with the real installed weights on a real photo."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmdemo.errors import ConfigError
from mmdemo.registry import resolve_spec

skimage_data = pytest.importorskip("skimage.data")
if not resolve_spec("offline-conse", "image-text").local_folder:
    pytest.skip("the offline preset's weights are not installed", allow_module_level=True)

from mmdemo import explain  # noqa: E402

# skimage's "chelsea" (451 x 300): the cat's face, measured by hand from the photo (x from its left
# ear's edge to its right cheek, y from the top of its head to its chin); right of x = 390 and in
# the top-left corner lies the blurred room.
FACE = (60, 20, 380, 290)  # left, top, right, bottom


@pytest.fixture(scope="module")
def chelsea(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("photos") / "chelsea.png"
    Image.fromarray(skimage_data.chelsea()).save(path)
    return str(path)


def test_the_top_class_map_peaks_on_the_cat(chelsea):
    result = explain.explain_class(chelsea)
    assert result.relevance.shape == (300, 451) and result.relevance.dtype == np.float32
    assert result.target == 'ImageNet class 281 "tabby" (the top class)' and explain.top_class(chelsea) == 281
    x, y = result.peak
    left, top, right, bottom = FACE
    assert left <= x < right and top <= y < bottom, result.peak
    assert result.method == "gradcam" and result.score_kind == "logit" and result.score > 5
    assert "conv_head" in result.path


def test_a_text_is_explained_through_its_nearest_class(chelsea):
    named = explain.explain_class(chelsea, "Tabby")
    by_index = explain.explain_class(chelsea, 281)
    assert named.target.startswith('ImageNet class 281 "tabby" (nearest to "Tabby")')
    np.testing.assert_allclose(named.relevance, by_index.relevance, atol=1e-6)
    other = explain.explain_class(chelsea, "a sports car")
    assert '"sports car"' in other.target and other.score < named.score


def test_bad_targets_and_models_are_refused(chelsea):
    with pytest.raises(ConfigError, match="out of range; valid: 0 to 999"):
        explain.explain_class(chelsea, 1000)
    with pytest.raises(ConfigError, match="valid methods: \\['gradcam'\\]"):
        explain.explain_class(chelsea, method="chefer")
    with pytest.raises(ConfigError, match="needs a ConSE model"):
        explain.explain_class(chelsea, model="bundled-clip")
