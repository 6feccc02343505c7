"""mmdemo: a multimodal model playground (CLIP / OpenCLIP, BLIP, wav2vec2, fusion heads).

The public API, importable from here; every name lives in the module that owns its concept and is
imported from it on first access, so ``import mmdemo`` is cheap:

- :mod:`mmdemo.registry`: named model specs by role and their defaults (``list_models``);
- :mod:`mmdemo.presets`: the tables of defaults and the ``auto`` choice (``use_preset``);
- :mod:`mmdemo.loading`: the lazy, thread-safe model cache; device and dtype policy (``get_model``);
- :mod:`mmdemo.backends`: one module per model family, how it loads and runs (``LoadedModel``);
- :mod:`mmdemo.media`: image / audio / text loading and limits (``load_image``, ``load_audio``);
- :mod:`mmdemo.modalities`: ``MODALITIES`` (text, image, audio) and the exactly-one-query check;
- :mod:`mmdemo.encoders`: ``embed(modality, inputs, model=...)`` and ``embed_images`` /
  ``embed_texts`` / ``embed_audio`` (cached);
- :mod:`mmdemo.generate`: ``caption`` and ``answer`` (BLIP, or label-based in the offline preset);
- :mod:`mmdemo.classify`: ``zero_shot_classify`` (CLIP, SigLIP, ConSE); :mod:`mmdemo.recognition`: ImageNet classes of
  the offline preset (``recognise``);
- :mod:`mmdemo.matching`: ``rerank`` (image, text) pairs with BLIP image-text matching;
- :mod:`mmdemo.explain`: relevance maps for labels, hits, caption words and answers;
- :mod:`mmdemo.status`: where each role's model stands (``model_status``);
- :mod:`mmdemo.fusion`, :mod:`mmdemo.training`, :mod:`mmdemo.evaluation`: fusion strategies, heads
  and their training, and the comparison of strategies; :mod:`mmdemo.lab` is the one training
  program over all three (``run_training``; ``run_lab`` for the app);
- :mod:`mmdemo.retrieval`: the cross-modal retrieval index;
- :mod:`mmdemo.world`: the bundled procedural data set; :mod:`mmdemo.pretrain`: the program that
  pretrains the bundled models on it.

Importing mmdemo loads no model and makes no network call.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

# Public name -> the module that owns it, imported on first access (PEP 562), so that
# ``import mmdemo`` (or any ``mmdemo.<sub-package>``) pulls in nothing it does not use.
_HOMES: dict[str, str] = {
    "AnswerOutput": "mmdemo.generate",
    "Caption": "mmdemo.generate",
    "CaptionOutput": "mmdemo.generate",
    "DecodingConfig": "mmdemo.generate",
    "answer": "mmdemo.generate",
    "caption": "mmdemo.generate",
    "Comparison": "mmdemo.evaluation.compare",
    "compare_results": "mmdemo.evaluation.compare",
    "write_report": "mmdemo.evaluation.report",
    "FusionConfig": "mmdemo.fusion.config",
    "build_fusion": "mmdemo.fusion.registry",
    "list_fusions": "mmdemo.fusion.registry",
    "FusionHead": "mmdemo.training.head",
    "HeadPrediction": "mmdemo.training.head",
    "TrainConfig": "mmdemo.training.trainer",
    "train_heads": "mmdemo.training.trainer",
    "extract_features": "mmdemo.training.features",
    "run_few_shot": "mmdemo.training.fewshot",
    "read_manifest": "mmdemo.training.manifest",
    "LabRun": "mmdemo.lab",
    "run_lab": "mmdemo.lab",
    "RetrievalIndex": "mmdemo.retrieval.index",
    "EmbeddingOutput": "mmdemo.encoders",
    "embed_audio": "mmdemo.encoders",
    "embed_images": "mmdemo.encoders",
    "embed_texts": "mmdemo.encoders",
    "IncompatibleError": "mmdemo.errors",
    "IncompatibleCheckpointError": "mmdemo.errors",
    "MediaError": "mmdemo.errors",
    "MmdemoError": "mmdemo.errors",
    "ModelUnavailableError": "mmdemo.errors",
    "UnknownModelError": "mmdemo.errors",
    "LoadedModel": "mmdemo.backends.base",
    "configure_runtime": "mmdemo.loading",
    "get_model": "mmdemo.loading",
    "loaded_models": "mmdemo.loading",
    "MediaLimits": "mmdemo.media",
    "clean_text": "mmdemo.media",
    "load_audio": "mmdemo.media",
    "load_image": "mmdemo.media",
    "ModelSpec": "mmdemo.registry",
    "default_model": "mmdemo.registry",
    "get_model_spec": "mmdemo.registry",
    "list_models": "mmdemo.registry",
    "register_model": "mmdemo.registry",
    "set_default_model": "mmdemo.registry",
    "use_preset": "mmdemo.presets",
    "ZeroShotOutput": "mmdemo.classify",
    "zero_shot_classify": "mmdemo.classify",
    "MODALITIES": "mmdemo.modalities",
    "embed": "mmdemo.encoders",
    "TrainingConfig": "mmdemo.lab",
    "TrainingRun": "mmdemo.lab",
    "run_training": "mmdemo.lab",
    "Recognition": "mmdemo.recognition",
    "recognise": "mmdemo.recognition",
    "model_status": "mmdemo.status",
    "Explanation": "mmdemo.explain",
    "explain_text": "mmdemo.explain",
    "explain_image_match": "mmdemo.explain",
    "explain_caption": "mmdemo.explain",
    "explain_answer": "mmdemo.explain",
    "MatchScore": "mmdemo.matching",
    "RerankOutput": "mmdemo.matching",
    "rerank": "mmdemo.matching",
}

if TYPE_CHECKING:  # for type checkers and editors; at run time names resolve through __getattr__
    from mmdemo.backends.base import LoadedModel
    from mmdemo.classify import ZeroShotOutput, zero_shot_classify
    from mmdemo.encoders import EmbeddingOutput, embed, embed_audio, embed_images, embed_texts
    from mmdemo.errors import (
        IncompatibleCheckpointError,
        IncompatibleError,
        MediaError,
        MmdemoError,
        ModelUnavailableError,
        UnknownModelError,
    )
    from mmdemo.evaluation.compare import Comparison, compare_results
    from mmdemo.evaluation.report import write_report
    from mmdemo.fusion.config import FusionConfig
    from mmdemo.fusion.registry import build_fusion, list_fusions
    from mmdemo.generate import AnswerOutput, Caption, CaptionOutput, DecodingConfig, answer, caption
    from mmdemo.explain import (
        Explanation,
        explain_answer,
        explain_caption,
        explain_image_match,
        explain_text,
    )
    from mmdemo.lab import LabRun, TrainingConfig, TrainingRun, run_lab, run_training
    from mmdemo.modalities import MODALITIES
    from mmdemo.recognition import Recognition, recognise
    from mmdemo.status import model_status
    from mmdemo.loading import configure_runtime, get_model, loaded_models
    from mmdemo.media import MediaLimits, clean_text, load_audio, load_image
    from mmdemo.presets import use_preset
    from mmdemo.registry import (
        ModelSpec,
        default_model,
        get_model_spec,
        list_models,
        register_model,
        set_default_model,
    )
    from mmdemo.matching import MatchScore, RerankOutput, rerank
    from mmdemo.retrieval.index import RetrievalIndex
    from mmdemo.training.features import extract_features
    from mmdemo.training.fewshot import run_few_shot
    from mmdemo.training.head import FusionHead, HeadPrediction
    from mmdemo.training.manifest import read_manifest
    from mmdemo.training.trainer import TrainConfig, train_heads

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
    "IncompatibleCheckpointError",
    "IncompatibleError",
    "LoadedModel",
    "MatchScore",
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
    "RerankOutput",
    "rerank",
    "set_default_model",
    "use_preset",
    "zero_shot_classify",
    "MODALITIES",
    "embed",
    "TrainingConfig",
    "TrainingRun",
    "run_training",
    "Recognition",
    "recognise",
    "model_status",
    "Explanation",
    "explain_text",
    "explain_image_match",
    "explain_caption",
    "explain_answer",
]


def __getattr__(name: str) -> Any:
    """Import the module that owns ``name`` and return it (once: it is cached in globals); a
    sub-module's name (``mmdemo.fusion``) imports that sub-module."""
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
