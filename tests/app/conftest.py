"""Fixtures for tests that drive the running app (gradio_client and a real browser).

The app runs in a subprocess (``python app.py --preset bundled`` on a free port) on the checkpoints
the project ships under ``assets/models/bundled``, so the tests can check what the models say about
the bundled example scenes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from mmdemo.world.dataset import make_sample
from mmdemo.world.scenes import Scene
from tests.app.server import ROOT, running_app
from tests.app.space import space_app  # noqa: F401 (a fixture: the app as a Space / the Dockerfile runs it)

EXAMPLES = ROOT / "assets" / "examples" / "world"
PHOTOS = ROOT / "assets" / "examples" / "photos"


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    """One bundled app for every module that uses it (each app start costs ~15 s of the default run;
    every test opens its own page or client, so its own session)."""
    workdir = tmp_path_factory.mktemp("app")
    with running_app(["--preset", "bundled", "--runs-dir", str(workdir / "runs")], workdir) as url:
        yield url


@pytest.fixture(scope="session")
def offline_app_url(tmp_path_factory: pytest.TempPathFactory):
    """``python app.py`` with no flags, nothing cached and no hub: ``auto`` picks the offline preset
    (one server for the session: the offline start test and the offline browser test share it)."""
    workdir = tmp_path_factory.mktemp("offline-app")
    env = {"HF_HOME": str(workdir / "empty-hf-home"), "HF_HUB_OFFLINE": "1"}
    with running_app(["--runs-dir", str(workdir / "runs")], workdir, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def example_scene():
    """``example_scene(k)``: the file ``scene_k.png`` of the bundled examples and the scene it shows."""

    def pick(k: int) -> tuple[Path, Scene]:
        return EXAMPLES / f"scene_{k}.png", make_sample("test", k).scene  # make_examples.py wrote them so

    return pick


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
