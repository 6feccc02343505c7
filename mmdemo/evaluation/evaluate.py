"""Scoring a trained classifier on a set of samples, optionally with modalities removed."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mmdemo.errors import IncompatibleError
from mmdemo.training.metrics import ClassificationMetrics, classification_metrics
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.training.dataset import FeatureSet

EVAL_BATCH = 1024


@dataclass
class ModelEvaluation:
    """A classifier's outputs and scores on a set of samples.

    Attributes:
        metrics: task -> metrics.
        probabilities: task -> ``[n, C]`` class probabilities.
        targets: task -> ``[n]`` targets (-1 = unlabelled).
        fused: ``[n, out_dim]`` fused vectors (what the 2-D map projects).
        removed: modalities masked out for every sample (empty for the full model).
    """

    metrics: dict[str, ClassificationMetrics]
    probabilities: dict[str, Tensor]
    targets: dict[str, Tensor]
    fused: Tensor
    removed: tuple[str, ...] = ()


def check_compatible(model: FusionClassifier, features: FeatureSet) -> None:
    """IncompatibleError unless the features have the model's modalities (dims) and tasks."""
    for name in model.modalities:
        expected = model.fusion.config.modalities[name]
        if name in features.dims and features.dims[name] != expected:
            raise IncompatibleError(f"features {name!r} have dim {features.dims[name]}; the model expects {expected}")
    if not set(model.modalities) & set(features.modalities):
        raise IncompatibleError(f"the features have {features.modalities}; the model uses {model.modalities}")
    missing = [task for task in model.tasks if task not in features.targets]
    if missing:
        raise IncompatibleError(f"the features have no labels for task(s) {missing}; they have {list(features.targets)}")
    for task, classes in model.tasks.items():
        if len(features.label_names[task]) != classes:
            raise IncompatibleError(
                f"task {task!r} has {len(features.label_names[task])} classes in the features, {classes} in the model"
            )


@torch.no_grad()
def evaluate_model(
    model: FusionClassifier,
    features: FeatureSet,
    indices: Tensor | None = None,
    *,
    removed: tuple[str, ...] = (),
) -> ModelEvaluation:
    """Score ``model`` on the samples at ``indices`` (default: all) with ``removed`` modalities
    masked out. Modalities the features lack are absent for every sample."""
    check_compatible(model, features)
    model.eval()
    if indices is None:
        indices = torch.arange(len(features))
    embeddings_all = {name: features.embeddings[name] for name in model.modalities if name in features.embeddings}
    fused, logits = [], {task: [] for task in model.tasks}
    for start in range(0, len(indices), EVAL_BATCH):
        chunk = indices[start : start + EVAL_BATCH]
        embeddings = {name: values[chunk] for name, values in embeddings_all.items()}
        masks = {name: features.masks[name][chunk] for name in embeddings}
        for name in removed:
            masks[name] = torch.zeros(len(chunk), dtype=torch.bool)
        out = model(embeddings, masks)
        fused.append(out.fused)
        for task, task_logits in out.logits.items():
            logits[task].append(task_logits)
    probabilities = {task: torch.cat(parts).softmax(dim=1) for task, parts in logits.items()}
    targets = {task: features.targets[task][indices] for task in model.tasks}
    metrics = {
        task: classification_metrics(targets[task], probabilities[task], features.label_names[task]) for task in model.tasks
    }
    return ModelEvaluation(
        metrics=metrics, probabilities=probabilities, targets=targets, fused=torch.cat(fused), removed=tuple(removed)
    )


@torch.no_grad()
def mean_contributions(model: FusionClassifier, features: FeatureSet, indices: Tensor | None = None) -> dict[str, float]:
    """Average per-modality contribution over the samples where each modality is present."""
    if indices is None:
        indices = torch.arange(len(features))
    model.eval()
    embeddings = {name: features.embeddings[name][indices] for name in model.modalities if name in features.embeddings}
    masks = {name: features.masks[name][indices] for name in embeddings}
    contributions = model.contributions(embeddings, masks)
    result = {}
    for column, name in enumerate(contributions.modalities):
        present = masks.get(name)
        if present is None or not present.any():
            result[name] = 0.0
        else:
            result[name] = float(contributions.values[present, column].mean())
    return result
