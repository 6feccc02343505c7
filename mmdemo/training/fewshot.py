"""Few-shot classification from k labelled examples per class.

Two classifiers work on one vector per sample: the concatenation of the chosen modalities'
embeddings, each L2-normalised (absent modalities contribute zeros):

- :class:`PrototypeClassifier`: nearest class mean by cosine similarity; probabilities are a
  softmax of the similarities divided by a temperature.
- :class:`LinearProbe`: multinomial logistic regression trained full-batch with L2 regularisation.

:func:`run_few_shot` samples the support set (k per class, seeded), fits one of them and scores it
on the remaining labelled samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdemo.training.metrics import ClassificationMetrics, classification_metrics
from mmdemo.errors import ConfigError
from mmdemo.training.dataset import FeatureSet
from mmdemo.training.threads import torch_threads

FEW_SHOT_METHODS = ("prototype", "linear_probe")


@dataclass
class FewShotConfig:
    """Settings of a few-shot run.

    Attributes:
        k: labelled examples per class in the support set (default 5).
        method: ``"prototype"`` (default) or ``"linear_probe"``.
        task: the label column to classify (default: the first).
        modalities: modalities to use (default: all).
        seed: seed of the support sampling and the probe's initialisation (default 0).
        temperature: softmax temperature of the prototype classifier's cosine similarities (0.1).
        probe_steps: full-batch optimisation steps of the linear probe (default 200).
        probe_lr: Adam learning rate of the linear probe (default 0.05).
        probe_l2: L2 penalty on the probe's weights (default 1e-3).
    """

    k: int = 5
    method: str = "prototype"
    task: str | None = None
    modalities: list[str] | None = None
    seed: int = 0
    temperature: float = 0.1
    probe_steps: int = 200
    probe_lr: float = 0.05
    probe_l2: float = 1e-3

    def validate(self) -> FewShotConfig:
        if self.method not in FEW_SHOT_METHODS:
            raise ConfigError(f"unknown few-shot method {self.method!r}; valid: {', '.join(FEW_SHOT_METHODS)}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be a positive integer, got {self.k!r}")
        if self.temperature <= 0 or self.probe_steps < 1 or self.probe_lr <= 0 or self.probe_l2 < 0:
            raise ConfigError("temperature, probe_steps and probe_lr must be positive and probe_l2 >= 0")
        return self


def few_shot_vectors(features: FeatureSet, modalities: list[str] | None = None) -> Tensor:
    """``[N, sum D_m]``: per-modality L2-normalised embeddings, concatenated (absent: zeros)."""
    names = modalities or features.modalities
    unknown = [name for name in names if name not in features.embeddings]
    if unknown:
        raise ConfigError(f"unknown modality {unknown}; valid: {', '.join(features.modalities)}")
    parts = [F.normalize(features.embeddings[name], dim=1) * features.masks[name][:, None] for name in names]
    return torch.cat(parts, dim=1)  # [N, sum D_m]


class PrototypeClassifier:
    """Nearest class mean (cosine similarity) classifier."""

    def __init__(self, temperature: float = 0.1) -> None:
        self.temperature = temperature
        self.prototypes: Tensor | None = None

    def fit(self, vectors: Tensor, targets: Tensor, n_classes: int) -> PrototypeClassifier:
        """Store the normalised mean of each class's vectors (``[C, F]``)."""
        counts = torch.bincount(targets, minlength=n_classes)
        if (counts == 0).any():
            missing = torch.nonzero(counts == 0).squeeze(1).tolist()
            raise ConfigError(f"no support example for class indices {missing}")
        sums = torch.zeros(n_classes, vectors.shape[1]).index_add_(0, targets, vectors)  # [C, F]
        self.prototypes = F.normalize(sums / counts[:, None], dim=1)
        return self

    def predict_proba(self, vectors: Tensor) -> Tensor:
        """``[N, C]`` softmax of cosine similarity / temperature."""
        if self.prototypes is None:
            raise RuntimeError("PrototypeClassifier.fit() must be called before predict_proba()")
        similarity = F.normalize(vectors, dim=1) @ self.prototypes.T  # [N, C]
        return (similarity / self.temperature).softmax(dim=1)


