"""Manifest -> features through the real encoder stack (tiny models) -> head -> prediction from raw inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from mmdemo.training import FusionHead, TrainConfig, extract_features, read_manifest, train_head
from mmdemo.errors import ManifestError

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def make_manifest(folder: Path, n_per_class: int = 6) -> Path:
    """Red/blue images, matching texts, tones; plus one undecodable image and one missing file."""
    (folder / "media").mkdir(parents=True, exist_ok=True)
    lines = ["text,image,audio,label,split"]
    rng = np.random.default_rng(0)
    for label, colour in COLOURS.items():
        for i in range(n_per_class):
            pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "media" / f"{label}{i}.png")
            tone = 440 if label == "red" else 880
            t = np.arange(3200) / 16000
            soundfile.write(folder / "media" / f"{label}{i}.wav", 0.3 * np.sin(2 * np.pi * tone * t), 16000)
            audio = f"media/{label}{i}.wav" if i % 2 == 0 else ""  # audio is absent from half the rows
            split = "test" if i == 0 else ""
            lines.append(f"a {label} picture number {i},media/{label}{i}.png,{audio},{label},{split}")
    (folder / "media" / "broken.png").write_bytes(b"this is not a png")
    lines.append("a broken picture,media/broken.png,,red,")   # bad: undecodable image
    lines.append("a lost picture,media/lost.png,,blue,")      # bad: missing file
    path = folder / "manifest.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_manifest(tmp_path_factory.mktemp("manifest"))


@pytest.fixture(scope="module")
def models(tiny_models) -> dict[str, str]:
    return {"text": tiny_models.clip, "image": tiny_models.clip, "audio": tiny_models.audio}


def test_features_have_masks_encoders_and_bad_rows(manifest_path: Path, models: dict[str, str]) -> None:
    events = []
    features = extract_features(manifest_path, models=models, progress=events.append)
    assert len(features) == 12
    assert features.modalities == ["text", "image", "audio"]
    assert features.dims == {"text": 16, "image": 16, "audio": 16}
    assert features.masks["text"].all() and features.masks["image"].all()
    assert features.masks["audio"].sum() == 6
    assert torch.all(features.embeddings["audio"][~features.masks["audio"]] == 0)
    torch.testing.assert_close(features.embeddings["image"].norm(dim=1), torch.ones(12))
    assert features.encoders["image"].model == models["image"]
    assert features.encoders["audio"].space == features.encoders["image"].space  # audio projected into CLIP space
    assert features.label_names == {"label": ["blue", "red"]}
    assert features.targets["label"].tolist() == [1] * 6 + [0] * 6
    assert features.lines == list(range(2, 14))
    assert features.splits.count("test") == 2
    bad = {row.line: row.reason for row in features.bad_rows}
    assert sorted(bad) == [14, 15]
    assert bad[14].startswith("image:")
    assert "image file not found: media/lost.png" in bad[15]
    assert {event.modality for event in events} == {"text", "image", "audio"}


def test_fixed_label_set_skips_unknown_labels(manifest_path: Path, models: dict[str, str]) -> None:
    features = extract_features(manifest_path, models=models, modalities=["text"], label_names={"label": ["red", "green"]})
    # 6 red rows + the red row whose image is broken: images are not embedded here, so it is usable.
    assert len(features) == 7 and features.modalities == ["text"]
    assert any("label 'blue' in 'label' is not one of ['red', 'green']" in row.reason for row in features.bad_rows)


def test_single_class_manifest_is_rejected(tmp_path: Path, models: dict[str, str]) -> None:
    path = tmp_path / "one.csv"
    path.write_text("text,label\nhello,a\nworld,a\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="1 class"):
        extract_features(path, models=models)


def test_trained_head_predicts_from_raw_inputs(manifest_path: Path, models: dict[str, str], tmp_path: Path) -> None:
    features = extract_features(read_manifest(manifest_path), models=models)
    for strategy in ("gmu", "concat"):
        result = train_head(features, strategy, TrainConfig(epochs=3, batch_size=4, patience=0, val_fraction=0.0))
        head = FusionHead.from_result(result)
        loaded = FusionHead.load(head.save(tmp_path / strategy))
        assert loaded.encoders == features.encoders
        image = manifest_path.parent / "media" / "red1.png"
        audio = manifest_path.parent / "media" / "red0.wav"
        prediction = loaded.predict(text="a red picture number 1", image=image, audio=audio)
        assert set(prediction.probabilities["label"]) == {"blue", "red"}
        assert sum(prediction.probabilities["label"].values()) == pytest.approx(1.0)
        assert prediction.labels["label"] in ("blue", "red")
        assert set(prediction.contributions) == {"text", "image", "audio"}
        assert prediction.used == ["text", "image", "audio"]
        if strategy == "gmu":
            assert prediction.contribution_kind == "gate"
            assert sum(prediction.contributions.values()) == pytest.approx(1.0)
        # The same sample from the features gives the same probabilities.
        row = features.lines.index(3)  # line 3 = red1 (text, image; no audio)
        only_image_text = loaded.predict(text="a red picture number 1", image=image)
        assert only_image_text.contributions["audio"] == 0.0
        expected = loaded.predict_embeddings(
            {"text": features.embeddings["text"][row : row + 1], "image": features.embeddings["image"][row : row + 1]}
        )["label"][0]
        got = torch.tensor([only_image_text.probabilities["label"][name] for name in ("blue", "red")])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
