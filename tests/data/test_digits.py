"""The digits fusion data set: one image and one spoken word per sample, written as a manifest."""

from __future__ import annotations

import shutil

import pytest
import soundfile

from mmdemo.training.manifest import read_manifest
from tests.data.digits import SAMPLE_RATE, WORDS, make_digit_manifest


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (.ci/run installs it)")
def test_manifest_pairs_each_digit_image_with_its_spoken_word(tmp_path):
    path = make_digit_manifest(tmp_path, per_digit=2, fractions=(0.5, 0.0))
    manifest = read_manifest(path)
    assert not manifest.bad_rows and len(manifest.rows) == 20
    assert sorted({row.labels["label"] for row in manifest.rows}) == sorted(WORDS)
    assert {row.split for row in manifest.rows} == {"train", "test"}
    first = manifest.rows[0]
    assert first.image.stem == first.audio.stem == "0-000" and first.labels["label"] == "zero"
    samples, rate = soundfile.read(first.audio)
    assert rate == SAMPLE_RATE and 0.2 < len(samples) / rate < 3.0
