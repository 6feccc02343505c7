"""mmdemo: a multimodal model playground (CLIP / OpenCLIP, BLIP, wav2vec2, fusion heads).

The public API, re-exported here; every name lives in the module that owns its concept:

- :mod:`mmdemo.registry`: named model specs by role, presets (``list_models``, ``use_preset``);
- :mod:`mmdemo.loading`: lazy, thread-safe loading; device and dtype policy (``get_model``);
- :mod:`mmdemo.media`: image / audio / text loading and limits (``load_image``, ``load_audio``);
- :mod:`mmdemo.encoders`: ``embed_images`` / ``embed_texts`` / ``embed_audio`` (cached);
- :mod:`mmdemo.generate`: ``caption`` and ``answer`` with BLIP;
- :mod:`mmdemo.classify`: ``zero_shot_classify`` with CLIP;
- :mod:`mmdemo.fusion`, :mod:`mmdemo.training`, :mod:`mmdemo.evaluation`: fusion strategies, the
  training program and the comparison of strategies; :mod:`mmdemo.lab` runs all three at once;
- :mod:`mmdemo.retrieval`: the cross-modal retrieval index;
- :mod:`mmdemo.world`: the bundled procedural data set and the pretraining program.

Importing mmdemo loads no model and makes no network call.
"""

from mmdemo.classify import ZeroShotOutput, zero_shot_classify
from mmdemo.encoders import EmbeddingOutput, embed_audio, embed_images, embed_texts
from mmdemo.errors import (
    IncompatibleError,
    MediaError,
    MmdemoError,
    ModelUnavailableError,
    UnknownModelError,
)
from mmdemo.generate import AnswerOutput, Caption, CaptionOutput, DecodingConfig, answer, caption
from mmdemo.loading import LoadedModel, configure_runtime, get_model, loaded_models
from mmdemo.media import MediaLimits, clean_text, load_audio, load_image
from mmdemo.evaluation.compare import Comparison, compare_results
from mmdemo.evaluation.report import write_report
from mmdemo.fusion.config import FusionConfig
from mmdemo.fusion.registry import build_fusion, list_fusions
from mmdemo.lab import LabRun, run_lab
from mmdemo.retrieval import RetrievalIndex
from mmdemo.training.features import extract_features
from mmdemo.training.fewshot import run_few_shot
from mmdemo.training.head import FusionHead, HeadPrediction
from mmdemo.training.manifest import read_manifest
from mmdemo.training.trainer import TrainConfig, train_heads
from mmdemo.registry import (
    ModelSpec,
    default_model,
    get_model_spec,
    list_models,
    register_model,
    set_default_model,
    use_preset,
)

__version__ = "0.1.0"

__all__ = [
    "AnswerOutput",
    "Comparison",
    "FusionConfig",
    "FusionHead",
    "HeadPrediction",
    "LabRun",
    "RetrievalIndex",
    "TrainConfig",
    "build_fusion",
    "compare_results",
    "extract_features",
    "list_fusions",
    "read_manifest",
    "run_few_shot",
    "run_lab",
    "train_heads",
    "write_report",
    "Caption",
    "CaptionOutput",
    "DecodingConfig",
    "EmbeddingOutput",
    "IncompatibleError",
    "LoadedModel",
    "MediaError",
    "MediaLimits",
    "MmdemoError",
    "ModelSpec",
    "ModelUnavailableError",
    "UnknownModelError",
    "ZeroShotOutput",
    "answer",
    "caption",
    "clean_text",
    "configure_runtime",
    "default_model",
    "embed_audio",
    "embed_images",
    "embed_texts",
    "get_model",
    "get_model_spec",
    "list_models",
    "load_audio",
    "load_image",
    "loaded_models",
    "register_model",
    "set_default_model",
    "use_preset",
    "zero_shot_classify",
]
