"""The load-time speed-ups: which models get them, that they are applied, and the off switch."""

import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo import generate, loading
from mmdemo.registry import ModelSpec


@pytest.fixture
def fast_cpu(monkeypatch):
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: True)


def _spec(backend: str, **kwargs) -> ModelSpec:
    return ModelSpec(name=f"s-{backend}", backend=backend, checkpoint="a/b", **kwargs)


def test_policy_gives_speedups_only_to_auto_on_fast_cpus(fast_cpu, monkeypatch):
    cpu = torch.device("cpu")
    assert loading.resolve_speedups(_spec("blip-caption"), cpu) == ("vision-bfloat16", "text-int8")
    assert loading.resolve_speedups(_spec("blip-vqa"), cpu) == ("vision-bfloat16", "text-int8")
    assert loading.resolve_speedups(_spec("wav2vec2"), cpu) == ("time-major-features",)
    assert loading.resolve_speedups(_spec("wav2vec2-ctc"), cpu) == ("time-major-features",)
    assert loading.resolve_speedups(_spec("clip"), cpu) == ()
    assert set(loading.SPEEDUPS) == {"vision-bfloat16", "text-int8", "time-major-features"}
    # every off switch: explicit override, the spec's policy, the process setting, another device
    assert loading.resolve_speedups(_spec("blip-caption"), cpu, "float32") == ()
    assert loading.resolve_speedups(_spec("blip-caption", dtype="float32"), cpu) == ()
    assert loading.resolve_speedups(_spec("blip-caption"), torch.device("cuda")) == ()
    monkeypatch.setattr(loading.SETTINGS, "dtype", "float32")
    assert loading.resolve_speedups(_spec("blip-caption"), cpu) == ()


def test_no_speedups_without_bfloat16_units(monkeypatch):
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: False)
    assert loading.resolve_speedups(_spec("blip-caption"), torch.device("cpu")) == ()


def test_blip_speedups_are_applied_and_switch_off(tiny_models, fast_cpu, monkeypatch):
    image = Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    fast = loading.get_model(tiny_models.caption, "caption")
    assert fast.extras["speedups"] == ("vision-bfloat16", "text-int8")
    assert "vision-bfloat16" in fast.describe()
    assert next(fast.model.vision_model.parameters()).dtype == torch.bfloat16
    assert not any(isinstance(m, torch.nn.Linear) for m in fast.model.text_decoder.modules())
    out = generate.caption(image, model=tiny_models.caption)
    assert out.best and 0.0 < out.captions[0].score <= 1.0

    monkeypatch.setattr(loading.SETTINGS, "dtype", "float32")
    plain = loading.get_model(tiny_models.caption, "caption")
    assert plain is not fast and plain.extras["speedups"] == ()
    assert next(plain.model.vision_model.parameters()).dtype == torch.float32
    assert any(isinstance(m, torch.nn.Linear) for m in plain.model.text_decoder.modules())
    assert generate.caption(image, model=tiny_models.caption).best


def test_vqa_speedups_cover_the_question_encoder(tiny_models, fast_cpu):
    loaded = loading.get_model(tiny_models.vqa, "vqa")
    assert loaded.extras["speedups"] == ("vision-bfloat16", "text-int8")
    assert not any(isinstance(m, torch.nn.Linear) for m in loaded.model.text_encoder.modules())
    image = Image.fromarray(np.random.default_rng(4).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    assert 0.0 < generate.answer(image, "what color is the shape?", model=tiny_models.vqa).confidence <= 1.0
