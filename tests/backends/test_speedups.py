"""The load-time speed-ups: which models get them, that they are applied, and the off switch."""

import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo import generate, loading
from mmdemo.backends import all_speedups, backend_module
from mmdemo.backends.packed_linear import PackedBFloat16Linear, PackedPatchEmbedding, packing_available
from mmdemo.backends.sdpa_attention import SdpaVisionAttention
from mmdemo.registry import ModelSpec


PACKED_CROSS = ("cross-attention-bfloat16",) if packing_available() else ()  # needs oneDNN packing


@pytest.fixture
def fast_cpu(monkeypatch):
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: True)


def _spec(backend: str, **kwargs) -> ModelSpec:
    return ModelSpec(name=f"s-{backend}", backend=backend, checkpoint="a/b", **kwargs)


def test_policy_gives_speedups_only_to_auto_on_fast_cpus(fast_cpu, monkeypatch):
    cpu = torch.device("cpu")
    # text-int8 is off by default: it misses the generation fidelity bar (issue 15, tests/bench/test_fidelity.py)
    assert loading.resolve_speedups(_spec("blip-caption"), cpu) == ("vision-bfloat16", "cross-attention-bfloat16")
    assert loading.resolve_speedups(_spec("blip-vqa"), cpu) == ("vision-bfloat16", "cross-attention-bfloat16")
    assert loading.resolve_speedups(_spec("wav2vec2"), cpu) == ("time-major-features", "openvino")
    assert loading.resolve_speedups(_spec("wav2vec2-ctc"), cpu) == ("time-major-features", "openvino")
    assert loading.resolve_speedups(_spec("clip"), cpu) == ("text-float32", "openvino")
    assert loading.resolve_speedups(_spec("open_clip"), cpu) == ("text-float32", "openvino")
    assert set(all_speedups()) == {
        "text-float32", "openvino", "vision-bfloat16", "cross-attention-bfloat16", "text-int8", "time-major-features"
    }
    # every off switch: explicit override, the spec's policy, the process setting, another device
    assert loading.resolve_speedups(_spec("blip-caption"), cpu, "float32") == ()
    assert loading.resolve_speedups(_spec("blip-caption", dtype="float32"), cpu) == ()
    assert loading.resolve_speedups(_spec("blip-caption"), torch.device("cuda")) == ()
    monkeypatch.setattr(loading.SETTINGS, "dtype", "float32")
    assert loading.resolve_speedups(_spec("blip-caption"), cpu) == ()


def test_no_speedups_without_bfloat16_units(monkeypatch):
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: False)
    assert loading.resolve_speedups(_spec("blip-caption"), torch.device("cpu")) == ()
    assert loading.resolve_speedups(_spec("clip"), torch.device("cpu")) == ("openvino",)  # float32 OpenVINO
    assert loading.resolve_speedups(_spec("wav2vec2"), torch.device("cpu")) == ()  # a tie in float32: torch


def test_blip_speedups_are_applied_and_switch_off(tiny_models, fast_cpu, monkeypatch):
    image = Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    fast = loading.get_model(tiny_models.caption, "caption")
    assert fast.extras["speedups"] == ("vision-bfloat16", *PACKED_CROSS)  # no text-int8: off by default
    assert "vision-bfloat16" in fast.describe()
    assert next(fast.model.vision_model.parameters()).dtype == torch.bfloat16
    if packing_available():
        assert isinstance(fast.model.vision_model.embeddings.patch_embedding, PackedPatchEmbedding)
    assert all(isinstance(layer.self_attn, SdpaVisionAttention) for layer in fast.model.vision_model.encoder.layers)
    assert not any("quantized" in type(m).__module__ for m in fast.model.text_decoder.modules())
    out = generate.caption(image, model=tiny_models.caption)
    assert out.best and 0.0 < out.captions[0].score <= 1.0

    monkeypatch.setattr(loading.SETTINGS, "dtype", "float32")
    plain = loading.get_model(tiny_models.caption, "caption")
    assert plain is not fast and plain.extras["speedups"] == ()
    assert next(plain.model.vision_model.parameters()).dtype == torch.float32
    assert not any(isinstance(m, SdpaVisionAttention) for m in plain.model.modules())  # the off switch
    assert any(isinstance(m, torch.nn.Linear) for m in plain.model.text_decoder.modules())
    assert generate.caption(image, model=tiny_models.caption).best


def test_vqa_gets_the_bfloat16_vision_encoder_only(tiny_models, fast_cpu):
    loaded = loading.get_model(tiny_models.vqa, "vqa")
    assert loaded.extras["speedups"] == ("vision-bfloat16", *PACKED_CROSS)
    if not PACKED_CROSS:
        return
    cross = [layer.crossattention.self for layer in loaded.model.modules() if hasattr(layer, "crossattention")]
    assert cross and all(isinstance(a.key, PackedBFloat16Linear) and a.value.out_dtype == torch.float32 for a in cross)
    assert all(isinstance(a.query, torch.nn.Linear) for a in cross)  # queries stay float32
    assert next(loaded.model.vision_model.parameters()).dtype == torch.bfloat16
    assert next(loaded.model.text_decoder.parameters()).dtype == torch.float32
    image = Image.fromarray(np.random.default_rng(4).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    assert 0.0 < generate.answer(image, "what color is the shape?", model=tiny_models.vqa).confidence <= 1.0


def test_clip_text_tower_stays_float32_under_the_auto_policy(tiny_models, fast_cpu, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(loading.SETTINGS, "runtime", "torch")  # the torch path (OpenVINO's: tests/runtimes)

    from mmdemo.encoders import embed_texts
    from mmdemo.registry import get_model_spec, register_model, unregister_model

    auto = register_model(replace(get_model_spec(tiny_models.clip), name="tiny-clip-auto", dtype="auto"))
    forced = register_model(replace(auto, name="tiny-clip-bf16", dtype="bfloat16"))
    try:
        loaded = loading.get_model(auto.name, "image-text")
        assert loaded.dtype == torch.bfloat16 and loaded.extras["speedups"][0] == "text-float32"
        texts = ["a red circle", "a small blue star on the left"]
        reference = embed_texts(texts, model=tiny_models.clip, use_cache=False).embeddings  # float32 spec
        torch.testing.assert_close(embed_texts(texts, model=auto.name, use_cache=False).embeddings, reference)
        assert loading.get_model(forced.name, "image-text").extras["speedups"] == ()
        low = embed_texts(texts, model=forced.name, use_cache=False).embeddings
        assert not torch.equal(low, reference)  # an explicit bfloat16 does run the text tower in bfloat16
    finally:
        unregister_model(auto.name)
        unregister_model(forced.name)
