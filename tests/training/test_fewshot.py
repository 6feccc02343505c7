"""Few-shot classifiers from k labelled examples per class."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmdemo.fusion import ConfigError
from mmdemo.training import FeatureSet, FewShotConfig, PrototypeClassifier, run_few_shot
from mmdemo.training.fewshot import few_shot_vectors, sample_support


def clusters(n_per_class: int = 30, seed: int = 0) -> FeatureSet:
    """Three well-separated classes in the image modality; text is noise."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(3, 6) * 4
    labels = torch.arange(3).repeat_interleave(n_per_class)
    image = centres[labels] + 0.3 * torch.randn(len(labels), 6, generator=generator)
    text = torch.randn(len(labels), 4, generator=generator)
    return FeatureSet.from_tensors(
        {"image": image, "text": text}, labels, label_names={"label": ["red", "green", "blue"]}
    )


def test_prototypes_are_normalised_class_means() -> None:
    vectors = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    classifier = PrototypeClassifier(temperature=0.5).fit(vectors, torch.tensor([0, 0, 1]), 2)
    torch.testing.assert_close(classifier.prototypes, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    probs = classifier.predict_proba(torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(probs, torch.tensor([[0.5, 0.5]]))
    cos = F.cosine_similarity(torch.tensor([[2.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    expected = (cos / 0.5).softmax(dim=0)
    torch.testing.assert_close(classifier.predict_proba(torch.tensor([[2.0, 1.0]]))[0], expected)


@pytest.mark.parametrize("method", ["prototype", "linear_probe"])
def test_few_shot_classifiers_separate_clear_clusters(method: str) -> None:
    features = clusters()
    result = run_few_shot(features, FewShotConfig(k=3, method=method, modalities=["image"]))
    assert len(result.support) == 9
    assert torch.bincount(features.targets["label"][result.support]).tolist() == [3, 3, 3]
    assert len(result.query) == 90 - 9
    assert not set(result.support.tolist()) & set(result.query.tolist())
    assert result.metrics.accuracy >= 0.95
    assert result.metrics.labels == ["red", "green", "blue"]


def test_support_sampling_is_seeded_and_checks_class_sizes() -> None:
    targets = torch.tensor([0, 0, 0, 1, 1, -1])
    first = sample_support(targets, 2, 2, seed=5)
    assert torch.equal(first, sample_support(targets, 2, 2, seed=5))
    assert sorted(targets[first].tolist()) == [0, 0, 1, 1]
    with pytest.raises(ConfigError, match="class 'b' has 2 labelled example"):
        sample_support(targets, 3, 2, label_names=["a", "b"])


def test_vectors_normalise_each_modality_and_zero_absent_ones() -> None:
    features = FeatureSet.from_tensors(
        {"image": torch.tensor([[3.0, 4.0], [1.0, 0.0]]), "text": torch.tensor([[0.0, 2.0], [5.0, 5.0]])},
        torch.tensor([0, 1]),
        masks={"text": torch.tensor([True, False])},
    )
    vectors = few_shot_vectors(features)
    torch.testing.assert_close(vectors, torch.tensor([[0.6, 0.8, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]))
    with pytest.raises(ConfigError, match="unknown modality"):
        few_shot_vectors(features, ["audio"])


def test_bad_few_shot_settings() -> None:
    with pytest.raises(ConfigError, match="valid: prototype, linear_probe"):
        FewShotConfig(method="knn").validate()
    with pytest.raises(ConfigError, match="k must be"):
        FewShotConfig(k=0).validate()
    with pytest.raises(ConfigError, match="unknown task"):
        run_few_shot(clusters(), FewShotConfig(task="colour"))
