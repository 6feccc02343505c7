"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mmdemo.training.metrics import accuracy, auroc, binary_auroc, classification_metrics, confusion_matrix, macro_f1

TARGETS = torch.tensor([0, 0, 1, 1, 2, 2, -1])  # the last sample is unlabelled and ignored
PREDICTIONS = torch.tensor([0, 1, 1, 1, 0, 2, 0])


def test_accuracy_ignores_unlabelled_samples() -> None:
    assert accuracy(TARGETS, PREDICTIONS) == pytest.approx(4 / 6)
    assert math.isnan(accuracy(torch.tensor([-1]), torch.tensor([0])))


def test_confusion_matrix_rows_are_true_classes() -> None:
    assert confusion_matrix(TARGETS, PREDICTIONS, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_macro_f1_by_hand() -> None:
    # class 0: TP 1, FP 1, FN 1 -> 0.5; class 1: TP 2, FP 1, FN 0 -> 0.8; class 2: TP 1, FP 0, FN 1 -> 2/3
    assert macro_f1(TARGETS, PREDICTIONS, 3) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # Classes absent from both targets and predictions are left out of the average.
    assert macro_f1(torch.tensor([0, 0]), torch.tensor([0, 0]), 3) == pytest.approx(1.0)
    assert macro_f1(torch.tensor([0, 1]), torch.tensor([1, 1]), 2) == pytest.approx((0.0 + 2 / 3) / 2)


def test_binary_auroc_by_hand_including_ties() -> None:
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 3 of 4 pairs ranked correctly
    assert binary_auroc(torch.tensor([False, False, True, True]), torch.tensor([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    # positives 0.5, 0.9 vs negatives 0.5, 0.1: 3 correct pairs + one tie counted half
    assert binary_auroc(torch.tensor([False, True, True, False]), torch.tensor([0.5, 0.5, 0.9, 0.1])) == pytest.approx(0.875)
    assert math.isnan(binary_auroc(torch.tensor([True, True]), torch.tensor([0.1, 0.2])))


def test_multiclass_auroc_is_the_mean_over_defined_classes() -> None:
    probabilities = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1]])
    targets = torch.tensor([0, 1, 0, 1])
    # class 0: 1.0; class 1: 3/4; class 2 has no positive sample and is skipped
    assert auroc(targets, probabilities) == pytest.approx(0.875)
    binary = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    assert auroc(torch.tensor([0, 1, 0, 1]), binary) == pytest.approx(0.5)


def test_classification_metrics_bundle() -> None:
    probabilities = torch.nn.functional.one_hot(PREDICTIONS, 3).float() * 0.8 + 0.2 / 3
    metrics = classification_metrics(TARGETS, probabilities, ["a", "b", "c"])
    assert metrics.n == 6
    assert metrics.accuracy == pytest.approx(4 / 6)
    assert metrics.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.labels == ["a", "b", "c"]
    assert 0.0 <= metrics.auroc <= 1.0
    assert metrics.to_dict()["n"] == 6
    undefined = classification_metrics(torch.tensor([1, 1]), torch.tensor([[0.2, 0.8], [0.6, 0.4]]), ["x", "y"])
    assert undefined.to_dict()["auroc"] is None
