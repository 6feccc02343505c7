"""The models the benchmark runs: full-size random-weight checkpoints, built once and registered.

Each bench model copies the registry spec of the pretrained model it stands for (its dtype policy,
batch size and audio road), so the project path runs exactly as it would with the real weights.
The checkpoints are written by :func:`mmdemo.model_factory.build_checkpoint` from the default
configs (CLIP ViT-B/32, BLIP base, wav2vec2-base: the same FLOPs as the pretrained ones) with
seeded random weights, into ``models_dir/<size>/<kind>``, and reused by later runs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import transformers

from mmdemo.bench.config import BenchConfig
from mmdemo.errors import UnknownModelError
from mmdemo.model_factory import build_checkpoint
from mmdemo.registry import ModelSpec, get_model_spec, register_model
from mmdemo.storage import read_json, write_json_atomic

logger = logging.getLogger(__name__)

# role -> (pretrained spec it stands for, checkpoint kind)
STAND_INS = {
    "image-text": ("clip-vit-b32", "clip"),
    "caption": ("blip-caption-base", "blip-caption"),
    "vqa": ("blip-vqa-base", "blip-vqa"),
    "audio": ("wav2vec2-base", "wav2vec2"),
    "speech": ("wav2vec2-base-960h", "wav2vec2-ctc"),
}
BUILD_MARKER = "bench_build.json"


@dataclass(frozen=True)
class BenchModels:
    """Registry names of the models each workload runs.

    ``audio`` is a native wav2vec2 (the audio-embedding workload); ``speech`` stands for the
    pretrained preset's default audio model (wav2vec2 CTC, transcripts embedded by CLIP), loaded
    by the memory workload with the other three defaults.
    """

    image_text: str
    caption: str
    vqa: str
    audio: str
    speech: str

    @classmethod
    def from_roles(cls, names: dict[str, str]) -> BenchModels:
        return cls(
            image_text=names["image-text"], caption=names["caption"], vqa=names["vqa"],
            audio=names["audio"], speech=names["speech"],
        )

    def by_role(self) -> dict[str, str]:
        return {
            "image-text": self.image_text, "caption": self.caption, "vqa": self.vqa,
            "audio": self.audio, "speech": self.speech,
        }

    def spec(self, role: str) -> ModelSpec:
        return get_model_spec(self.by_role()[role])

    def folder(self, role: str) -> Path:
        """The local checkpoint folder of ``role``'s model (the baseline loads it directly)."""
        spec = self.spec(role)
        if not spec.is_local:
            raise UnknownModelError(
                f"Model {spec.name!r} ({spec.checkpoint}) is not a local folder; the benchmark's "
                "baseline loads checkpoints from folders"
            )
        return spec.local_folder

    def specs_json(self) -> dict[str, dict]:
        """role -> spec fields, to register the same models in a subprocess."""
        return {role: asdict(self.spec(role)) for role in self.by_role()}


def _build_once(kind: str, folder: Path, size: str) -> Path:
    """Build ``kind`` into ``folder`` unless a finished build of the same kind and size is there."""
    marker = folder / BUILD_MARKER
    expected = {"kind": kind, "size": size, "seed": 0, "transformers": transformers.__version__}
    if marker.is_file() and read_json(marker) == expected:
        return folder
    logger.info("Building a %s %s checkpoint with random weights in %s", size, kind, folder)
    build_checkpoint(kind, folder, size=size, seed=0)
    write_json_atomic(marker, expected)  # written last: a half-built folder is rebuilt
    return folder


SHARPEN_FACTOR = 10.0
"""How much :func:`sharpen_logits` scales the BLIP decoder's logits for the generation fidelity
checks: a random decoder's top-1 margins are a few hundredths of a nat, so every rounding flips a
token and its output barely depends on the image; x10 gives margins of ~1 nat."""

CLIP_L14 = dict(  # openai/clip-vit-large-patch14's config (the parts that differ from CLIPConfig's defaults)
    text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12),
    vision_config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                       patch_size=14, image_size=224),
    projection_dim=768,
)


def sharpen_logits(model, factor: float = SHARPEN_FACTOR) -> None:
    """Scale a BLIP text decoder's next-token logits by ``factor``, in place: its LM head's last
    layer norm (weight and bias) is scaled, the tied word embeddings stay as they are."""
    norm = model.text_decoder.cls.predictions.transform.LayerNorm
    norm.weight.data.mul_(factor)
    norm.bias.data.mul_(factor)


