"""Fusion strategies by name.

``FUSION_STRATEGIES`` maps each registry name to a :class:`FusionSpec`; :func:`build_fusion`
builds one from a :class:`~mmdemo.fusion.config.FusionConfig`. Two names may share a class and
differ by config overrides (``late`` averages, ``late_weighted`` learns the weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mmdemo.errors import UnknownStrategyError
from mmdemo.fusion.attention import AttentionFusion
from mmdemo.fusion.base import FusionModule
from mmdemo.fusion.concat import ConcatFusion
from mmdemo.fusion.config import FusionConfig
from mmdemo.fusion.film import FiLMFusion
from mmdemo.fusion.gmu import GMUFusion
from mmdemo.fusion.late import LateFusion
from mmdemo.fusion.lmf import LowRankFusion
from mmdemo.fusion.tfn import TensorFusion


@dataclass(frozen=True)
class FusionSpec:
    """A named fusion strategy.

    Attributes:
        name: registry name (used by the CLI, the UI and saved heads).
        module: the FusionModule subclass.
        title: short human-readable name.
        description: one sentence for menus and reports.
        overrides: FusionConfig fields this name forces (e.g. ``late_weighting``).
    """

    name: str
    module: type[FusionModule]
    title: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def contribution_kind(self) -> str:
        """``"gate"``, ``"attention"`` or ``"ablation"``: how contributions are measured."""
        return self.module.contribution_kind


_SPECS = [
    FusionSpec("concat", ConcatFusion, "Concatenation (early fusion)",
               "Concatenate the embeddings, then project (optionally through hidden layers)."),
    FusionSpec("late", LateFusion, "Late fusion (averaged)",
               "One network per modality; their outputs (and so the logits) are averaged.",
               {"late_weighting": "mean"}),
    FusionSpec("late_weighted", LateFusion, "Late fusion (learned weights)",
               "One network per modality; their outputs are combined with learned softmax weights.",
               {"late_weighting": "learned"}),
    FusionSpec("gmu", GMUFusion, "Gated multimodal unit",
               "tanh projection per modality mixed by learned, input-dependent gates (Arevalo et al. 2017)."),
    FusionSpec("tfn", TensorFusion, "Tensor fusion",
               "Outer product of [1, projection] vectors: every cross-modal feature product (Zadeh et al. 2017)."),
    FusionSpec("lmf", LowRankFusion, "Low-rank multimodal fusion",
               "Tensor fusion with low-rank modality-specific factors (Liu et al. 2018)."),
    FusionSpec("attention", AttentionFusion, "Cross-modal attention",
               "A small transformer over one token per modality with a [CLS] readout."),
    FusionSpec("film", FiLMFusion, "FiLM conditioning",
               "The other modalities scale and shift the base modality's features (Perez et al. 2018)."),
]

FUSION_STRATEGIES: dict[str, FusionSpec] = {spec.name: spec for spec in _SPECS}


def list_fusions() -> list[str]:
    """Registry names of all fusion strategies, in menu order."""
    return list(FUSION_STRATEGIES)


def get_fusion_spec(name: str) -> FusionSpec:
    """The spec registered under ``name``; UnknownStrategyError lists the valid names."""
    try:
        return FUSION_STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown fusion strategy {name!r}; valid: {', '.join(FUSION_STRATEGIES)}"
        ) from None


def parse_strategies(text: str | list[str]) -> list[str]:
    """Names from ``"concat,gmu"`` or a list; ``"all"`` means every strategy. Validates each name."""
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if names == ["all"]:
        return list_fusions()
    if not names:
        raise UnknownStrategyError(f"no fusion strategy given; valid: {', '.join(FUSION_STRATEGIES)} or 'all'")
    for name in names:
        get_fusion_spec(name)
    return list(dict.fromkeys(names))


def build_fusion(name: str, config: FusionConfig) -> FusionModule:
    """Build the strategy ``name`` from ``config`` (with the spec's overrides applied)."""
    spec = get_fusion_spec(name)
    return spec.module(replace(config, **spec.overrides))
