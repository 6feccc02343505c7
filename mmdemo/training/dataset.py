"""Per-modality feature tensors with presence masks and integer targets: what heads train on.

A :class:`FeatureSet` is produced from a manifest by :func:`mmdemo.training.features.extract_features`,
from arrays by :meth:`FeatureSet.from_tensors` (precomputed or synthetic features), or by
:mod:`mmdemo.training.synthetic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from mmdemo.errors import IncompatibleError
from mmdemo.training.manifest import BadRow


@dataclass(frozen=True)
class EncoderInfo:
    """The encoder that produced one modality's features.

    Attributes:
        model: registry name of the model.
        space: id of its embedding space (vectors are only comparable within one space).
        dim: embedding dimension.
    """

    model: str
    space: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "space": self.space, "dim": self.dim}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderInfo:
        return cls(model=str(data["model"]), space=str(data["space"]), dim=int(data["dim"]))


@dataclass
class FeatureSet:
    """Features of N samples.

    Attributes:
        embeddings: modality -> float tensor ``[N, D_m]`` (zeros where the modality is absent).
        masks: modality -> bool tensor ``[N]``, True where the modality is present.
        targets: task -> long tensor ``[N]`` of class indices, -1 where the sample is unlabelled.
        label_names: task -> class names; ``targets[task] == i`` means ``label_names[task][i]``.
        encoders: modality -> the encoder that produced it (empty for synthetic features).
        lines: manifest line of each sample (None when not from a manifest).
        splits: ``"train"``/``"val"``/``"test"`` per sample from the manifest, or None.
        bad_rows: manifest rows skipped while building the set.
        source: where the features came from (a manifest path or a synthetic task name).
    """

    embeddings: dict[str, Tensor]
    masks: dict[str, Tensor]
    targets: dict[str, Tensor]
    label_names: dict[str, list[str]]
    encoders: dict[str, EncoderInfo] = field(default_factory=dict)
    lines: list[int] | None = None
    splits: list[str | None] | None = None
    bad_rows: list[BadRow] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.embeddings:
            raise IncompatibleError("a FeatureSet needs at least one modality")
        if not self.targets:
            raise IncompatibleError("a FeatureSet needs at least one task (label column)")
        n = len(self)
        for name, tensor in self.embeddings.items():
            if tensor.dim() != 2 or tensor.shape[0] != n:
                raise IncompatibleError(f"embeddings {name!r} have shape {tuple(tensor.shape)}; expected ({n}, D)")
            mask = self.masks.get(name)
            if mask is None or mask.shape != (n,):
                raise IncompatibleError(f"modality {name!r} needs a bool mask of shape ({n},)")
        for task, target in self.targets.items():
            names = self.label_names.get(task)
            if names is None:
                raise IncompatibleError(f"task {task!r} has no label names")
            if target.shape != (n,):
                raise IncompatibleError(f"targets {task!r} have shape {tuple(target.shape)}; expected ({n},)")
            if n and (int(target.max()) >= len(names) or int(target.min()) < -1):
                raise IncompatibleError(f"targets {task!r} hold indices outside 0..{len(names) - 1} (and -1)")
        for name, values in (("lines", self.lines), ("splits", self.splits)):
            if values is not None and len(values) != n:
                raise IncompatibleError(f"{name} has {len(values)} entries for {n} samples")

    @classmethod
    def from_tensors(
        cls,
        embeddings: dict[str, Tensor],
        targets: dict[str, Tensor] | Tensor,
        *,
        masks: dict[str, Tensor] | None = None,
        label_names: dict[str, list[str]] | None = None,
        source: str = "tensors",
    ) -> FeatureSet:
        """Wrap precomputed tensors. A bare target tensor becomes the task ``"label"``; missing
        masks mean "always present"; missing label names become ``"0"``, ``"1"``, ..."""
        if isinstance(targets, Tensor):
            targets = {"label": targets}
        targets = {task: target.long() for task, target in targets.items()}
        n = next(iter(targets.values())).shape[0]
        masks = dict(masks or {})
        for name in embeddings:
            masks[name] = masks.get(name, torch.ones(n, dtype=torch.bool)).bool()
        label_names = dict(label_names or {})
        for task, target in targets.items():
            if task not in label_names:
                count = int(target.max()) + 1 if target.numel() else 0
                label_names[task] = [str(index) for index in range(max(count, 2))]
        return cls(
            embeddings={name: tensor.float() for name, tensor in embeddings.items()},
            masks=masks,
            targets=targets,
            label_names=label_names,
            source=source,
        )

    def __len__(self) -> int:
        return next(iter(self.targets.values())).shape[0]

    @property
    def modalities(self) -> list[str]:
        return list(self.embeddings)

    @property
    def dims(self) -> dict[str, int]:
        """Modality -> embedding dimension (the ``modalities`` of a FusionConfig)."""
        return {name: tensor.shape[1] for name, tensor in self.embeddings.items()}

    @property
    def tasks(self) -> dict[str, int]:
        """Task -> number of classes (the tasks of a FusionClassifier)."""
        return {task: len(names) for task, names in self.label_names.items() if task in self.targets}

    def subset(self, indices: Tensor | list[int]) -> FeatureSet:
        """The samples at ``indices`` (in that order), keeping names, encoders and bad rows."""
        index = torch.as_tensor(indices, dtype=torch.long)
        positions = index.tolist()
        return replace(
            self,
            embeddings={name: tensor[index] for name, tensor in self.embeddings.items()},
            masks={name: mask[index] for name, mask in self.masks.items()},
            targets={task: target[index] for task, target in self.targets.items()},
            lines=[self.lines[i] for i in positions] if self.lines is not None else None,
            splits=[self.splits[i] for i in positions] if self.splits is not None else None,
        )

    def batch(self, indices: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
        """``(embeddings, masks, targets)`` dicts for the samples at ``indices``."""
        return (
            {name: tensor[indices] for name, tensor in self.embeddings.items()},
            {name: mask[indices] for name, mask in self.masks.items()},
            {task: target[indices] for task, target in self.targets.items()},
        )
