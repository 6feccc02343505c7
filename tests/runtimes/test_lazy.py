"""The CLIP and OpenCLIP towers through OpenVINO (mmdemo.runtimes.lazy) on tiny checkpoints: the same
embeddings within the fidelity bars and the same zero-shot top-1 as float32 torch at several batch
sizes, converted once and kept on disk, rebuilt when the entry is corrupt, and torch with one
warning when OpenVINO is missing or the conversion fails. Explanations keep torch."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo import explain, loading
from mmdemo.bench.config import MIN_CENTRED_COSINE
from mmdemo.bench.fidelity import centred_cosine, relative_error, relative_error_bar
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.explain.copies import eager_copy, forget_copies
from mmdemo.registry import get_model_spec, register_model, unregister_model
from mmdemo.runtimes import openvino_runtime
from mmdemo.runtimes.model_cache import ConvertedModelCache

pytestmark = pytest.mark.skipif(openvino_runtime.missing_reason() is not None, reason="OpenVINO is not installed")

IMAGES = [Image.fromarray(np.random.default_rng(seed).integers(0, 256, (36, 44, 3), dtype=np.uint8)) for seed in range(5)]
TEXTS = ["a red circle", "a blue square on the left", "green", "two yellow triangles", "a photo of a cat", "purple"]
BATCHES = (1, 2, 5)


def _embed(name: str, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    return (embed_images(IMAGES, model=name, batch_size=batch_size, use_cache=False).embeddings,
            embed_texts(TEXTS, model=name, batch_size=batch_size, use_cache=False).embeddings)


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory):
    """OpenVINO for every model (the tiny specs are float32: ``auto`` would keep torch), converted
    models in this module's own cache folder; restores both afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("runtime-cache")))
        patch.setattr(loading.SETTINGS, "runtime", "openvino")
        loading.unload_all()
        yield
    loading.unload_all()



@pytest.fixture(scope="module")
def reference(tiny_models, runtime_env):
    """float32 torch: (image, text) embeddings per backend."""
    loading.SETTINGS.runtime = "torch"
    try:
        return {name: _embed(name) for name in (tiny_models.clip, tiny_models.open_clip)}
    finally:
        loading.SETTINGS.runtime = "openvino"
        loading.unload_all()


@pytest.mark.parametrize("backend", ["clip", "open_clip"])
def test_same_embeddings_and_top1_as_float32_torch(backend, tiny_models, reference):
    name = getattr(tiny_models, backend)
    ref_images, ref_texts = reference[name]
    for batch in BATCHES:
        images, texts = _embed(name, batch)
        for ref, got in ((ref_images, images), (ref_texts, texts)):
            assert got.shape == ref.shape and got.dtype == torch.float32
            for check in (centred_cosine(ref, got, threshold=MIN_CENTRED_COSINE),
                          relative_error(ref, got, threshold=relative_error_bar(MIN_CENTRED_COSINE))):
                assert check.passed, (batch, check.summary())
        assert (images @ texts.T).argmax(-1).tolist() == (ref_images @ ref_texts.T).argmax(-1).tolist()
    loaded = loading.get_model(name, "image-text")
    assert "openvino" in loaded.speedups and "+ openvino" in loaded.describe()
    assert loaded.extras["runtime"].fallback_reason is None and loaded.extras["runtime"].precision == "f32"


def test_second_load_reads_the_cache_and_other_models_miss_it(tiny_models, reference, conversions):
    folder = ConvertedModelCache().folder
    before = sorted(folder.glob("*.xml"))
    assert len(before) == 4  # image and text tower of both backends, from the test above
    loading.unload_all()
    images, texts = _embed(tiny_models.clip)
    assert conversions == []  # read from disk
    assert torch.allclose(images, reference[tiny_models.clip][0], atol=1e-5)
    other = register_model(replace(get_model_spec(tiny_models.clip), name="tiny-clip-other"))
    try:
        embed_texts(TEXTS, model=other.name, use_cache=False)
        assert conversions == ["ClipTextTower"]  # another model: its own entry
    finally:
        unregister_model(other.name)
    assert len(sorted(folder.glob("*.xml"))) == 5


