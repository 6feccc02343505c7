"""The world as a data set: determinism, splits, files, and labels that need several modalities."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmdemo.training.manifest import read_manifest
from mmdemo.world.dataset import (
    MANIFEST_COLUMNS,
    SPLITS,
    WorldConfig,
    description_split,
    generate,
    make_sample,
    write_world,
)
from mmdemo.world.scenes import Scene
from mmdemo.world.tasks import TASKS


def _fingerprint(sample):
    return (
        sample.scene,
        sample.sound_scene,
        sample.caption,
        sample.claim,
        sample.questions,
        sample.labels,
        sample.image().tobytes(),
        sample.audio().tobytes(),
    )


def test_same_seed_same_world_and_any_size_is_a_prefix():
    first = generate("train", 6, WorldConfig(seed=3))
    again = generate("train", 3, WorldConfig(seed=3))
    assert [_fingerprint(s) for s in first[:3]] == [_fingerprint(s) for s in again]
    other = generate("train", 6, WorldConfig(seed=4))
    assert [s.caption for s in other] != [s.caption for s in first]
    assert make_sample("val", 5, WorldConfig(seed=3)).caption == generate("val", 6, WorldConfig(seed=3))[5].caption


def test_bad_arguments_name_the_valid_choices():
    with pytest.raises(ValueError, match="valid splits"):
        generate("holdout", 2)
    with pytest.raises(ValueError, match=">= 0"):
        generate("train", -1)
    with pytest.raises(ValueError, match="questions_per_sample"):
        WorldConfig(questions_per_sample=0)


def test_splits_are_disjoint_in_samples_and_multi_shape_descriptions():
    samples = {split: generate(split, 150) for split in SPLITS}
    images = {split: {s.image().tobytes() for s in group} for split, group in samples.items()}
    assert not images["train"] & images["test"] and not images["val"] & images["test"]
    keys = {split: {s.scene.key() for s in group if s.scene.count > 1} for split, group in samples.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]
    for split, group in samples.items():
        assert all(description_split(s.scene) in (None, split) for s in group)
        counts = Counter(s.scene.count for s in group)
        assert min(counts.values()) >= 30, counts  # 1, 2 and 3 shapes in every split


def test_labels_are_balanced():
    samples = generate("train", 400)
    for name, spec in TASKS.items():
        counts = Counter(s.labels[name] for s in samples)
        assert set(counts) == set(spec.classes)
        assert min(counts.values()) >= 0.5 * len(samples) / len(spec.classes), (name, counts)


def test_no_single_modality_determines_any_label():
    """For every task and modality, samples that look the same in that modality differ in label,
    and guessing the majority label per look-alike group stays far from perfect."""
    samples = generate("train", 1500)
    views = {
        "text": lambda s: s.claim.text,
        "image": lambda s: s.scene.key(),
        "audio": lambda s: s.sound_scene.sound_key(),
    }
    for task in TASKS:
        for modality, view in views.items():
            groups: dict = defaultdict(list)
            for sample in samples:
                groups[view(sample)].append(sample.labels[task])
            shared = [labels for labels in groups.values() if len(labels) >= 2]
            assert shared, (task, modality)
            best = sum(Counter(labels).most_common(1)[0][1] for labels in shared)
            total = sum(len(labels) for labels in shared)
            assert best / total < 0.8, (task, modality, best / total)
    # All three modalities together do determine every label.
    for sample in samples[:50]:
        content_labels = {name: spec.label(_content(sample)) for name, spec in TASKS.items()}
        assert content_labels == sample.labels


def _content(sample):
    from mmdemo.world.tasks import WorldContent

    return WorldContent(scene=sample.scene, sound_scene=sample.sound_scene, claim=sample.claim)


def test_manifest_round_trip(tmp_path):
    config = WorldConfig(seed=5)
    manifests = write_world(tmp_path, {"train": 4, "test": 3}, config)
    assert set(manifests) == {"train", "test"}
    info = json.loads((tmp_path / "world.json").read_text())
    assert info["manifest_columns"] == list(MANIFEST_COLUMNS)
    assert set(info["tasks"]) == set(TASKS)

    manifest = read_manifest(manifests["test"])  # the Fusion Lab's reader
    assert not manifest.bad_rows
    assert manifest.modalities == ["text", "image", "audio"]
    assert manifest.label_columns == list(TASKS)
    expected = generate("test", 3, config)
    records = [json.loads(line) for line in (tmp_path / "test" / "records.jsonl").read_text().splitlines()]
    for row, sample, record in zip(manifest.rows, expected, records, strict=True):
        assert row.text == sample.claim.text
        assert row.labels == sample.labels
        assert np.array_equal(np.asarray(Image.open(row.image)), np.asarray(sample.image()))
        audio, rate = sf.read(row.audio, dtype="float32")
        assert rate == config.sample_rate
        assert np.abs(audio - sample.audio()).max() < 1e-3
        assert Scene.from_dict(record["scene"]).key() == sample.scene.key()
        assert Scene.from_dict(record["sound_scene"]).sound_key() == sample.sound_scene.sound_key()
        assert record["caption"] == sample.caption
        assert [q["answer"] for q in record["questions"]] == [qa.answer for qa in sample.questions]


def test_write_world_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="valid splits"):
        write_world(tmp_path, {"dev": 2})
