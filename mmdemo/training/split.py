"""Train / validation / test split of a FeatureSet.

If the manifest has a ``split`` column those assignments are used (rows without one go to
train). Otherwise the split is random but stratified by the first task's label, reproducible from a
seed, and every class keeps at least one training sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mmdemo.errors import ConfigError
from mmdemo.training.dataset import FeatureSet


@dataclass
class DataSplit:
    """Sample indices (long tensors) of the three parts; ``val`` and ``test`` may be empty."""

    train: Tensor
    val: Tensor
    test: Tensor

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def to_dict(self) -> dict[str, list[int]]:
        return {"train": self.train.tolist(), "val": self.val.tolist(), "test": self.test.tolist()}


def split_features(
    features: FeatureSet,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> DataSplit:
    """Split ``features`` (see the module docstring). Raises ConfigError for bad fractions
    or when no training sample is left."""
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise ConfigError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be >= 0 and sum to less than 1"
        )
    if features.splits is not None and any(split is not None for split in features.splits):
        parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
        for index, split in enumerate(features.splits):
            parts[split or "train"].append(index)
        split = DataSplit(*(torch.tensor(parts[name], dtype=torch.long) for name in ("train", "val", "test")))
    else:
        split = _stratified(features, val_fraction, test_fraction, seed)
    if len(split.train) == 0:
        raise ConfigError(f"the split leaves no training samples (sizes {split.sizes()})")
    return split


def _stratified(features: FeatureSet, val_fraction: float, test_fraction: float, seed: int) -> DataSplit:
    generator = torch.Generator().manual_seed(seed)
    labels = next(iter(features.targets.values()))
    parts: dict[str, list[Tensor]] = {"train": [], "val": [], "test": []}
    for value in torch.unique(labels).tolist():
        members = torch.nonzero(labels == value).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        while n_test + n_val >= len(members) and n_test + n_val > 0:
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    # Sorted indices keep the parts in file order; training shuffles per epoch anyway.
    return DataSplit(*(torch.sort(torch.cat(parts[name])).values for name in ("train", "val", "test")))
