"""Scenes, their pictures and their sounds."""

from __future__ import annotations

import numpy as np
import pytest

from mmdemo.world.render import render_scene, shape_centre
from mmdemo.world.scenes import COLOURS, Scene, Shape, perturb_scene, sample_scene
from mmdemo.world.sound import PITCH_HZ, SAMPLE_RATE, beep, synthesize


def test_sample_scene_is_valid_and_deterministic():
    for seed in range(50):
        scene = sample_scene(np.random.default_rng(seed))
        assert scene == sample_scene(np.random.default_rng(seed))
        assert 1 <= scene.count <= 3
        assert len({s.name for s in scene.shapes}) == scene.count
    counts = {sample_scene(np.random.default_rng(s)).count for s in range(50)}
    assert counts == {1, 2, 3}


def test_scene_rejects_bad_values():
    with pytest.raises(ValueError, match="valid"):
        Shape("hexagon", "red", "small", "left")
    with pytest.raises(ValueError, match="distinct columns"):
        Scene((Shape("circle", "red", "small", "left"), Shape("square", "blue", "small", "left")))
    with pytest.raises(ValueError, match="share colour and kind"):
        Scene((Shape("circle", "red", "small", "left"), Shape("circle", "red", "large", "right")))
    with pytest.raises(ValueError, match="between 1 and 3"):
        sample_scene(np.random.default_rng(0), count=4)


def test_scene_dict_round_trip():
    scene = sample_scene(np.random.default_rng(7), count=3)
    assert Scene.from_dict(scene.to_dict()).key() == scene.key()


def test_perturbed_scene_sounds_different_but_keeps_layout():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        scene = sample_scene(rng)
        other = perturb_scene(scene, rng)
        assert other.sound_key() != scene.sound_key()
        assert [s.position for s in other.shapes] == [s.position for s in scene.shapes]
        differing = [a != b for a, b in zip(scene.sound_key(), other.sound_key())]
        assert sum(differing) == 1


@pytest.mark.parametrize("size", [32, 64])
def test_render_draws_each_shape_in_its_colour(size):
    scene = Scene(
        (Shape("circle", "red", "large", "left"), Shape("square", "blue", "small", "right")),
        background=(250, 250, 250),
    )
    image = render_scene(scene, size=size)
    assert image.size == (size, size) and image.mode == "RGB"
    pixels = np.asarray(image).astype(int)
    for shape in scene.shapes:
        x, y = (int(v * size) for v in shape_centre(shape))
        assert np.abs(pixels[y, x] - np.array(COLOURS[shape.colour])).max() < 10
    assert np.abs(pixels[2, size // 2] - 250).max() < 3  # background at the top middle
    assert render_scene(scene, size=size).tobytes() == image.tobytes()


def test_render_rejects_tiny_images():
    with pytest.raises(ValueError, match="at least 8"):
        render_scene(sample_scene(np.random.default_rng(0)), size=4)


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[spectrum.argmax()])


def test_sound_has_one_beep_per_shape_at_the_colour_pitch():
    scene = Scene(
        (Shape("circle", "red", "small", "left"), Shape("circle", "blue", "large", "middle"), Shape("circle", "green", "small", "right"))
    )
    clip = synthesize(scene, np.random.default_rng(0))
    assert clip.dtype == np.float32 and clip.shape == (SAMPLE_RATE,)
    assert np.abs(clip).max() <= 1.0
    # Loudness in 10 ms windows: three separate bursts above the noise floor.
    energy = np.sqrt((clip[: len(clip) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1))
    loud = energy > 0.1
    bursts = int(loud[0]) + int(np.sum(loud[1:] & ~loud[:-1]))
    assert bursts == 3
    # The first burst is red, the second blue (left to right).
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    first = clip[starts[0] * 160 : starts[0] * 160 + 2400]
    second = clip[starts[1] * 160 : starts[1] * 160 + 2400]
    assert _dominant_hz(first) == pytest.approx(PITCH_HZ["red"], rel=0.05)
    assert _dominant_hz(second) == pytest.approx(PITCH_HZ["blue"], rel=0.05)


def test_timbres_differ_by_kind():
    sine, square = beep("circle", 500.0, 0.2), beep("square", 500.0, 0.2)
    harmonic = lambda x: np.abs(np.fft.rfft(x))[int(1500 * 0.2)]  # third harmonic bin (5 Hz bins)
    assert harmonic(square) > 20 * harmonic(sine)
    with pytest.raises(ValueError, match="valid"):
        beep("hexagon", 500.0, 0.2)
