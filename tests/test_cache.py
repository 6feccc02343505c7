import numpy as np
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
