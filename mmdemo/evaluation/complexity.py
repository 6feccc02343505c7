"""What a head costs beside what it scores: parameters, training time, inference time, memory.

- parameters: trainable parameters;
- training seconds: wall time of its training (mean over seeds in a multi-seed run);
- inference time per sample: the best of three timed eval-mode forward passes over the scored
  samples (one batch, ``torch.no_grad``) divided by their number;
- peak memory: bytes of the tensors one training step keeps alive at its peak, on the CPU:
  parameters + gradients + optimiser state (AdamW: two moments) + the activations autograd saves
  for the backward pass of one batch (counted with ``torch.autograd.graph.saved_tensors_hooks``).
  torch has no peak-memory counter for the CPU and tracemalloc does not see torch's allocator, so
  this counts the tensors themselves; it is deterministic and comparable across strategies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.trainer import task_loss

OPTIMIZER_STATE_COPIES = {"adamw": 2, "adam": 2, "sgd": 1, "rmsprop": 2}
MEMORY_METHOD = "parameters + gradients + optimiser state + autograd-saved activations of one batch"


@dataclass
class Complexity:
    """Cost figures of one head (see the module docstring)."""

    strategy: str
    n_parameters: int
    train_seconds: float
    inference_ms_per_sample: float
    peak_memory_bytes: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _tensor_bytes(tensor: Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def step_memory_bytes(model: FusionClassifier, features: FeatureSet, indices: Tensor, optimizer: str = "adamw") -> int:
    """Peak bytes of one training step on the batch ``indices`` (see the module docstring)."""
    saved: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        saved.setdefault(id(tensor), _tensor_bytes(tensor))
        return tensor

    was_training = model.training
    model.train()
    embeddings, masks, targets = features.batch(indices)
    embeddings = {name: values for name, values in embeddings.items() if name in model.modalities}
    with torch.random.fork_rng(devices=[]), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = task_loss(model(embeddings, masks).logits, targets)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    del loss
    parameters = sum(_tensor_bytes(p) for p in model.parameters() if p.requires_grad)
    copies = OPTIMIZER_STATE_COPIES.get(optimizer.lower(), 2)
    return parameters * (2 + copies) + sum(saved.values())


@torch.no_grad()
def inference_ms_per_sample(model: FusionClassifier, features: FeatureSet, indices: Tensor, repeats: int = 3) -> float:
    """Milliseconds per sample of an eval-mode forward pass over the samples at ``indices``."""
    model.eval()
    embeddings, masks, _ = features.batch(indices)
    embeddings = {name: values for name, values in embeddings.items() if name in model.modalities}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model(embeddings, masks)
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best / max(len(indices), 1)


def measure_complexity(
    name: str, model: FusionClassifier, features: FeatureSet, indices: Tensor, *,
    train_seconds: float, batch: Tensor, optimizer: str = "adamw",
) -> Complexity:
    """All cost figures of ``model``: inference on ``indices``, memory of a step on ``batch``."""
    return Complexity(
        strategy=name,
        n_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        train_seconds=train_seconds,
        inference_ms_per_sample=inference_ms_per_sample(model, features, indices),
        peak_memory_bytes=step_memory_bytes(model, features, batch, optimizer),
    )
