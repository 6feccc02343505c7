"""Where each role's default model stands: which model, preset, device and dtype, and its state.

:func:`model_status` reads it from the registry and :mod:`mmdemo.loading` without loading
anything, so it can be shown before the first request (the app's status line formats it).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmdemo import presets, registry
from mmdemo.backends import is_available_offline
from mmdemo.loading import loaded_models, resolve_device, resolve_dtype

LOADED = "loaded"
ON_FIRST_USE = "loads on first use"
MISSING = "missing"


@dataclass(frozen=True)
class RoleStatus:
    """One role's default model and its state.

    Attributes:
        role: the role (``image-text``, ``caption``, ``vqa``, ``audio``).
        model: the registry name of the role's default model.
        preset: the preset that model belongs to (``pretrained``, ``bundled`` or a custom one).
        device: the device type it runs on (``cpu``, ``cuda``).
        dtype: its compute dtype (``float32``, ``bfloat16``, ...).
        state: ``loaded``, ``loads on first use`` or ``missing`` (a local folder that is not there).
        hint: for a missing model, what to do about it; else empty.
    """

    role: str
    model: str
    preset: str
    device: str
    dtype: str
    state: str
    hint: str = ""


@dataclass(frozen=True)
class ModelStatus:
    """The active preset, what its models can do (:data:`mmdemo.presets.ABILITIES`) and one
    :class:`RoleStatus` per role, in ``registry.ROLES`` order."""

    preset: str
    roles: list[RoleStatus]
    abilities: str = ""


def model_status() -> ModelStatus:
    """The state of every role's default model, before or after loading (loads nothing)."""
    device = resolve_device()
    loaded = {item.spec.name for item in loaded_models()}
    roles = []
    for role in registry.ROLES:
        spec = registry.get_model_spec(registry.default_model(role))
        dtype = str(resolve_dtype(spec, device)).removeprefix("torch.")
        state, hint = ON_FIRST_USE, ""
        if spec.name in loaded:
            state = LOADED
        elif spec.is_local and not is_available_offline(spec):
            state = MISSING
            hint = {"bundled": "run `python -m mmdemo pretrain`",
                    "offline": "pip install -r requirements.txt"}.get(spec.preset, "folder not found")
        roles.append(RoleStatus(role, spec.name, spec.preset, device.type, dtype, state, hint))
    preset = presets.active_preset()
    return ModelStatus(preset, roles, presets.ABILITIES.get(preset, ""))
