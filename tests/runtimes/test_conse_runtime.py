"""The offline preset's ConSE model (EfficientNet-Lite0 + all-MiniLM-L6-v2, the real pip-shipped
weights) through OpenVINO, its default on the CPU (mmdemo.runtimes): the same zero-shot labels on
the 11 real photos the recipe was measured on and the same text-to-image rankings as float32
torch, embeddings within centred cosine 0.999 at batch sizes 1 and 2, the classifier compiled in
float32 whatever the dtype, the converted models read back from disk by a second load, and float32
torch with one warning where OpenVINO cannot be imported or the conversion fails."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import pytest
import torch

from mmdemo import loading
from mmdemo.backends import conse_backend
from mmdemo.bench.fidelity import centred_cosine
from mmdemo.encoders import embed_images, embed_texts
from mmdemo.registry import OFFLINE_IMAGE_TEXT, missing_offline_packages
from mmdemo.runtimes import OPENVINO, openvino_runtime
from mmdemo.runtimes.lazy import RuntimeTowers
from mmdemo.runtimes.model_cache import ConvertedModelCache
from tests.backends.test_conse import QUERIES
from tests.inputs.real_photos import tuning_photos

pytestmark = [
    pytest.mark.skipif(openvino_runtime.missing_reason() is not None, reason="OpenVINO is not installed"),
    pytest.mark.skipif(bool(missing_offline_packages()), reason="the offline preset's packages are not installed"),
]

BAR = 0.999  # centred cosine to float32 torch
LABELS = ["cat", "dog", "cup of coffee", "rocket", "motorcycle", "cheetah", "flower", "car", "airplane", "banana",
          "astronaut", "camera man", "tower", "temple", "woman in uniform"]
PROMPTS = [f"a photo of a {label}." for label in LABELS]


def _embed(photos: dict, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(photo vectors, label prompt vectors, query vectors), unit length."""
    queries = [QUERIES[name] for name in photos if name in QUERIES]
    images = embed_images(list(photos.values()), model=OFFLINE_IMAGE_TEXT, batch_size=batch_size, use_cache=False)
    return (images.embeddings,
            embed_texts(PROMPTS, model=OFFLINE_IMAGE_TEXT, batch_size=batch_size, use_cache=False).embeddings,
            embed_texts(queries, model=OFFLINE_IMAGE_TEXT, batch_size=batch_size, use_cache=False).embeddings)


def _zero_shot(images: torch.Tensor, labels: torch.Tensor) -> list[str]:
    return [LABELS[i] for i in (images @ labels.T).argmax(dim=-1).tolist()]


def _rankings(images: torch.Tensor, queries: torch.Tensor) -> list[list[int]]:
    """Per query, the photos from best to worst."""
    return (queries @ images.T).argsort(dim=-1, descending=True).tolist()


