"""Fixtures for the reliability tests: the generated bad inputs, tiny checkpoints on disk for the
app subprocess, and one launched app shared by every module that only needs default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inputs.make_inputs import make_inputs
from tests.reliability.helpers import LaunchedApp, build_tiny_checkpoints, launched_app, model_args


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every generated input (tests/inputs/make_inputs.py), by case name."""
    return make_inputs(tmp_path_factory.mktemp("bad-inputs"))


@pytest.fixture(scope="session")
def app_checkpoints(tiny_models) -> dict[str, Path]:
    """Tiny checkpoint folders by role (the ``tiny_models`` ones). The app runs in a subprocess,
    which cannot see models registered in this process, so it gets folders on its command line."""
    return build_tiny_checkpoints(tiny_models.folder)


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory: pytest.TempPathFactory, app_checkpoints) -> LaunchedApp:
    """``python app.py`` with default limits and the tiny models, shared by the modules that need
    no special flags (bad inputs through the API, access, load)."""
    workdir = tmp_path_factory.mktemp("shared-app")
    with launched_app(model_args(app_checkpoints), workdir) as app:
        yield app
