"""Fusion strategies behind one contract: ``dict[str, Tensor] -> Tensor``.

Build one by name with :func:`build_fusion` (``list_fusions()`` gives the names) from a
:class:`FusionConfig`; wrap it in :class:`FusionClassifier` to classify and to measure
per-modality contributions.
"""

from mmdemo.fusion.base import FusionModule, FusionOutput
from mmdemo.fusion.classifier import ClassifierOutput, Contributions, FusionClassifier
from mmdemo.fusion.config import FusionConfig
from mmdemo.errors import ConfigError, UnknownStrategyError
from mmdemo.fusion.registry import (
    FUSION_STRATEGIES,
    FusionSpec,
    build_fusion,
    get_fusion_spec,
    list_fusions,
    parse_strategies,
)

__all__ = [
    "FUSION_STRATEGIES",
    "ClassifierOutput",
    "Contributions",
    "FusionClassifier",
    "FusionConfig",
    "ConfigError",
    "FusionModule",
    "FusionOutput",
    "FusionSpec",
    "UnknownStrategyError",
    "build_fusion",
    "get_fusion_spec",
    "list_fusions",
    "parse_strategies",
]
