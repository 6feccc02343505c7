"""Configuration shared by every fusion strategy.

One :class:`FusionConfig` describes the modalities a fusion module reads (names and input
dimensions), the width of the fused vector it returns, and the hyperparameters of every strategy.
A strategy reads only the fields it needs, so one config (for example the ``fusion`` field of a
training config) can build every strategy for a side-by-side comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mmdemo.errors import ConfigError

LATE_WEIGHTINGS = ("mean", "learned")


def check_fields(cls: type, data: dict[str, Any]) -> None:
    """ConfigError if ``data`` has keys that are not fields of the dataclass ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields {unknown}; valid: {', '.join(sorted(known))}")


@dataclass
class FusionConfig:
    """Modalities, output width and hyperparameters of a fusion module.

    Attributes:
        modalities: modality name -> input embedding dimension, in a fixed order (the order of
            modality tokens, of the concatenation, and of contribution columns). A training run
            fills it from the features, so it may be left empty in a template config.
        out_dim: width of the fused vector every strategy returns (default 64).
        hidden_dim: width of per-modality projections, of attention tokens and of the FiLM and
            late-fusion hidden layers (default 64).
        dropout: dropout probability inside the fusion module (default 0.1).
        concat_hidden_layers: nonlinear layers after concatenation (default 1). With 0 the fused
            vector is a linear projection of the concatenated embeddings, so concatenation with a
            linear classifier head is a linear model.
        late_weighting: how late fusion combines per-modality outputs: ``"mean"`` (average over
            the present modalities) or ``"learned"`` (softmax of one learned weight per modality).
        tfn_dim: per-modality projection width before the tensor-fusion outer product (default
            8). The outer product has ``prod(tfn_dim + 1)`` entries, so keep it small.
        rank: rank of the low-rank multimodal fusion factors (default 4).
        num_heads: attention heads of the cross-modal transformer (default 2); must divide
            ``hidden_dim``.
        num_layers: transformer layers of the cross-modal attention strategy (default 1).
        film_base: modality that FiLM modulates with the others; ``None`` (default) means the
            first modality in ``modalities``.
        head_layers: hidden Linear-ReLU layers (width ``out_dim``) of each task's classifier on
            top of the fused vector (default 0: one linear layer per task). With 1, a task whose
            label combines two cross-modal relations non-linearly (an XOR) can be read from the
            fused vector; a linear head can only weigh them.
    """

    modalities: dict[str, int] = field(default_factory=dict)
    out_dim: int = 64
    hidden_dim: int = 64
    dropout: float = 0.1
    concat_hidden_layers: int = 1
    late_weighting: str = "mean"
    tfn_dim: int = 8
    rank: int = 4
    num_heads: int = 2
    num_layers: int = 1
    film_base: str | None = None
    head_layers: int = 0

    def validate(self) -> FusionConfig:
        """Check every field; raise :class:`ConfigError` naming the bad value. Returns self."""
        if not self.modalities:
            raise ConfigError("FusionConfig.modalities is empty: give at least one modality name and dim")
        for name, dim in self.modalities.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"modality names must be non-empty strings, got {name!r}")
            if not isinstance(dim, int) or dim < 1:
                raise ConfigError(f"modality {name!r} has input dim {dim!r}; it must be a positive integer")
        for name in ("out_dim", "hidden_dim", "tfn_dim", "rank", "num_heads", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.head_layers, int) or self.head_layers < 0:
            raise ConfigError(f"head_layers must be an integer >= 0, got {self.head_layers!r}")
        if not isinstance(self.concat_hidden_layers, int) or self.concat_hidden_layers < 0:
            raise ConfigError(f"concat_hidden_layers must be an integer >= 0, got {self.concat_hidden_layers!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.late_weighting not in LATE_WEIGHTINGS:
            raise ConfigError(
                f"unknown late_weighting {self.late_weighting!r}; valid: {', '.join(LATE_WEIGHTINGS)}"
            )
        if self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"num_heads={self.num_heads} does not divide hidden_dim={self.hidden_dim}"
            )
        if self.film_base is not None and self.film_base not in self.modalities:
            raise ConfigError(
                f"film_base {self.film_base!r} is not a configured modality; valid: {', '.join(self.modalities)}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the config."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionConfig:
        """Rebuild a config written by :meth:`to_dict`; unknown keys raise ConfigError."""
        check_fields(cls, data)
        values = dict(data)
        values["modalities"] = {str(k): int(v) for k, v in dict(values.get("modalities", {})).items()}
        return cls(**values)