@pytest.mark.slow  # ~8 s of compiling on the busy 2-core machine
@pytest.mark.skipif(not openvino_runtime.has_bfloat16(), reason="OpenVINO's CPU plugin has no bfloat16 here")
def test_another_precision_shares_the_entry_and_compiles_at_its_own(tiny_models, reference, conversions):
    embed_images(IMAGES, model=tiny_models.clip, use_cache=False)  # the float32 model's entry exists
    conversions.clear()
    bf16 = register_model(replace(get_model_spec(tiny_models.clip), dtype="bfloat16"), replace_existing=True)
    try:
        loading.unload_all()
        images = embed_images(IMAGES, model=bf16.name, use_cache=False).embeddings
        # the IR keeps float32 weights: the float32 model's entry is read, compiled at bf16
        assert conversions == [] and loading.get_model(bf16.name, "image-text").extras["runtime"].precision == "bf16"
        assert centred_cosine(reference[tiny_models.clip][0], images, threshold=0.99).passed
    finally:
        register_model(replace(bf16, dtype="float32"), replace_existing=True)
        loading.unload_all()


def test_a_corrupt_entry_is_rebuilt(tiny_models, reference, conversions, caplog):
    cache = ConvertedModelCache()
    for xml in cache.entries():
        xml.write_bytes(b"<not an openvino model")
    for binary in cache.folder.glob("*.bin"):
        binary.write_bytes(b"")
    loading.unload_all()
    with caplog.at_level(logging.WARNING, logger="mmdemo"):
        images = embed_images(IMAGES, model=tiny_models.clip, use_cache=False).embeddings
    assert conversions == ["ClipImageTower"]
    assert any("Rebuilding the converted model" in r.getMessage() for r in caplog.records)
    assert torch.allclose(images, reference[tiny_models.clip][0], atol=1e-5)
    assert "openvino" in loading.get_model(tiny_models.clip, "image-text").speedups


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("mmdemo")]


def test_missing_openvino_runs_torch_with_one_warning(tiny_models, reference, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    loading.unload_all()
    with caplog.at_level(logging.WARNING, logger="mmdemo"):
        images, texts = _embed(tiny_models.clip)
        _embed(tiny_models.clip, 2)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and tiny_models.clip in warnings[0] and "not installed" in warnings[0], warnings
    assert torch.equal(images, reference[tiny_models.clip][0]) and torch.equal(texts, reference[tiny_models.clip][1])
    assert "openvino" not in loading.get_model(tiny_models.clip, "image-text").speedups
    loading.unload_all()


def test_failing_conversion_runs_torch_with_one_warning(tiny_models, reference, monkeypatch, tmp_path, caplog):
    def broken(module, example):
        raise RuntimeError("Exception from src/frontends/pytorch: cannot convert aten::something")

    monkeypatch.setenv("MMDEMO_CACHE_DIR", str(tmp_path))  # nothing converted yet
    monkeypatch.setattr(openvino_runtime, "convert", broken)
    loading.unload_all()
    with caplog.at_level(logging.WARNING, logger="mmdemo"):
        images, texts = _embed(tiny_models.open_clip)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and tiny_models.open_clip in warnings[0] and "cannot convert" in warnings[0], warnings
    loaded = loading.get_model(tiny_models.open_clip, "image-text")
    assert "openvino" not in loaded.speedups and loaded.extras["runtime"].fallback_reason
    assert torch.equal(images, reference[tiny_models.open_clip][0]) and torch.equal(texts, reference[tiny_models.open_clip][1])
    loading.unload_all()


def test_explanations_keep_torch(tiny_models, reference):
    forget_copies()
    result = explain.explain_text(IMAGES[0], TEXTS[0], model=tiny_models.clip)
    copy = eager_copy(tiny_models.clip, "image-text")
    assert "runtime" not in copy.extras and copy.speedups == () and copy.model.config._attn_implementation == "eager"
    assert result.relevance.shape == (36, 44) and result.relevance.max() <= 1.0
    images, texts = reference[tiny_models.clip]
    assert result.score == pytest.approx(float(images[0] @ texts[0]), abs=1e-4)
    forget_copies()
