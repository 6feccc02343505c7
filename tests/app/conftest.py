"""Fixtures for tests that drive the running app (gradio_client and a real browser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.server import running_app

# The app as a first-time visitor without the hub meets it: the bundled models.
APP_ARGS = ["--preset", "bundled"]


@dataclass(frozen=True)
class WorldExample:
    """A held-out scene of the bundled world, written to files, with what is true of it."""

    image: Path
    audio: Path
    caption: str
    colour: str
    kind: str
    sample: object


def world_examples(folder: Path, count: int, *, single_shape: bool = True) -> list[WorldExample]:
    from mmdemo.world.dataset import make_sample
    import soundfile

    found, index = [], 0
    while len(found) < count:
        sample = make_sample("test", index)
        index += 1
        if single_shape and len(sample.scene.shapes) != 1:
            continue
        image = folder / f"scene_{sample.index}.png"
        audio = folder / f"scene_{sample.index}.wav"
        sample.image().save(image)
        soundfile.write(audio, sample.scene_audio(), sample.config.sample_rate)
        shape = sample.scene.shapes[0]
        found.append(WorldExample(image, audio, sample.caption, shape.colour, shape.kind, sample))
    return found


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("app")
    with running_app([*APP_ARGS, "--runs-dir", str(workdir / "runs")], workdir) as url:
        yield url


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[WorldExample]:
    return world_examples(tmp_path_factory.mktemp("world-examples"), 3)
