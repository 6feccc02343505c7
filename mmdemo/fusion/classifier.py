"""A fusion module with one linear classifier head per label column (multi-task).

:class:`FusionClassifier` is the model a training run produces and a saved head stores. Besides
logits it measures per-modality contributions: the strategy's own gate or attention weights where
it has them, otherwise the drop in the predicted class's probability when the modality is removed
(masked out), computed one modality at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mmdemo.errors import IncompatibleError
from mmdemo.fusion.base import FusionModule


@dataclass
class ClassifierOutput:
    """Outputs for a batch: fused vectors ``[B, out_dim]``, logits per task ``[B, C_task]`` and the
    fusion module's own per-modality weights ``[B, M]`` (or None)."""

    fused: Tensor
    logits: dict[str, Tensor]
    weights: Tensor | None


@dataclass
class Contributions:
    """Per-modality contributions for a batch.

    Attributes:
        kind: ``"gate"`` (GMU gate values), ``"attention"`` ([CLS] attention weights) or
            ``"ablation"`` (predicted-class probability with all present modalities minus the
            same probability with this modality removed; may be negative).
        modalities: column names of ``values``, in the fusion module's order.
        values: ``[B, M]``; 0 for modalities absent from a sample.
        task: the task whose prediction the ablation explains (None for gate/attention).
    """

    kind: str
    modalities: list[str]
    values: Tensor
    task: str | None = None

    def as_dicts(self) -> list[dict[str, float]]:
        """One ``{modality: value}`` dict per sample."""
        return [dict(zip(self.modalities, row.tolist())) for row in self.values]


def task_head(width: int, classes: int, hidden_layers: int) -> nn.Module:
    """One task's classifier over the fused vector: ``Linear(width, classes)`` after
    ``hidden_layers`` Linear-ReLU layers of that width (0: the linear layer alone, as saved heads
    before ``head_layers`` existed have it)."""
    if hidden_layers == 0:
        return nn.Linear(width, classes)
    layers: list[nn.Module] = []
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, classes))


class FusionClassifier(nn.Module):
    """Fusion module + one classifier head per task (``Linear(out_dim, n_classes)``, after
    ``head_layers`` hidden layers when the fusion config asks for them: :func:`task_head`).

    Args:
        fusion: any FusionModule.
        tasks: task (label column) name -> number of classes, in a fixed order.
        strategy: the registry name of the fusion strategy (recorded for saving and reports).
    """

    def __init__(self, fusion: FusionModule, tasks: dict[str, int], strategy: str) -> None:
        super().__init__()
        if not tasks:
            raise IncompatibleError("a classifier needs at least one task (label column)")
        for task, classes in tasks.items():
            if classes < 2:
                raise IncompatibleError(f"task {task!r} has {classes} class(es); a classifier needs at least 2")
        self.fusion = fusion
        self.strategy = strategy
        self.tasks = dict(tasks)
        layers = 0 if fusion.linear_head_only else fusion.config.head_layers
        self.heads = nn.ModuleDict({task: task_head(fusion.out_dim, classes, layers) for task, classes in tasks.items()})

    @property
    def modalities(self) -> list[str]:
        """Modality names in the fusion module's order."""
        return self.fusion.modalities

    def forward(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> ClassifierOutput:
        out = self.fusion.fuse(embeddings, mask)
        logits = {task: head(out.fused) for task, head in self.heads.items()}
        return ClassifierOutput(fused=out.fused, logits=logits, weights=out.weights)

    def probabilities(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Softmax probabilities per task ``[B, C_task]``."""
        return {task: logits.softmax(dim=1) for task, logits in self(embeddings, mask).logits.items()}

    @torch.no_grad()
    def contributions(
        self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None, task: str | None = None
    ) -> Contributions:
        """Per-modality contributions for a batch (see :class:`Contributions`).

        Call in eval mode for deterministic values. ``task`` (default: the first task) selects the
        prediction explained by ablation.
        """
        task = task or next(iter(self.tasks))
        if task not in self.tasks:
            raise IncompatibleError(f"unknown task {task!r}; valid: {', '.join(self.tasks)}")
        full = self(embeddings, mask)
        present = self.fusion.prepare(embeddings, mask).present  # [B, M]
        kind = self.fusion.contribution_kind
        if kind != "ablation" and full.weights is not None:
            return Contributions(kind=kind, modalities=list(self.modalities), values=full.weights * present)
        probs = full.logits[task].softmax(dim=1)  # [B, C]
        predicted = probs.argmax(dim=1, keepdim=True)  # [B, 1]
        p_full = probs.gather(1, predicted).squeeze(1)  # [B]
        columns = []
        for index, name in enumerate(self.modalities):
            reduced = {key: value.clone() for key, value in (mask or {}).items()}
            reduced[name] = torch.zeros(present.shape[0], dtype=torch.bool, device=present.device)
            p_without = self.probabilities(embeddings, reduced)[task].gather(1, predicted).squeeze(1)  # [B]
            columns.append((p_full - p_without) * present[:, index])
        return Contributions(kind="ablation", modalities=list(self.modalities), values=torch.stack(columns, dim=1), task=task)
