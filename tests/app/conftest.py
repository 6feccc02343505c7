"""Fixtures for tests that drive the running app (gradio_client and a real browser).

The app runs in a subprocess (``python app.py`` on a free port) with every role pointed at tiny
checkpoints on disk, loaded through the same registry path as hub or bundled checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from tests.reliability.helpers import build_tiny_checkpoints, model_args
from tests.app.server import running_app


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, tiny_models):
    workdir = tmp_path_factory.mktemp("app")
    args = model_args(build_tiny_checkpoints(tiny_models.folder))
    with running_app([*args, "--runs-dir", str(workdir / "runs")], workdir) as url:
        yield url


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three distinct images and a short tone, as files."""
    folder = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    files = {}
    for name in ("first", "second", "third"):
        files[name] = folder / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(files[name])
    files["tone"] = folder / "tone.wav"
    t = np.arange(8000) / 16_000
    soundfile.write(files["tone"], (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000)
    return files
