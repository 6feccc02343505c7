"""A real-data fusion run on the offline preset, through ``python -m mmdemo train``: handwritten
digits (scikit-learn's scans) paired with the digit's word spoken by espeak-ng (with noise, so
speech alone is not perfect). The best fusion strategy must beat the best single modality. The
README's figures come from the same maker at 60 pairs per digit (``python -m tests.data.digits``)."""

from __future__ import annotations

import json
import shutil

import pytest

from mmdemo.cli.train import main
from tests.data.digits import make_digit_manifest


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (.ci/run installs it)")
def test_fusion_of_digit_images_and_spoken_digits_beats_either_alone(tmp_path):
    manifest = make_digit_manifest(tmp_path / "data", per_digit=24, noise=0.2)
    out = tmp_path / "run"
    assert main(["--data", str(manifest), "--fusion", "concat,gmu", "--image-model", "offline-conse",
                 "--audio-model", "offline-whisper-tiny-en", "--no-robustness", "--quiet", "--out", str(out)]) == 0
    rows = json.loads((out / "summary.json").read_text())["study"]["per_seed"]
    accuracy = {row["strategy"]: row["accuracy"] for row in rows if row["task"] == "label"}
    fused = max(accuracy["concat"], accuracy["gmu"])
    single = max(accuracy["only_image"], accuracy["only_audio"])
    assert fused > single, accuracy
    assert accuracy["only_image"] > 0.3 and accuracy["only_audio"] > 0.5, accuracy  # both carry the digit
