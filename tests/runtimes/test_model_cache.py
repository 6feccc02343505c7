"""Converted models on disk (mmdemo.runtimes.model_cache): keys, atomic writes whose leftovers the
embedding cache's sweep removes, corrupt entries rebuilt, and the embedding cache's size cap."""

from __future__ import annotations

import os
import time

import pytest
import torch

from mmdemo.cache import EmbeddingCache
from mmdemo.retention import is_temp_name
from mmdemo.runtimes import openvino_runtime
from mmdemo.runtimes.model_cache import ConvertedModelCache, converted_key

pytestmark = pytest.mark.skipif(openvino_runtime.missing_reason() is not None, reason="OpenVINO is not installed")


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 4)
    return linear, openvino_runtime.convert(linear, (torch.randn(2, 8),))


def test_every_part_of_the_key_matters():
    base = ("model|clip|a/b", "image", "openvino", "2026.4.1")
    keys = {converted_key(*base)}
    for i, other in enumerate(("model|clip|a/c", "text", "onnxruntime", "2027.0.0")):
        keys.add(converted_key(*base[:i], other, *base[i + 1:]))
    assert len(keys) == 5


def test_stored_once_then_read(tmp_path, small_model):
    linear, model = small_model
    cache = ConvertedModelCache(tmp_path, max_bytes=None)
    for _ in range(2):
        stored = cache.load_or_convert("k1", lambda: model, "small")
    assert cache.conversions == 1 and [p.name for p in cache.entries()] == ["k1.xml"]
    assert not [p for p in cache.folder.iterdir() if is_temp_name(p.name)]  # the temporary folder is gone
    x = torch.randn(3, 8)
    assert torch.allclose(openvino_runtime.compile_model(stored, "f32")(x), linear(x).detach(), atol=1e-5)


def test_a_truncated_entry_is_rebuilt(tmp_path, small_model):
    cache = ConvertedModelCache(tmp_path, max_bytes=None)
    cache.load_or_convert("k1", lambda: small_model[1], "small")
    xml = cache.xml_path("k1")
    xml.write_bytes(xml.read_bytes()[: 100])
    cache.load_or_convert("k1", lambda: small_model[1], "small")
    assert cache.conversions == 2 and openvino_runtime.read(xml) is not None


def test_leftover_temporary_folders_are_swept(tmp_path):
    leftover = tmp_path / "runtimes" / ".k1.abc123.tmp"
    leftover.mkdir(parents=True)
    (leftover / "model.bin").write_bytes(b"x" * 10)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    fresh = tmp_path / "runtimes" / ".k2.def456.tmp"  # a write in progress in another process
    fresh.mkdir()
    assert is_temp_name(leftover.name)
    EmbeddingCache(tmp_path)
    assert not leftover.exists() and fresh.exists()


def test_converted_models_count_under_the_cache_cap(tmp_path, small_model):
    embeddings = EmbeddingCache(tmp_path, max_bytes=None)
    for i in range(3):
        embeddings.put(f"{i:02d}" + "0" * 62, torch.randn(4096))  # larger than the tiny model
    old = time.time() - 3600
    for entry in tmp_path.glob("*/*.safetensors"):
        os.utime(entry, (old, old))
    entry_bytes = embeddings.size_bytes()
    cache = ConvertedModelCache(tmp_path, max_bytes=None)
    cache.load_or_convert("k1", lambda: small_model[1], "small")
    model_bytes = sum(p.stat().st_size for p in cache.folder.iterdir())
    assert embeddings.size_bytes() == entry_bytes + model_bytes  # one total for the cap
    # over the cap with a second model: eviction (down to 80 % of the cap) takes the oldest files, embeddings first
    capped = ConvertedModelCache(tmp_path, max_bytes=int((2 * model_bytes + entry_bytes / 2) / 0.8))
    capped.load_or_convert("k2", lambda: small_model[1], "small")
    assert capped.xml_path("k1").is_file() and capped.xml_path("k2").is_file()
    assert 0 < len(list(tmp_path.glob("*/*.safetensors"))) < 3


def test_a_model_larger_than_the_cap_is_not_kept(tmp_path, small_model):
    cache = ConvertedModelCache(tmp_path, max_bytes=100)
    assert cache.load_or_convert("k1", lambda: small_model[1], "small") is small_model[1]
    assert cache.entries() == [] and not any(cache.folder.iterdir())