class LinearProbe:
    """Multinomial logistic regression trained full-batch with Adam and an L2 penalty."""

    def __init__(self, steps: int = 200, lr: float = 0.05, l2: float = 1e-3, seed: int = 0) -> None:
        self.steps, self.lr, self.l2, self.seed = steps, lr, l2, seed
        self.linear: torch.nn.Linear | None = None

    def fit(self, vectors: Tensor, targets: Tensor, n_classes: int) -> LinearProbe:
        """Train on ``vectors`` ``[N, F]`` and ``targets`` ``[N]`` (single-threaded: the problem is tiny)."""
        with torch_threads(1), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            linear = torch.nn.Linear(vectors.shape[1], n_classes)
            optimizer = torch.optim.Adam(linear.parameters(), lr=self.lr)
            for _ in range(self.steps):
                loss = F.cross_entropy(linear(vectors), targets) + self.l2 * linear.weight.pow(2).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.linear = linear.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, vectors: Tensor) -> Tensor:
        """``[N, C]`` class probabilities."""
        if self.linear is None:
            raise RuntimeError("LinearProbe.fit() must be called before predict_proba()")
        return self.linear(vectors).softmax(dim=1)


@dataclass
class FewShotResult:
    """A fitted few-shot classifier and its scores on the non-support samples.

    Attributes:
        method, k, task: the settings used.
        support: indices of the support samples (k per class).
        query: indices of the scored samples (every other labelled sample).
        metrics: scores on ``query`` (None when no sample is left to score).
        classifier: the fitted PrototypeClassifier or LinearProbe.
        modalities: modalities whose embeddings form the vectors.
    """

    method: str
    k: int
    task: str
    support: Tensor
    query: Tensor
    metrics: ClassificationMetrics | None
    classifier: PrototypeClassifier | LinearProbe
    modalities: list[str]


def sample_support(targets: Tensor, k: int, n_classes: int, seed: int = 0, label_names: list[str] | None = None) -> Tensor:
    """Indices of ``k`` random labelled samples of each class (sorted). ConfigError if a class has fewer."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in range(n_classes):
        members = torch.nonzero(targets == cls).squeeze(1)
        if len(members) < k:
            name = label_names[cls] if label_names else str(cls)
            raise ConfigError(f"class {name!r} has {len(members)} labelled example(s); k={k} needs at least {k}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.sort(torch.cat(chosen)).values


def run_few_shot(features: FeatureSet, config: FewShotConfig | None = None) -> FewShotResult:
    """Sample k examples per class, fit the configured classifier, score it on the other samples."""
    config = (config or FewShotConfig()).validate()
    task = config.task or next(iter(features.targets))
    if task not in features.targets:
        raise ConfigError(f"unknown task {task!r}; valid: {', '.join(features.targets)}")
    modalities = list(config.modalities or features.modalities)
    vectors = few_shot_vectors(features, modalities)
    targets = features.targets[task]
    labels = features.label_names[task]
    support = sample_support(targets, config.k, len(labels), config.seed, labels)
    is_query = targets >= 0
    is_query[support] = False
    query = torch.nonzero(is_query).squeeze(1)
    if config.method == "prototype":
        classifier: PrototypeClassifier | LinearProbe = PrototypeClassifier(config.temperature)
    else:
        classifier = LinearProbe(config.probe_steps, config.probe_lr, config.probe_l2, config.seed)
    classifier.fit(vectors[support], targets[support], len(labels))
    metrics = (
        classification_metrics(targets[query], classifier.predict_proba(vectors[query]), labels) if len(query) else None
    )
    return FewShotResult(
        method=config.method, k=config.k, task=task, support=support, query=query,
        metrics=metrics, classifier=classifier, modalities=modalities,
    )