def _build_sharpened(source: Path, folder: Path, *, vqa: bool) -> None:
    from transformers import AutoProcessor, BlipForConditionalGeneration, BlipForQuestionAnswering

    cls = BlipForQuestionAnswering if vqa else BlipForConditionalGeneration
    model = cls.from_pretrained(str(source), dtype="float32").eval()
    sharpen_logits(model)
    model.save_pretrained(folder)
    AutoProcessor.from_pretrained(str(source)).save_pretrained(folder)


def _build_clip_l14(source: Path, folder: Path) -> None:
    """CLIP ViT-L/14 with seeded random weights, the tokenizer and processor of ``source`` (the
    bench's B/32: same vocabulary and 224-pixel preprocessing)."""
    import torch
    from transformers import AutoProcessor, CLIPConfig, CLIPModel

    text = {**CLIPConfig.from_pretrained(str(source)).text_config.to_dict(), **CLIP_L14["text_config"]}
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**{**CLIP_L14, "text_config": text})).eval().save_pretrained(folder)
    AutoProcessor.from_pretrained(str(source)).save_pretrained(folder)


def _derived_once(kind: str, folder: Path, size: str, source: Path, build) -> Path:
    """Run ``build(folder)`` unless a finished build of the same kind from the same source is there."""
    marker = folder / BUILD_MARKER
    expected = {"kind": kind, "size": size, "seed": 0, "transformers": transformers.__version__,
                "source": str(Path(source).resolve())}
    if not (marker.is_file() and read_json(marker) == expected):
        logger.info("Building %s in %s", kind, folder)
        folder.mkdir(parents=True, exist_ok=True)
        build(folder)
        write_json_atomic(marker, expected)
    return folder


def sharpened_folder(config: BenchConfig, source: Path, *, vqa: bool) -> Path:
    """A copy of the BLIP checkpoint at ``source`` with its logits sharpened x :data:`SHARPEN_FACTOR`,
    built once under ``models_dir`` (next to the stand-ins)."""
    kind = f"{'blip-vqa' if vqa else 'blip-caption'}-sharpened-{SHARPEN_FACTOR:g}x"
    folder = Path(config.models_dir) / config.model_size / kind
    return _derived_once(kind, folder, config.model_size, source, lambda f: _build_sharpened(source, f, vqa=vqa))


def clip_l14_folder(config: BenchConfig, source: Path) -> Path:
    """CLIP ViT-L/14 (its real config) with seeded random weights, built once under ``models_dir``."""
    folder = Path(config.models_dir) / "base" / "clip-vit-l14"
    return _derived_once("clip-vit-l14", folder, "base", source, lambda f: _build_clip_l14(source, f))


def prepare_models(config: BenchConfig) -> BenchModels:
    """Build (once) and register the bench models, or use ``config.model_names``."""
    if config.model_names:
        missing = [role for role in STAND_INS if role not in config.model_names]
        if missing:
            raise UnknownModelError(f"model_names lacks roles {missing}; give all of {list(STAND_INS)}")
        names = {role: config.model_names[role] for role in STAND_INS}
        for name in names.values():
            get_model_spec(name)  # unknown names fail here, listing the valid ones
    else:
        names = {}
        for role, (pretrained, kind) in STAND_INS.items():
            folder = _build_once(kind, Path(config.models_dir) / config.model_size / kind, config.model_size)
            names[role] = f"bench-{pretrained}"
            register_model(
                replace(
                    get_model_spec(pretrained), name=names[role], checkpoint=str(folder), preset="custom",
                    description=f"{pretrained} architecture with seeded random weights (benchmark)",
                ),
                replace_existing=True,
            )
        # The speech road embeds transcripts with the bench CLIP, in its space.
        speech = get_model_spec(names["speech"])
        register_model(
            replace(speech, text_model=names["image-text"], space=names["image-text"]), replace_existing=True
        )
    return BenchModels.from_roles(names)


def register_specs(specs: dict[str, dict]) -> BenchModels:
    """Register specs written by :meth:`BenchModels.specs_json` (in a subprocess)."""
    names = {}
    for role, fields in specs.items():
        register_model(ModelSpec(**fields), replace_existing=True)
        names[role] = fields["name"]
    return BenchModels.from_roles(names)
