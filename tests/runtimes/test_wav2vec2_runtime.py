"""wav2vec2's encoder through OpenVINO (mmdemo.runtimes, the ``openvino`` runtime) on tiny
checkpoints of both families: the pooled embedding within the fidelity bars of float32 torch and
the same CTC transcripts, with and without attention masks (layer-norm and group-norm feature
encoders), a clip the same alone and batched, and torch with one warning when a conversion fails."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import mmdemo
from mmdemo import loading
from mmdemo.bench.config import MIN_CENTRED_COSINE
from mmdemo.bench.fidelity import centred_cosine
from mmdemo.registry import ModelSpec, register_model
from mmdemo.runtimes import OPENVINO, openvino_runtime

pytestmark = pytest.mark.skipif(openvino_runtime.missing_reason() is not None, reason="OpenVINO is not installed")

RATE = 16_000


def _clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * (220 + 150 * seed) * t) * np.linspace(0.2, 1.0, len(t))
    return (0.3 * tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


CLIPS = [_clip(0.5, 0), _clip(1.2, 1), _clip(0.8, 2), _clip(0.8, 3)]


@pytest.fixture(scope="module")
def models(hub_like, tiny_models):
    names = {"projection": tiny_models.audio}
    for family, folder in (("ctc-layer", hub_like.ctc_layer_norm), ("ctc-group", hub_like.ctc_group_norm)):
        spec = ModelSpec(name=f"rt-{family}", backend="wav2vec2-ctc", checkpoint=str(folder), audio_road="speech",
                         text_model=tiny_models.clip, space=tiny_models.clip, dtype="float32")
        names[family] = register_model(spec, replace_existing=True).name
    spec = ModelSpec(name="rt-audio-layer", backend="wav2vec2", checkpoint=str(hub_like.audio_layer_norm), dtype="float32")
    names["audio-layer"] = register_model(spec, replace_existing=True).name
    return names


def _run(name: str, runtime: str, batch_size: int = 4):
    loading.SETTINGS.runtime = runtime
    loading.unload_all()
    try:
        out = mmdemo.embed_audio(CLIPS, model=name, use_cache=False, batch_size=batch_size)
        speedups = loading.get_model(name, "audio").speedups
        return out, speedups
    finally:
        loading.SETTINGS.runtime = "auto"
        loading.unload_all()


@pytest.fixture
def runtime_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMDEMO_CACHE_DIR", str(tmp_path / "cache"))


# the default run keeps an embedding model (group norm) and a CTC one (layer norm): both backends and
# both feature-extractor norms; the other two pairings are slow (~16 s)
@pytest.mark.parametrize("family", ["projection", pytest.param("audio-layer", marks=pytest.mark.slow),
                                    "ctc-layer", pytest.param("ctc-group", marks=pytest.mark.slow)])
def test_openvino_matches_float32_torch(models, family, runtime_cache):
    torch_out, torch_speedups = _run(models[family], "torch")
    ov_out, ov_speedups = _run(models[family], OPENVINO)
    assert OPENVINO in ov_speedups and OPENVINO not in torch_speedups
    if torch_out.transcripts:
        assert ov_out.transcripts == torch_out.transcripts and any(torch_out.transcripts)
    else:
        assert centred_cosine(torch_out.embeddings, ov_out.embeddings, threshold=MIN_CENTRED_COSINE).passed
        assert torch.allclose(torch_out.embeddings, ov_out.embeddings, atol=1e-3)


def test_a_clip_is_the_same_alone_and_batched_through_openvino(models, runtime_cache):
    alone, _ = _run(models["ctc-layer"], OPENVINO, batch_size=1)
    batched, _ = _run(models["ctc-layer"], OPENVINO, batch_size=4)
    assert alone.transcripts == batched.transcripts


def test_a_failing_conversion_falls_back_to_torch_with_one_warning(models, runtime_cache, monkeypatch, caplog):
    def broken(module, example):
        raise RuntimeError("conversion failed on purpose")

    monkeypatch.setattr(openvino_runtime, "convert", broken)
    reference, _ = _run(models["projection"], "torch")
    with caplog.at_level(logging.WARNING):
        out, speedups = _run(models["projection"], OPENVINO)
    warnings = [r.getMessage() for r in caplog.records if "instead of OpenVINO" in r.getMessage()]
    assert len(warnings) == 1 and "conversion failed on purpose" in warnings[0]
    assert OPENVINO not in speedups
    assert torch.allclose(out.embeddings, reference.embeddings, atol=1e-6)


def test_the_time_major_fast_path_gives_way_to_the_runtime(models, runtime_cache):
    """The torch time-major encoder does not survive conversion; with OpenVINO attached the model
    keeps transformers' encoder, so asking for both gives OpenVINO's faithful result."""
    from mmdemo.backends import wav2vec2_backend
    from mmdemo.registry import get_model_spec

    spec = get_model_spec(models["audio-layer"])
    cpu = torch.device("cpu")
    reference = wav2vec2_backend.encode_audio(wav2vec2_backend.load(spec, cpu, torch.float32, ()), CLIPS)
    both = wav2vec2_backend.load(spec, cpu, torch.float32, ("time-major-features", OPENVINO))
    assert both.speedups == (OPENVINO,)
    assert torch.allclose(wav2vec2_backend.encode_audio(both, CLIPS), reference, atol=1e-3)
    torch_only = wav2vec2_backend.load(spec, cpu, torch.float32, ("time-major-features",))
    assert torch_only.speedups == ("time-major-features",)
