"""Training fusion heads: manifest -> features -> trained heads -> saved folders.

- :mod:`~mmdemo.training.manifest`: CSV / JSONL manifests with bad-row reporting;
- :mod:`~mmdemo.training.features`: embedding a manifest through the backend encoders;
- :mod:`~mmdemo.training.dataset`: :class:`FeatureSet`, the tensors heads train on;
- :mod:`~mmdemo.training.split`: train / validation / test split;
- :mod:`~mmdemo.training.trainer`: :class:`TrainConfig`, :func:`train_heads`;
- :mod:`~mmdemo.training.fewshot`: prototype classifier and linear probe from k shots;
- :mod:`~mmdemo.training.head`: :class:`FusionHead` save / load / predict from raw inputs;
- :mod:`~mmdemo.training.synthetic`: synthetic tasks with known structure;
- :mod:`~mmdemo.training.metrics`: accuracy, macro-F1, AUROC, confusion matrix;
- :mod:`~mmdemo.training.sources`: where a run's manifest comes from (a file, a zip, the bundled world).

The whole run (features, heads, comparison, report) is :func:`mmdemo.lab.run_training`, above
this package and :mod:`mmdemo.evaluation`.
"""

from mmdemo.training.baselines import baseline_name, single_modality, train_baseline
from mmdemo.training.dataset import EncoderInfo, FeatureSet
from mmdemo.training.features import FeatureProgress, extract_features
from mmdemo.training.fewshot import FewShotConfig, FewShotResult, LinearProbe, PrototypeClassifier, run_few_shot
from mmdemo.training.head import FusionHead, HeadPrediction
from mmdemo.training.manifest import BadRow, Manifest, ManifestRow, read_manifest
from mmdemo.errors import ManifestError
from mmdemo.training.split import DataSplit, split_features
from mmdemo.training.synthetic import SYNTHETIC_TASKS, make_synthetic
from mmdemo.training.trainer import (
    EpochRecord,
    TrainConfig,
    TrainProgress,
    TrainResult,
    config_split,
    train_head,
    train_heads,
)

__all__ = [
    "baseline_name",
    "single_modality",
    "train_baseline",
    "SYNTHETIC_TASKS",
    "BadRow",
    "DataSplit",
    "EncoderInfo",
    "EpochRecord",
    "FeatureProgress",
    "FeatureSet",
    "FewShotConfig",
    "FewShotResult",
    "FusionHead",
    "HeadPrediction",
    "LinearProbe",
    "Manifest",
    "ManifestError",
    "ManifestRow",
    "PrototypeClassifier",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "config_split",
    "extract_features",
    "make_synthetic",
    "read_manifest",
    "run_few_shot",
    "split_features",
    "train_head",
    "train_heads",
]
