"""The status line: mmdemo.status says each role's model and state, the app only formats it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo import presets, registry
from mmdemo.loading import get_model
from mmdemo.status import LOADED, MISSING, ON_FIRST_USE, model_status
from webapp.main import status_markdown
from webapp.settings import AppSettings


@pytest.fixture
def roles_on_tiny_models(tiny_models, tmp_path: Path):
    """image-text: the tiny CLIP; caption: a folder that is not there; the registry restored after."""
    preset, defaults = presets.active_preset(), registry.default_models()
    registry.set_default_model("image-text", tiny_models.clip)
    registry.set_default_model("caption", str(tmp_path / "no-such-caption-model"))
    yield tiny_models
    presets.use_preset(preset)
    for role, name in defaults.items():
        registry.set_default_model(role, name)


def test_each_role_says_its_model_device_dtype_and_state(roles_on_tiny_models, tmp_path: Path) -> None:
    by_role = {status.role: status for status in model_status().roles}
    assert list(by_role) == list(registry.ROLES)
    clip = by_role["image-text"]
    assert (clip.model, clip.device, clip.dtype) == (roles_on_tiny_models.clip, "cpu", "float32")
    assert clip.state in (ON_FIRST_USE, LOADED)
    get_model(None, "image-text")
    assert {s.role: s for s in model_status().roles}["image-text"].state == LOADED
    caption = by_role["caption"]
    assert caption.state == MISSING and caption.hint == "folder not found" and caption.preset == "custom"


def test_the_app_formats_the_status_with_the_preset_reason(roles_on_tiny_models) -> None:
    get_model(None, "image-text")
    text = status_markdown(AppSettings(preset_reason="chosen explicitly"))
    header, abilities, roles = text.split("  \n")
    assert header == f"**Models: {presets.active_preset()} preset** (chosen explicitly)"
    assert abilities == f"{presets.active_preset()} preset: {presets.ABILITIES[presets.active_preset()]}"
    assert roles.startswith(f"image-text: `{roles_on_tiny_models.clip}` (custom, cpu, float32, loaded) · caption: `")
    assert "(custom, cpu, float32, **missing**: folder not found)" in roles
    assert roles.count(" · ") == len(registry.ROLES) - 1
    assert "(default)" in status_markdown(AppSettings())


@pytest.mark.parametrize("preset", sorted(presets.PRESETS))
def test_the_status_says_what_each_preset_can_do(preset: str) -> None:
    before, defaults = presets.active_preset(), registry.default_models()
    presets.use_preset(preset)
    try:
        status = model_status()
    finally:
        presets.use_preset(before)
        for role, name in defaults.items():
            registry.set_default_model(role, name)
    assert status.preset == preset and status.abilities == presets.ABILITIES[preset]
    expected = {"bundled": "know only the bundled shapes world", "offline": "real photos (1000 ImageNet classes)",
                "pretrained": "open captions and questions"}[preset]
    assert expected in status.abilities
