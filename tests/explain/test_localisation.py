"""The maps point at the right shape: bundled models, held-out bundled-world scenes.

Each task explains one target per trial on scenes of two or three shapes drawn from a seed the
pretraining never used (:data:`mmdemo.explain.benchmark.HELD_OUT_SEED`); a trial hits when the
map's peak lies inside the target shape's box. A map that ignored its target (attention rollout,
which does not depend on the text) or pointed elsewhere (the same maps mirrored) lands near the
random-shape baseline, so these checks fail a wrong map.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo import registry
from mmdemo.explain import benchmark, explain_text
from mmdemo.world.render import render_scene

SCENES = 40  # the figures: README "Explanations" (100 scenes each)


@pytest.fixture(scope="module", autouse=True)
def bundled():
    previous = registry.active_preset()
    registry.use_preset("bundled")
    yield
    registry.use_preset(previous)


@pytest.mark.parametrize("task", ["label", "phrase", "image-query", "caption-colour", "caption-kind", "vqa"])
def test_default_map_peaks_on_the_named_shape(task):
    result = benchmark.localisation(task, scenes=SCENES)
    assert result.trials >= SCENES
    assert result.hit_rate >= 0.8, result
    assert 0.25 <= result.baseline <= 0.55, result
    assert result.hit_rate >= result.baseline + 0.25, result


def test_a_map_that_ignores_the_text_stays_near_chance():
    rollout = benchmark.localisation("label", method="rollout", scenes=SCENES)
    chefer = benchmark.localisation("label", method="chefer", scenes=SCENES)
    assert rollout.hit_rate <= 0.6 < chefer.hit_rate


def test_mirrored_maps_miss():
    hits = mirrored = 0
    scenes = list(benchmark.held_out_scenes(20))
    for scene in scenes:
        shape = scene.shapes[0]  # the leftmost shape: its mirror image is in another column
        explanation = explain_text(render_scene(scene), f"the {shape.colour} {shape.kind}")
        hits += benchmark.peak_inside(explanation, shape)
        explanation.relevance = np.ascontiguousarray(explanation.relevance[:, ::-1])
        mirrored += benchmark.peak_inside(explanation, shape)
    assert hits >= 0.8 * len(scenes) and mirrored <= 0.2 * len(scenes), (hits, mirrored)


def test_maps_have_the_image_size_are_normalised_and_deterministic():
    from mmdemo.explain import explain_answer, explain_caption, explain_image_match

    scene = next(benchmark.held_out_scenes(1))
    image = render_scene(scene, size=120)  # not the model's 96: the map follows the image
    shape = scene.shapes[0]
    caption = explain_caption(image)
    words = [w for w, token in zip(caption.words, caption.tokens) if token in (shape.colour, shape.kind)]
    results = [
        explain_text(image, f"the {shape.colour} {shape.kind}"),
        explain_image_match(image, render_scene(scene)),
        explain_answer(image, "what colour is the shape on the left?"),
        *words,
    ]
    assert len(words) >= 2, caption.caption  # (not "a": as likely whatever is erased, its occlusion map is all zeros)
    for result in results:
        assert result.relevance.shape == (120, 120) and result.relevance.dtype == np.float32
        assert result.relevance.max() == pytest.approx(1.0) and 0.0 <= result.relevance.min() < 0.02
        assert result.grid.ndim == 2 and result.grid.shape[0] == result.grid.shape[1] >= 3  # the model's patch grid
        assert (result.grid.min(), result.grid.max()) == (0.0, 1.0)
        assert "eager" in result.path and np.isfinite(result.score)
        assert result.overlay().size == image.size
    again = explain_text(image, f"the {shape.colour} {shape.kind}")
    np.testing.assert_array_equal(again.relevance, results[0].relevance)
    assert again.score == results[0].score


def test_image_match_of_an_image_with_itself_scores_one():
    scene = next(benchmark.held_out_scenes(1))
    from mmdemo.explain import explain_image_match

    assert explain_image_match(render_scene(scene), render_scene(scene)).score == pytest.approx(1.0, abs=1e-5)
