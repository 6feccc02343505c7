"""Presets: named tables of default models, one per role, and the ``auto`` rule that picks one.

- ``pretrained``: the hub checkpoints (downloaded on first use, cached by huggingface_hub);
- ``bundled``: the small models trained on the bundled world, shipped under ``assets/models``
  (what a fresh process starts with: :data:`mmdemo.registry.STARTING_DEFAULTS`);
- ``offline``: real pretrained weights from pip packages, no hub (ImageNet classes + MiniLM in one
  space by ConSE, label-based captions and answers, Whisper tiny.en for speech);
- ``auto`` (:func:`choose_preset`): ``pretrained`` when its checkpoints are cached or the hub
  answers, else ``offline`` when its packages are installed, else ``bundled``.

:func:`use_preset` puts a table into the registry (which owns the defaults in force, see
:func:`mmdemo.registry.use_defaults`) and remembers which preset it was.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mmdemo import registry
from mmdemo.backends import is_available_offline
from mmdemo.backends.base import hub_endpoint, hub_reachable
from mmdemo.errors import UnknownModelError

PRESETS: dict[str, dict[str, str]] = {
    "pretrained": {
        "image-text": "clip-vit-b32",
        "caption": "blip-caption-base",
        "vqa": "blip-vqa-base",
        "audio": "wav2vec2-base-960h",
    },
    "bundled": {
        "image-text": "bundled-clip",
        "caption": "bundled-caption",
        "vqa": "bundled-vqa",
        "audio": "bundled-audio",
    },
    "offline": {
        "image-text": registry.OFFLINE_IMAGE_TEXT,
        "caption": "offline-caption",
        "vqa": "offline-vqa",
        "audio": "offline-whisper-tiny-en",
    },
}

ABILITIES: dict[str, str] = {  # what each preset's models can do, in a phrase (the app's status line)
    "pretrained": "hub checkpoints (CLIP, BLIP, wav2vec2) for real photos, open captions and questions, "
                  "and English speech",
    "bundled": "small models that know only the bundled shapes world (coloured circles, squares, "
               "triangles, stars)",
    "offline": "real photos (1000 ImageNet classes) and English speech from pip-installed weights; "
               "captions and answers are built from recognised classes (no BLIP)",
}

OPTIONAL_DEFAULTS: dict[str, dict[str, str]] = {
    "pretrained": {"image-text-match": "blip-itm-base-coco"},
}
"""Defaults of the optional roles (:data:`mmdemo.registry.OPTIONAL_ROLES`), by preset: the
``bundled`` and ``offline`` presets have no image-text-matching model (``mmdemo.matching`` then
needs ``model=``)."""

_LOCK = threading.Lock()
_active = "bundled"  # the preset last applied; a fresh registry holds the bundled defaults


def _check_preset(preset: str, *, allow_auto: bool = False) -> None:
    if preset not in PRESETS and not (allow_auto and preset == "auto"):
        valid = ["auto", *sorted(PRESETS)] if allow_auto else sorted(PRESETS)
        raise UnknownModelError(f"Unknown preset {preset!r}; valid presets: {valid}")


def use_preset(preset: str) -> dict[str, str]:
    """Make ``preset`` (``pretrained``, ``bundled`` or ``offline``) the source of every role's default;
    returns role -> default model name."""
    global _active
    _check_preset(preset)
    with _LOCK:
        defaults = registry.use_defaults({**PRESETS[preset], **OPTIONAL_DEFAULTS.get(preset, {})})
        _active = preset
        return defaults


def active_preset() -> str:
    """The preset last applied with :func:`use_preset` (``bundled`` in a fresh process)."""
    with _LOCK:
        return _active


@dataclass
class PresetChoice:
    """Which preset ``auto`` chose, and why (the app shows the reason on the page)."""

    preset: str
    reason: str


def choose_preset(requested: str = "auto") -> PresetChoice:
    """Resolve ``auto``: ``pretrained`` when its checkpoints are cached or the hub answers, else
    ``offline`` when its pip packages are installed, else ``bundled``. Explicit presets are
    returned as they are."""
    _check_preset(requested, allow_auto=True)
    if requested != "auto":
        return PresetChoice(requested, "chosen explicitly")
    specs = [registry.get_model_spec(name) for name in PRESETS["pretrained"].values()]
    if all(is_available_offline(spec) for spec in specs):
        return PresetChoice("pretrained", "the pretrained checkpoints are in the local cache")
    if hub_reachable():
        return PresetChoice("pretrained", f"{hub_endpoint()} is reachable; weights download on first use")
    offline = f"no network to {hub_endpoint()} and the pretrained checkpoints are not cached"
    missing = registry.missing_offline_packages()
    if not missing:
        return PresetChoice("offline", f"{offline}; the offline preset's packages are installed")
    return PresetChoice("bundled", f"{offline}, and the offline preset needs {', '.join(missing)}")
