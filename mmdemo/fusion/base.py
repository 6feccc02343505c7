"""The fusion contract every strategy follows.

A fusion module is an ``nn.Module`` built from a :class:`~mmdemo.fusion.config.FusionConfig`.
``forward(embeddings, mask=None)`` takes a dict ``modality -> Tensor [B, D_m]`` and an optional
dict ``modality -> BoolTensor [B]`` and returns the fused vectors ``[B, out_dim]``. A modality is
absent for a sample when its key is missing from ``embeddings`` or its mask entry is False; each
strategy then uses masking or a learned placeholder, never the (meaningless) values passed in.

:meth:`FusionModule.fuse` returns the same vectors together with the strategy's own per-modality
weights where it has them (gate values for GMU, attention weights for cross-modal attention), which
:class:`~mmdemo.fusion.classifier.FusionClassifier` reports as contributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from mmdemo.errors import IncompatibleError
from mmdemo.fusion.config import FusionConfig

CONTRIBUTION_KINDS = ("gate", "attention", "ablation")


@dataclass
class FusionOutput:
    """What a fusion module computes for a batch.

    Attributes:
        fused: fused vectors ``[B, out_dim]``.
        weights: per-modality weights ``[B, M]`` in config order (0 for absent modalities), or
            None for strategies whose contributions are measured by ablation.
    """

    fused: Tensor
    weights: Tensor | None = None


@dataclass
class FusionInputs:
    """A batch checked against the config and put in config order.

    Attributes:
        values: modality -> ``[B, D_m]`` float tensor; zeros where the modality is absent.
        present: ``[B, M]`` bool, True where modality ``m`` (config order) is present.
    """

    values: dict[str, Tensor]
    present: Tensor


class FusionModule(nn.Module):
    """Base class of fusion strategies (see the module docstring for the contract).

    Subclasses set ``contribution_kind`` (one of ``"gate"``, ``"attention"``, ``"ablation"``) and
    implement :meth:`fuse`.
    """

    contribution_kind: ClassVar[str] = "ablation"
    # True where the strategy's meaning rests on a linear classifier over the fused vector (late
    # fusion: a linear head over a weighted mean is the mean of per-modality logits); the
    # classifier then ignores ``FusionConfig.head_layers``.
    linear_head_only: ClassVar[bool] = False

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config.validate()
        self.modalities: list[str] = list(config.modalities)
        self.out_dim = config.out_dim

    def forward(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> Tensor:
        """Fused vectors ``[B, out_dim]`` for a batch of per-modality embeddings."""
        return self.fuse(embeddings, mask).fused

    def fuse(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> FusionOutput:
        """Fused vectors and, where the strategy has them, per-modality weights."""
        raise NotImplementedError(f"{type(self).__name__} must implement fuse()")

    def prepare(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None) -> FusionInputs:
        """Validate a batch, fill absent modalities with zeros and build the presence matrix.

        Raises IncompatibleError for unknown modality names, wrong dims or mismatched batch sizes.
        """
        unknown = sorted(set(embeddings) - set(self.modalities))
        if unknown:
            raise IncompatibleError(
                f"this fusion module has no modality {unknown}; it was built for: {', '.join(self.modalities)}"
            )
        batch, reference = self._batch_size(embeddings, mask)
        values: dict[str, Tensor] = {}
        present_columns = []
        for name in self.modalities:
            dim = self.config.modalities[name]
            given = embeddings.get(name)
            if given is None:
                values[name] = reference.new_zeros((batch, dim))
                present = torch.zeros(batch, dtype=torch.bool, device=reference.device)
            else:
                if given.dim() != 2 or given.shape[1] != dim or given.shape[0] != batch:
                    raise IncompatibleError(
                        f"modality {name!r} embeddings have shape {tuple(given.shape)}; expected ({batch}, {dim})"
                    )
                present = self._mask_column(mask, name, batch, given.device)
                # Zero the absent rows so that no strategy can read a stale value by mistake.
                values[name] = torch.where(present[:, None], given.float(), given.new_zeros(()).float())
            present_columns.append(present)
        return FusionInputs(values=values, present=torch.stack(present_columns, dim=1))  # [B, M]

    def _batch_size(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None) -> tuple[int, Tensor]:
        sizes = {name: tensor.shape[0] for name, tensor in embeddings.items()}
        if len(set(sizes.values())) > 1:
            raise IncompatibleError(f"modalities have different batch sizes: {sizes}")
        if sizes:
            reference = next(iter(embeddings.values()))
            return next(iter(sizes.values())), reference
        if mask:
            reference = next(iter(mask.values()))
            return reference.shape[0], reference.new_zeros((), dtype=torch.float32)
        raise IncompatibleError(
            f"no embeddings given; pass at least one of: {', '.join(self.modalities)}"
        )

    @staticmethod
    def _mask_column(mask: dict[str, Tensor] | None, name: str, batch: int, device: torch.device) -> Tensor:
        if mask is None or name not in mask:
            return torch.ones(batch, dtype=torch.bool, device=device)
        column = mask[name]
        if column.shape != (batch,):
            raise IncompatibleError(f"mask for {name!r} has shape {tuple(column.shape)}; expected ({batch},)")
        return column.to(device=device, dtype=torch.bool)


class Placeholders(nn.Module):
    """One learned vector per modality that stands in for an absent modality's embedding."""

    def __init__(self, modalities: dict[str, int]) -> None:
        super().__init__()
        self.vectors = nn.ParameterDict({name: nn.Parameter(torch.zeros(dim)) for name, dim in modalities.items()})

    def fill(self, inputs: FusionInputs, modalities: list[str]) -> dict[str, Tensor]:
        """Embeddings with each absent row replaced by that modality's placeholder.

        ``modalities`` is the module's full modality order (the columns of ``inputs.present``);
        modalities without a placeholder are passed through unchanged.
        """
        filled = {}
        for index, name in enumerate(modalities):
            if name not in self.vectors:
                filled[name] = inputs.values[name]
                continue
            present = inputs.present[:, index : index + 1]  # [B, 1]
            filled[name] = torch.where(present, inputs.values[name], self.vectors[name].unsqueeze(0))
        return filled


def masked_softmax(logits: Tensor, present: Tensor, dim: int) -> Tensor:
    """Softmax over ``dim`` that gives absent entries weight 0 (all-absent rows give all zeros).

    ``present`` must broadcast against ``logits``.
    """
    masked = logits.masked_fill(~present, float("-inf"))
    any_present = present.any(dim=dim, keepdim=True)
    # Rows with nothing present would be softmax(-inf, ...) = NaN; give them zeros instead.
    safe = torch.where(any_present, masked, torch.zeros_like(masked))
    return torch.softmax(safe, dim=dim) * any_present * present
