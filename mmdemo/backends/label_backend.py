"""The offline preset's label-based caption and VQA "models": no weights of their own.

``conse-caption`` and ``conse-vqa`` read the ImageNet classes of the ConSE model named by
``spec.text_model`` (loaded once by :mod:`mmdemo.generate` through the loading cache, shared with
the image-text role); :mod:`mmdemo.label_answers` turns those classes into captions and answers.
Loading one of them loads nothing: it records which image-text model it reads.
"""

from __future__ import annotations

import torch

from mmdemo.backends.base import LoadedModel, checkpoint_available_offline, no_speedups
from mmdemo.registry import OFFLINE_IMAGE_TEXT, ModelSpec


GENERATIVE = True  # the caption and vqa roles: text comes out (built from labels)
SPEEDUPS: dict[str, str] = {}  # no load-time speed-ups (it runs no model of its own: it reads offline-conse)


speedups_for = no_speedups
available_offline = checkpoint_available_offline  # the package folder holding the weights exists


def load(
    spec: ModelSpec, device: torch.device, dtype: torch.dtype, speedups: tuple[str, ...] = ()
) -> LoadedModel:
    return LoadedModel(
        spec, torch.nn.Identity(), None, None, device, dtype,
        extras={"speedups": (), "image_text_model": spec.text_model or OFFLINE_IMAGE_TEXT},
    )
