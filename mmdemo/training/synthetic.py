"""Synthetic two-modality classification tasks with a known structure.

Used by the tests, the ``--synthetic`` option of ``python -m mmdemo train`` and the Fusion Lab
demo to show when fusion strategies differ:

- ``"additive"``: the label is ``u.a + v.b > 0``: each modality adds evidence, so every
  strategy (even a linear model on the concatenation) can learn it.
- ``"xor"``: the label is ``(u.a > 0) XOR (v.b > 0)``: only the interaction of the two modalities
  carries the label, so a linear model on the concatenation stays at chance while multiplicative
  strategies (TFN, LMF, attention, FiLM) learn it.
- ``"first_only"``: the label is ``u.a > 0``: only the first modality is informative, the others
  are pure noise, so a baseline on the first modality alone can match any fused strategy.

``a`` and ``b`` are Gaussian vectors of the first two modalities (later modalities are pure noise
distractors); every embedding is L2-normalised like real encoder outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmdemo.errors import ConfigError
from mmdemo.training.dataset import FeatureSet

SYNTHETIC_TASKS = ("additive", "xor", "first_only")


def make_synthetic(
    task: str = "xor",
    n: int = 2000,
    *,
    dims: dict[str, int] | None = None,
    missing: float = 0.0,
    seed: int = 0,
) -> FeatureSet:
    """A synthetic FeatureSet with one binary task ``"label"`` (classes ``negative``/``positive``).

    Args:
        task: ``"additive"``, ``"xor"`` or ``"first_only"`` (see the module docstring).
        n: number of samples.
        dims: modality -> dim; at least two modalities (default ``{"image": 16, "text": 16}``).
        missing: probability that each modality is absent from a sample (a sample always keeps
            one); absent embeddings are zeroed.
        seed: the random seed; the same seed gives the same data.
    """
    if task not in SYNTHETIC_TASKS:
        raise ConfigError(f"unknown synthetic task {task!r}; valid: {', '.join(SYNTHETIC_TASKS)}")
    dims = dict(dims or {"image": 16, "text": 16})
    if len(dims) < 2:
        raise ConfigError(f"synthetic tasks need at least two modalities, got {list(dims)}")
    if not 0.0 <= missing < 1.0:
        raise ConfigError(f"missing must be in [0, 1), got {missing!r}")
    generator = torch.Generator().manual_seed(seed)
    raw = {name: torch.randn(n, dim, generator=generator) for name, dim in dims.items()}
    first, second = list(dims)[:2]
    u = F.normalize(torch.randn(dims[first], generator=generator), dim=0)
    v = F.normalize(torch.randn(dims[second], generator=generator), dim=0)
    score_a = raw[first] @ u  # [N]
    score_b = raw[second] @ v  # [N]
    if task == "additive":
        label = (score_a + score_b > 0).long()
    elif task == "first_only":
        label = (score_a > 0).long()
    else:
        label = ((score_a > 0) ^ (score_b > 0)).long()
    present = torch.rand(n, len(dims), generator=generator) >= missing  # [N, M]
    keep = torch.randint(len(dims), (n,), generator=generator)
    present[torch.arange(n), keep] |= ~present.any(dim=1)  # never drop every modality
    masks = {name: present[:, index] for index, name in enumerate(dims)}
    embeddings = {name: F.normalize(raw[name], dim=1) * masks[name][:, None] for name in dims}
    return FeatureSet.from_tensors(
        embeddings,
        {"label": label},
        masks=masks,
        label_names={"label": ["negative", "positive"]},
        source=f"synthetic:{task}",
    )
