"""Every generated bad or unusual input, straight through mmdemo: the media loaders, the encoders
and generation with the tiny models. An input that must work gives a usable result (checked for
what it shows); one that must fail raises mmdemo's own error (MediaError / ManifestError, both
ValueErrors) with a clear message, never another exception."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo.archive import extract_zip
from mmdemo.encoders import embed_audio, embed_images, embed_texts
from mmdemo.errors import MmdemoError
from mmdemo.generate import answer, caption
from mmdemo.media import MediaLimits, clean_text, load_audio, load_image
from mmdemo.training.features import extract_features
from mmdemo.training.manifest import read_manifest
from tests.inputs.make_inputs import cases

RATE = 16_000


def _refused(case, call):
    with pytest.raises(MmdemoError) as caught:
        call()
    message = str(caught.value)
    assert re.search(case.message, message), f"{case.name}: unclear message {message!r}"
    assert "Traceback" not in message
    return message


def _unit_vectors(output, n=1):
    vectors = output.embeddings
    assert vectors.shape[0] == n and torch.isfinite(vectors).all()
    assert torch.allclose(vectors.norm(dim=1), torch.ones(n), atol=1e-4)


def _colour(image: Image.Image, xy) -> tuple[int, int, int]:
    return image.getpixel(xy)


# ---------------------------------------------------------------------------------------- images

IMAGE_CHECKS = {
    "image_1x1": lambda im: im.size == (1, 1) and _colour(im, (0, 0)) == (255, 0, 0),
    # 20000x2: shrunk so the white-padded canvas stays within max_pixels, the strip still red.
    "image_wide": lambda im: im.size[0] / im.size[1] == pytest.approx(8, rel=0.01)
    and im.size[0] * im.size[1] <= MediaLimits().max_pixels
    and _colour(im, (im.size[0] // 2, im.size[1] // 2)) == (255, 0, 0),
    "image_tall": lambda im: im.size == (625, 5000) and _colour(im, (312, 2500)) == (0, 0, 255),
    # 16-bit ramp stretched to 8 bits: dark top-left, bright bottom-right, not clipped to white.
    "image_16bit": lambda im: _colour(im, (0, 0))[0] < 10 and _colour(im, (63, 63))[0] > 245
    and 100 < _colour(im, (32, 32))[0] < 160,
    "image_cmyk": lambda im: _colour(im, (16, 16))[0] > 200 and max(_colour(im, (16, 16))[1:]) < 60,
    "image_palette": lambda im: _colour(im, (4, 4)) == (255, 0, 0) and _colour(im, (28, 4)) == (0, 255, 0),
    "image_alpha": lambda im: _colour(im, (4, 4)) == (0, 0, 255) and _colour(im, (28, 4)) == (255, 255, 255),
    "image_exif_rotated": lambda im: im.size == (20, 40),
    "image_animated_gif": lambda im: _colour(im, (12, 12))[0] > 200 and _colour(im, (12, 12))[2] < 60,
}


@pytest.mark.parametrize("case", cases("image"), ids=lambda c: c.name)
def test_image_input(case, bad_inputs, tiny_models):
    path = bad_inputs[case.name]
    if case.expect == "error":
        _refused(case, lambda: load_image(path))
        _refused(case, lambda: embed_images([path], model=tiny_models.clip, use_cache=False))
        _refused(case, lambda: caption(path, model=tiny_models.caption))
        return
    image = load_image(path)
    assert image.mode == "RGB"
    assert IMAGE_CHECKS[case.name](image), f"{case.name}: loaded as {image.size} {image.getpixel((0, 0))}"
    _unit_vectors(embed_images([path], model=tiny_models.clip, use_cache=False))
    assert caption(path, model=tiny_models.caption).best.strip()


def test_padding_never_builds_a_canvas_over_the_pixel_limit():
    # A 1,000,000 x 1 image is 1 Mpx; padded naively to ratio 8 it would be 125 billion pixels.
    limits = MediaLimits(max_pixels=4_000_000)
    image = load_image(Image.new("RGB", (1_000_000, 1), (255, 0, 0)), limits)
    assert image.size[0] * image.size[1] <= limits.max_pixels
    assert image.size[0] / image.size[1] == pytest.approx(8, rel=0.01)


# ----------------------------------------------------------------------------------------- audio

AUDIO_CHECKS = {
    "audio_one_sample": lambda s: s.shape == (1,) and s[0] == pytest.approx(0.25, abs=1e-3),
    "audio_silent": lambda s: s.shape == (RATE,) and not s.any(),
    "audio_8_channels": lambda s: s.shape == (RATE // 2,) and 0.45 < np.abs(s).max() <= 0.55,
    # 96 kHz -> 16 kHz keeps the 1 kHz pitch: the spectrum peaks at bin 500 of a 0.5 s clip.
    "audio_96khz": lambda s: s.shape == (RATE // 2,) and abs(int(np.argmax(np.abs(np.fft.rfft(s)))) - 500) <= 2,
}


@pytest.mark.parametrize("case", cases("audio"), ids=lambda c: c.name)
def test_audio_input(case, bad_inputs, tiny_models):
    path = bad_inputs[case.name]
    if case.expect == "error":
        _refused(case, lambda: load_audio(path, RATE))
        _refused(case, lambda: embed_audio([path], model=tiny_models.audio, use_cache=False))
        return
    samples = load_audio(path, RATE)
    assert samples.dtype == np.float32 and np.isfinite(samples).all()
    assert AUDIO_CHECKS[case.name](samples), f"{case.name}: {samples.shape}"
    _unit_vectors(embed_audio([path], model=tiny_models.audio, use_cache=False))


# ------------------------------------------------------------------------------------------ text


@pytest.mark.parametrize("case", cases("text"), ids=lambda c: c.name)
def test_text_input(case, bad_inputs, tiny_models):
    text = bad_inputs[case.name].read_text(encoding="utf-8")
    image = bad_inputs["image_1x1"]
    if case.expect == "error":
        _refused(case, lambda: clean_text(text))
        _refused(case, lambda: embed_texts([text], model=tiny_models.clip, use_cache=False))
        _refused(case, lambda: answer(image, text, model=tiny_models.vqa))
        return
    assert clean_text(text) == " ".join(text.split())
    _unit_vectors(embed_texts([text], model=tiny_models.clip, use_cache=False))
    assert answer(image, text, model=tiny_models.vqa).answer.strip()


# ------------------------------------------------------------------------------------- manifests


@pytest.mark.parametrize("case", cases("manifest"), ids=lambda c: c.name)
def test_manifest_input(case, bad_inputs, tiny_models):
    path = bad_inputs[case.name]
    models = {"text": tiny_models.clip, "image": tiny_models.clip}
    if case.name == "manifest_wrong_columns":
        _refused(case, lambda: read_manifest(path))
    else:
        manifest = read_manifest(path)  # bad rows are reported, not fatal, when reading
        assert manifest.rows == [] and manifest.bad_rows
        for bad in manifest.bad_rows:
            assert re.search(case.message, bad.reason), str(bad)
    # Training on it must stop with a message that says why the rows are unusable.
    _refused(case, lambda: extract_features(path, models=models, use_cache=False))


# -------------------------------------------------------------------------------------- archives


@pytest.mark.parametrize("case", cases("archive"), ids=lambda c: c.name)
def test_archive_input(case, bad_inputs, tmp_path):
    path = bad_inputs[case.name]
    target = tmp_path / "extracted"
    if case.expect == "error":
        _refused(case, lambda: extract_zip(path, target))
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, nothing left
        return
    result = extract_zip(path, target)
    assert sorted(p.relative_to(target).as_posix() for p in result.files) == [
        "data/images/blue.png", "data/images/red.png", "data/manifest.csv",
    ]
    manifest = read_manifest(target / "data" / "manifest.csv")
    assert len(manifest.rows) == 2 and not manifest.bad_rows
