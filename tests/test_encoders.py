import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from mmdemo import encoders
from mmdemo.backends import clip_backend
from mmdemo.cache import EmbeddingCache
from mmdemo.errors import MediaError


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (24 + i, 30, 3), dtype=np.uint8)) for i in range(n)]


@pytest.mark.parametrize("which", ["clip", "open_clip"])
@pytest.mark.parametrize("count", [1, 2, 5])
def test_image_and_text_contract(tiny_models, which, count, tmp_path):
    name = getattr(tiny_models, which)
    cache = EmbeddingCache(tmp_path)
    images = encoders.embed_images(_images(count), model=name, batch_size=2, cache=cache)
    assert images.embeddings.shape == (count, 16) and images.embeddings.dtype == torch.float32
    assert torch.allclose(images.embeddings.norm(dim=1), torch.ones(count), atol=1e-5)
    assert images.model == name and images.space == name and images.indices == list(range(count))
    texts = encoders.embed_texts([f"a red circle {i}" for i in range(count)], model=name, cache=cache)
    assert texts.embeddings.shape == (count, 16)
    assert torch.allclose(texts.embeddings.norm(dim=1), torch.ones(count), atol=1e-5)


def test_vectors_do_not_depend_on_batching(tiny_models, tmp_path):
    images = _images(5)
    alone = torch.cat([encoders.embed_images([im], model=tiny_models.clip, use_cache=False).embeddings for im in images])
    batched = encoders.embed_images(images, model=tiny_models.clip, batch_size=4, use_cache=False).embeddings
    assert torch.allclose(alone, batched, atol=1e-5)
    texts = ["red", "a blue square on the left", "two"]
    one = torch.cat([encoders.embed_texts([t], model=tiny_models.clip, use_cache=False).embeddings for t in texts])
    many = encoders.embed_texts(texts, model=tiny_models.clip, use_cache=False).embeddings
    assert torch.allclose(one, many, atol=1e-5)


def test_different_inputs_give_different_vectors(tiny_models):
    out = encoders.embed_texts(["red circle", "blue square"], model=tiny_models.clip, use_cache=False)
    assert not torch.allclose(out.embeddings[0], out.embeddings[1])


def test_second_call_hits_the_cache_and_skips_the_model(tiny_models, tmp_path, monkeypatch):
    path = tmp_path / "img.png"
    _images(1)[0].save(path)
    cache = EmbeddingCache(tmp_path / "cache")
    first = encoders.embed_images([path], model=tiny_models.clip, cache=cache)
    assert (first.computed, first.cache_hits) == (1, 0)

    def fail(*args, **kwargs):
        raise AssertionError("the model ran although the vector was cached")

    monkeypatch.setattr(clip_backend, "encode_images", fail)
    second = encoders.embed_images([path], model=tiny_models.clip, cache=cache)
    assert (second.computed, second.cache_hits) == (0, 1)
    assert torch.equal(first.embeddings, second.embeddings)
    # the same pixels under another file name are the same content
    copy = tmp_path / "copy.png"
    copy.write_bytes(path.read_bytes())
    assert encoders.embed_images([copy], model=tiny_models.clip, cache=cache).cache_hits == 1


def test_cache_key_depends_on_model(tiny_models, tmp_path):
    cache = EmbeddingCache(tmp_path)
    encoders.embed_texts(["red"], model=tiny_models.clip, cache=cache)
    other = encoders.embed_texts(["red"], model=tiny_models.open_clip, cache=cache)
    assert other.computed == 1 and other.cache_hits == 0


def test_skip_errors_reports_bad_inputs(tiny_models, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    good = _images(2)
    out = encoders.embed_images([good[0], bad, good[1]], model=tiny_models.clip, skip_errors=True, use_cache=False)
    assert out.indices == [0, 2] and list(out.errors) == [1] and "not an image" in out.errors[1]
    with pytest.raises(MediaError, match=r"^Item 2 of 2: .*not an image"):
        encoders.embed_images([good[0], bad], model=tiny_models.clip, use_cache=False)


def test_empty_and_non_list_inputs_are_refused(tiny_models):
    with pytest.raises(MediaError, match="empty"):
        encoders.embed_texts([], model=tiny_models.clip)
    with pytest.raises(MediaError, match="list"):
        encoders.embed_texts("red", model=tiny_models.clip)
    with pytest.raises(MediaError, match="empty"):
        encoders.embed_texts(["   "], model=tiny_models.clip)


def _clip(seconds, freq, rate=16_000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_audio_projection_lands_in_clip_space(tiny_models, tmp_path):
    path = tmp_path / "tone.flac"
    soundfile.write(path, _clip(0.5, 440, rate=44_100), 44_100)
    clips = [_clip(0.5, 440), (8_000, _clip(0.25, 880, rate=8_000)), path]
    out = encoders.embed_audio(clips, model=tiny_models.audio, use_cache=False)
    assert out.embeddings.shape == (3, 16) and out.space == tiny_models.clip
    assert torch.allclose(out.embeddings.norm(dim=1), torch.ones(3), atol=1e-5)
    native = encoders.embed_audio(clips[:1], model=tiny_models.wav2vec2, use_cache=False)
    assert native.embeddings.shape == (1, 32) and native.space == tiny_models.wav2vec2


def test_audio_vector_does_not_depend_on_batch_mates(tiny_models):
    a, b = _clip(0.5, 440), _clip(0.3, 660)
    alone = encoders.embed_audio([a], model=tiny_models.audio, use_cache=False).embeddings
    mixed = encoders.embed_audio([b, a], model=tiny_models.audio, use_cache=False).embeddings
    assert torch.allclose(alone[0], mixed[1], atol=1e-5)


def test_speech_road_transcribes_and_caches_the_transcript(tiny_models, tmp_path):
    cache = EmbeddingCache(tmp_path)
    clip = _clip(0.5, 300)
    first = encoders.embed_audio([clip], model=tiny_models.speech, cache=cache)
    assert first.space == tiny_models.clip and first.transcripts is not None
    again = encoders.embed_audio([clip], model=tiny_models.speech, cache=cache)
    assert again.cache_hits == 1 and again.transcripts == first.transcripts
    text = first.transcripts[0] or "silence"
    direct = encoders.embed_texts([text], model=tiny_models.clip, use_cache=False).embeddings
    assert torch.allclose(first.embeddings, direct, atol=1e-5)
