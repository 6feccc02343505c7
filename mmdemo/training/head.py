"""A trained fusion head as a folder, and prediction from raw inputs.

A head folder holds ``weights.safetensors`` (the classifier's state dict) and ``head.json``: the
format version, fusion strategy and config, label names per task, the encoder of each modality
(registry name, embedding space, dim), the training settings, the per-epoch history and test
metrics. :meth:`FusionHead.predict` embeds raw inputs with the recorded encoders and returns label
probabilities and per-modality contributions in one call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import Tensor

import mmdemo.encoders
from mmdemo.errors import ConfigError
from mmdemo.errors import IncompatibleError, MediaError
from mmdemo.errors import UnknownStrategyError
from mmdemo.fusion.classifier import FusionClassifier
from mmdemo.fusion.config import FusionConfig
from mmdemo.fusion.registry import build_fusion
from mmdemo.storage import load_tensors, read_json, save_tensors_atomic, write_json_atomic
from mmdemo.training.dataset import EncoderInfo
from mmdemo.training.trainer import EpochRecord, TrainConfig, TrainResult

HEAD_FORMAT = "mmdemo-fusion-head"
HEAD_VERSION = 1
CONFIG_FILE = "head.json"
WEIGHTS_FILE = "weights.safetensors"


@dataclass
class HeadPrediction:
    """What a head says about one input.

    Attributes:
        probabilities: task -> label -> probability.
        labels: task -> most probable label.
        contributions: modality -> contribution to the prediction of ``task`` (absent: 0).
        contribution_kind: ``"gate"``, ``"attention"`` or ``"ablation"`` (see
            :class:`~mmdemo.fusion.classifier.Contributions`).
        task: the task the contributions explain.
        used: the modalities that were given.
        transcript: what a speech-road audio model heard, if any.
    """

    probabilities: dict[str, dict[str, float]]
    labels: dict[str, str]
    contributions: dict[str, float]
    contribution_kind: str
    task: str
    used: list[str]
    transcript: str | None = None


@dataclass
class FusionHead:
    """A trained classifier with everything needed to use it on raw inputs.

    Attributes:
        model: the classifier (kept in eval mode).
        label_names: task -> class names.
        encoders: modality -> encoder info; empty for heads trained on precomputed features.
        train_config: the training settings (None if unknown).
        history: per-epoch training history.
        metrics: task -> test metrics (``ClassificationMetrics.to_dict()`` values), if evaluated.
        train_seconds: training time (None if unknown).
        best_epoch: the epoch whose weights the head holds (None if unknown).
        created: ISO time of creation.
    """

    model: FusionClassifier
    label_names: dict[str, list[str]]
    encoders: dict[str, EncoderInfo] = field(default_factory=dict)
    train_config: TrainConfig | None = None
    history: list[EpochRecord] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    train_seconds: float | None = None
    best_epoch: int | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        self.model.eval()

    @classmethod
    def from_result(cls, result: TrainResult, metrics: dict[str, Any] | None = None) -> FusionHead:
        """The head of a training run (``metrics``: optional task -> metrics dict to record)."""
        return cls(
            model=result.model,
            label_names=result.label_names,
            encoders=result.encoders,
            train_config=result.config,
            history=list(result.history),
            metrics=dict(metrics or {}),
            train_seconds=result.seconds,
            best_epoch=result.best_epoch,
        )

    @property
    def strategy(self) -> str:
        return self.model.strategy

    @property
    def fusion_config(self) -> FusionConfig:
        return self.model.fusion.config

    @property
    def modalities(self) -> list[str]:
        return self.model.modalities

    # ---- persistence -------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``weights.safetensors`` then ``head.json`` into ``folder`` (atomically each)."""
        folder = Path(folder)
        save_tensors_atomic(folder / WEIGHTS_FILE, dict(self.model.state_dict()), metadata={"format": HEAD_FORMAT})
        write_json_atomic(
            folder / CONFIG_FILE,
            {
                "format": HEAD_FORMAT,
                "version": HEAD_VERSION,
                "created": self.created,
                "strategy": self.strategy,
                "fusion": self.fusion_config.to_dict(),
                "label_names": self.label_names,
                "encoders": {name: info.to_dict() for name, info in self.encoders.items()},
                "training": self.train_config.to_dict() if self.train_config else None,
                "history": [record.to_dict() for record in self.history],
                "metrics": self.metrics,
                "train_seconds": self.train_seconds,
                "best_epoch": self.best_epoch,
            },
        )
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FusionHead:
        """Load a head saved by :meth:`save`; IncompatibleError if it is missing or another format."""
        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise IncompatibleError(f"{folder} is not a fusion head folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
        data = read_json(folder / CONFIG_FILE)
        if data.get("format") != HEAD_FORMAT or data.get("version") != HEAD_VERSION:
            raise IncompatibleError(
                f"{folder / CONFIG_FILE} has format {data.get('format')!r} version {data.get('version')!r}; "
                f"this mmdemo reads {HEAD_FORMAT!r} version {HEAD_VERSION}"
            )
        try:
            label_names = {task: list(names) for task, names in data["label_names"].items()}
            fusion = build_fusion(data["strategy"], FusionConfig.from_dict(data["fusion"]))
            model = FusionClassifier(fusion, {task: len(names) for task, names in label_names.items()}, data["strategy"])
            model.load_state_dict(load_tensors(folder / WEIGHTS_FILE), strict=True)
            training = TrainConfig.from_dict(data["training"]) if data.get("training") else None
            history = [EpochRecord(**record) for record in data.get("history", [])]
        except (KeyError, TypeError, RuntimeError, SafetensorError, ConfigError, UnknownStrategyError) as err:
            raise IncompatibleError(f"cannot load the fusion head in {folder}: {err}") from err
        return cls(
            model=model,
            label_names=label_names,
            encoders={name: EncoderInfo.from_dict(info) for name, info in data.get("encoders", {}).items()},
            train_config=training,
            history=history,
            metrics=data.get("metrics", {}),
            train_seconds=data.get("train_seconds"),
            best_epoch=data.get("best_epoch"),
            created=data.get("created", ""),
        )

    # ---- prediction --------------------------------------------------------------------------

    @torch.no_grad()
    def predict_embeddings(self, embeddings: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Class probabilities per task ``[B, C]`` for a batch of precomputed embeddings."""
        return self.model.probabilities(embeddings, mask)

    def embed(self, text: str | None = None, image: Any = None, audio: Any = None) -> tuple[dict[str, Tensor], str | None]:
        """Embed raw inputs with the head's encoders: ``({modality: [1, D]}, transcript)``.

        Raises IncompatibleError when the head has no encoder for a given modality or when an
        encoder's space or dimension differs from the one the head was trained on.
        """
        given = {name: value for name, value in (("text", text), ("image", image), ("audio", audio)) if value is not None}
        if not given:
            raise MediaError(f"Nothing to classify: give at least one of {', '.join(self.modalities)}")
        if not self.encoders:
            raise IncompatibleError(
                "this head was trained on precomputed features and records no encoders; use predict_embeddings()"
            )
        extra = [name for name in given if name not in self.encoders]
        if extra:
            raise IncompatibleError(
                f"this {self.strategy} head has no {', '.join(extra)} input; it uses: {', '.join(self.encoders)}"
            )
        embeddings, transcript = {}, None
        for name, value in given.items():
            info = self.encoders[name]
            output = mmdemo.encoders.embed(name, [value], model=info.model)
            if output.space != info.space or output.embeddings.shape[1] != info.dim:
                raise IncompatibleError(
                    f"{name} encoder {info.model!r} now gives space {output.space!r} dim {output.embeddings.shape[1]}; "
                    f"the head was trained on space {info.space!r} dim {info.dim}"
                )
            embeddings[name] = output.embeddings  # [1, D]
            if output.transcripts:
                transcript = output.transcripts[0]
        return embeddings, transcript

    def predict(self, text: str | None = None, image: Any = None, audio: Any = None, *, task: str | None = None) -> HeadPrediction:
        """Label probabilities and modality contributions for one raw input (any subset of modalities).

        ``task`` selects the task whose prediction the contributions explain (default: the first).
        """
        embeddings, transcript = self.embed(text=text, image=image, audio=audio)
        probabilities = self.predict_embeddings(embeddings)
        contributions = self.model.contributions(embeddings, task=task)
        task = contributions.task or task or next(iter(self.label_names))
        return HeadPrediction(
            probabilities={
                name: dict(zip(self.label_names[name], probs[0].tolist())) for name, probs in probabilities.items()
            },
            labels={name: self.label_names[name][int(probs[0].argmax())] for name, probs in probabilities.items()},
            contributions=contributions.as_dicts()[0],
            contribution_kind=contributions.kind,
            task=task,
            used=list(embeddings),
            transcript=transcript,
        )