@pytest.fixture(scope="module")
def photos():
    return tuning_photos()


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory):
    """This module's own converted-model folder and the ``auto`` runtime (the default); restored after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("conse-runtime")))
        patch.setattr(loading.SETTINGS, "runtime", "auto")
        loading.unload_all()
        yield
    loading.unload_all()


@pytest.fixture(scope="module")
def reference(photos, runtime_env):
    """float32 torch (``MMDEMO_RUNTIME=torch``)."""
    loading.SETTINGS.runtime = "torch"
    try:
        loaded = loading.get_model(OFFLINE_IMAGE_TEXT, "image-text")
        assert OPENVINO not in loaded.speedups and loaded.dtype == torch.float32
        return (*_embed(photos), loaded.model.class_vectors)
    finally:
        loading.SETTINGS.runtime = "auto"
        loading.unload_all()



def test_the_default_runs_openvino_with_torchs_labels_and_rankings(photos, reference, conversions):
    ref_images, ref_labels, ref_queries, ref_classes = reference
    images, labels, queries = _embed(photos)
    loaded = loading.get_model(OFFLINE_IMAGE_TEXT, "image-text")
    runtime = loaded.extras["runtime"]
    assert OPENVINO in loaded.speedups and runtime.fallback_reason is None
    assert sorted(conversions) == ["ClassifierTower", "SentenceTower"]
    # the classifier stays float32 (bf16 missed the bar); the encoder follows the dtype policy
    fast = loading.cpu_has_fast_bfloat16() and openvino_runtime.has_bfloat16()
    assert runtime.precision_of("classifier") == "f32" and runtime.precision_of("sentence") == ("bf16" if fast else "f32")
    assert _zero_shot(images, labels) == _zero_shot(ref_images, ref_labels)
    assert _zero_shot(images, labels)[:6] == ["cat", "cup of coffee", "rocket", "motorcycle", "cheetah", "flower"]
    assert _rankings(images, queries) == _rankings(ref_images, ref_queries)
    for ref, got in ((ref_images, images), (ref_labels, labels), (ref_queries, queries),
                     (ref_classes, loaded.model.class_vectors)):
        check = centred_cosine(ref, got, threshold=BAR)
        assert got.dtype == torch.float32 and check.passed, check.summary()


@pytest.mark.parametrize("batch_size", [1, 2])
def test_small_batches_match_float32_torch(photos, reference, batch_size):
    ref_images, ref_labels, ref_queries, _ = reference
    some = dict(list(photos.items())[:3])  # an odd count: batches of 2 leave one alone
    images, labels, queries = _embed(some, batch_size)
    for ref, got in ((ref_images[:3], images), (ref_labels, labels), (ref_queries[:3], queries)):
        check = centred_cosine(ref, got, threshold=BAR)
        assert check.passed, (batch_size, check.summary())
    assert _zero_shot(images, labels) == _zero_shot(ref_images[:3], ref_labels)


def test_a_second_load_reads_the_converted_models_from_disk(photos, reference, conversions):
    embed_images(list(photos.values())[:1], model=OFFLINE_IMAGE_TEXT, use_cache=False)  # both converted by now
    assert len(ConvertedModelCache().entries()) == 2
    conversions.clear()
    loading.unload_all()
    images = embed_images(list(photos.values()), model=OFFLINE_IMAGE_TEXT, use_cache=False).embeddings
    assert conversions == []
    assert OPENVINO in loading.get_model(OFFLINE_IMAGE_TEXT, "image-text").speedups
    assert centred_cosine(reference[0], images, threshold=BAR).passed


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("mmdemo")]


def _torch_answers_the_same(photos, reference) -> None:
    images, labels, queries = _embed(photos)
    for ref, got in zip(reference, (images, labels, queries)):
        assert torch.allclose(ref, got, atol=1e-6)


def test_without_openvino_torch_answers_with_one_warning(photos, reference, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    loading.unload_all()
    with caplog.at_level(logging.WARNING, logger="mmdemo"):
        _torch_answers_the_same(photos, reference)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and OFFLINE_IMAGE_TEXT in warnings[0] and "instead of OpenVINO" in warnings[0], warnings
    loaded = loading.get_model(OFFLINE_IMAGE_TEXT, "image-text")
    assert OPENVINO not in loaded.speedups and loaded.dtype == torch.float32  # what torch computes in
    loading.unload_all()


def test_a_failing_conversion_falls_back_to_torch_with_one_warning(photos, reference, monkeypatch, tmp_path, caplog):
    def broken(module, example):
        raise RuntimeError("Exception from src/frontends/pytorch: cannot convert aten::something")

    monkeypatch.setenv("MMDEMO_CACHE_DIR", str(tmp_path))  # nothing converted yet
    monkeypatch.setattr(openvino_runtime, "convert", broken)
    loading.unload_all()
    with caplog.at_level(logging.WARNING, logger="mmdemo"):
        _torch_answers_the_same(photos, reference)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "cannot convert" in warnings[0], warnings
    loaded = loading.get_model(OFFLINE_IMAGE_TEXT, "image-text")
    assert OPENVINO not in loaded.speedups and loaded.extras["runtime"].fallback_reason
    loading.unload_all()


def test_the_classifier_is_pinned_to_float32_where_the_encoder_gets_bfloat16(monkeypatch):
    """Whatever the CPU: a bfloat16 model on a CPU with BF16 compiles the classifier at f32, the encoder at bf16."""
    compiled = []
    monkeypatch.setattr(openvino_runtime, "has_bfloat16", lambda: True)
    monkeypatch.setattr(openvino_runtime, "version", lambda: "test")
    monkeypatch.setattr(openvino_runtime, "convert", lambda module, example: module)
    monkeypatch.setattr(openvino_runtime, "compile_model",
                        lambda model, precision: compiled.append(precision) or (lambda *tensors: model(*tensors)))
    cache = SimpleNamespace(load_or_convert=lambda key, convert, label: convert())
    towers = RuntimeTowers("m", "fingerprint", torch.bfloat16, {"classifier": torch.nn.Identity, "sentence": torch.nn.Identity},
                           precisions=conse_backend.RUNTIME_PRECISIONS, cache=cache)
    x = torch.ones(2, 3)
    assert torch.equal(towers.run("classifier", x), x) and torch.equal(towers.run("sentence", x), x)
    assert compiled == ["f32", "bf16"] and towers.precision == "bf16"
    assert towers.precision_of("classifier") == "f32" and towers.precision_of("sentence") == "bf16"
