import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo.cache import EmbeddingCache, content_hash, text_hash


def test_hashes_follow_content_not_names(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert content_hash(a) == content_hash(b) == content_hash(str(b))
    assert content_hash(Image.new("RGB", (2, 2), (1, 2, 3))) != content_hash(Image.new("RGB", (2, 2), (1, 2, 4)))
    samples = np.zeros(10, dtype=np.float32)
    assert content_hash((16000, samples)) != content_hash((8000, samples))
    assert text_hash("red") != text_hash("Red")


def test_entries_round_trip_and_corrupt_entries_are_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = cache.key("content", "model")
    assert key != cache.key("content", "other-model")
    assert cache.get(key) is None and cache.misses == 1
    cache.put(key, torch.tensor([0.6, 0.8]), {"transcript": "hello"})
    entry = cache.get(key)
    assert torch.equal(entry.vector, torch.tensor([0.6, 0.8])) and entry.metadata == {"transcript": "hello"}
    path = next(tmp_path.glob("*/*.safetensors"))
    path.write_bytes(b"garbage")
    assert cache.get(key) is None
    assert cache.hits == 1 and cache.misses == 2
    assert cache.clear() == 1


def test_an_entry_evicted_while_it_is_read_is_a_miss(tmp_path, monkeypatch):
    """Another thread's eviction can delete the file while ``get`` opens it; CI once saw safetensors
    raise a bare RuntimeError then ("unable to open file <...> in read-only mode: No such file or
    directory (2)"). That is a miss; the same error for a file that is still there is raised."""
    from pathlib import Path

    import mmdemo.cache as cache_module

    cache = EmbeddingCache(tmp_path, max_bytes=None)
    key = cache.key("gone", "model")
    cache.put(key, torch.ones(4))

    def evicted_while_opening(path, **kwargs):
        Path(path).unlink(missing_ok=True)
        raise RuntimeError(f"unable to open file <{path}> in read-only mode: No such file or directory (2)")

    monkeypatch.setattr(cache_module, "safe_open", evicted_while_opening)
    assert cache.get(key) is None and cache.misses == 1

    kept = cache.key("kept", "model")
    cache.put(kept, torch.ones(4))

    def broken_library(path, **kwargs):
        raise RuntimeError("something else went wrong")

    monkeypatch.setattr(cache_module, "safe_open", broken_library)
    with pytest.raises(RuntimeError, match="something else"):
        cache.get(kept)


def test_the_fingerprint_changes_with_the_checkpoint_or_the_companion_folder(tmp_path):
    import os

    from mmdemo.cache import checkpoint_fingerprint
    from mmdemo.registry import ModelSpec, get_model_spec

    weights, sentence = tmp_path / "classifier", tmp_path / "sentence"
    for folder in (weights, sentence):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
    spec = ModelSpec("m", "conse", str(weights), companion=str(sentence))
    before = checkpoint_fingerprint(spec)
    os.utime(sentence / "model.safetensors", ns=(1, 1))  # the sentence encoder upgraded alone
    after = checkpoint_fingerprint(spec)
    assert after != before and after[:5] == before[:5]
    os.utime(weights / "model.safetensors", ns=(2, 2))
    assert checkpoint_fingerprint(spec) != after
    # without a companion the sentence folder does not count; the offline preset's ConSE names its MiniLM
    alone = ModelSpec("m", "conse", str(weights))
    unchanged = checkpoint_fingerprint(alone)
    os.utime(sentence / "model.safetensors", ns=(3, 3))
    assert checkpoint_fingerprint(alone) == unchanged
    assert "minilm" in get_model_spec("offline-conse").companion.lower()
