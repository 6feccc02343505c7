"""Runtime peers of the CLIP towers (mmdemo.bench.runtimes) on a tiny CLIP: each available peer
matches float32 torch within the fidelity bars, a missing runtime is skipped, a broken peer fails."""

import builtins

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from mmdemo.bench import runtimes
from mmdemo.bench.config import MIN_CENTRED_COSINE, RUNTIME_PEERS, BenchConfig
from mmdemo.bench.fidelity import centred_cosine, relative_error, relative_error_bar, top1_agreement
from mmdemo.bench.results import WorkloadResult
from mmdemo.bench.report import _runtime_table
from mmdemo.bench.timing import interleave
from mmdemo.bench.runtimes import ImageTower, TextTower, convert_peer, missing_runtime


@pytest.fixture(scope="module")
def tiny_clip():
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "vocab_size": 100, "max_position_embeddings": 16, "eos_token_id": 2},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    return CLIPModel(config).eval()


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(1)
    pixels = torch.randn(12, 3, 32, 32, generator=generator)
    ids = torch.randint(3, 100, (20, 7), generator=generator)
    ids[:, -1] = 2  # eos last: CLIP pools the eos token's state
    return pixels, ids, torch.ones_like(ids)


def _checks(reference, candidate, labels_ref, labels_cand):
    bar = MIN_CENTRED_COSINE
    return [centred_cosine(reference, candidate, threshold=bar),
            relative_error(reference, candidate, threshold=relative_error_bar(bar)),
            top1_agreement((reference, labels_ref), (candidate, labels_cand))]


# torch.compile (~55 s of inductor compiling for the two tiny towers on the busy 2-core machine) and
# OpenVINO bfloat16 (~17 s; float32 OpenVINO runs by default) only with -m slow: the suite's budget.
SLOW = {"compile", "ov-bf16"}
AVAILABLE = [pytest.param(peer, marks=pytest.mark.slow) if peer in SLOW else peer
             for peer in RUNTIME_PEERS if missing_runtime(peer) is None]


@pytest.mark.parametrize("peer", AVAILABLE)
def test_available_peer_matches_float32_torch(peer, tiny_clip, inputs):
    pixels, ids, mask = inputs
    image, text = ImageTower(tiny_clip), TextTower(tiny_clip)
    with torch.no_grad():
        ref_images, ref_texts = image(pixels), text(ids, mask)
    image_peer = convert_peer(peer, image, (pixels[:4],))
    text_peer = convert_peer(peer, text, (ids[:4], mask[:4]))
    assert image_peer.result.status == text_peer.result.status == "ok", (image_peer.result, text_peer.result)
    assert image_peer.result.conversion_s > 0 and image_peer.result.peak_rss_mib > 0
    got_images, got_texts = image_peer.run(pixels), text_peer.run(ids, mask)  # other batch sizes than the example
    assert got_images.shape == ref_images.shape and got_texts.shape == ref_texts.shape
    for check in _checks(ref_images, got_images, ref_texts, got_texts):
        assert check.passed, check.summary()
    assert (got_images @ got_texts.T).argmax(-1).tolist() == (ref_images @ ref_texts.T).argmax(-1).tolist()


def test_missing_runtime_is_skipped_not_failed(monkeypatch, tiny_clip, inputs):
    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    monkeypatch.setattr(runtimes.importlib, "import_module", lambda name: no_openvino(name))
    converted = convert_peer("ov-fp32", ImageTower(tiny_clip), (inputs[0][:2],))
    assert converted.run is None and converted.result.status == "skipped" and not converted.result.passed
    assert "not installed" in converted.result.reason and "requirements-runtimes.txt" in converted.result.reason
    result = WorkloadResult("image", "embed 2 images", {"baseline": "", "project": ""},
                            interleave({"baseline": lambda: 1, "project": lambda: 1}, 1).timings, None,
                            runtimes=[converted.result])
    table = "\n".join(_runtime_table([result]))
    assert "| image | ov-fp32 | skipped: not installed" in table
    assert result.passed  # a skipped peer does not fail the workload


def test_fidelity_fails_on_a_broken_peer(monkeypatch, tiny_clip, inputs):
    pixels, ids, mask = inputs
    image = ImageTower(tiny_clip)
    with torch.no_grad():
        reference = image(pixels)
        labels = TextTower(tiny_clip)(ids, mask)

    def broken(peer, tower, example, workdir):  # the right shapes, the wrong rows: images swapped around
        return lambda x: tower(x).detach().roll(1, dims=0)

    monkeypatch.setattr(runtimes, "_convert", broken)
    converted = convert_peer("compile", image, (pixels[:2],))
    checks = _checks(reference, converted.run(pixels), labels, labels)
    assert not any(check.passed for check in checks[:2]), [c.summary() for c in checks]


def test_unknown_peer_is_refused():
    with pytest.raises(ValueError, match="valid"):
        BenchConfig(runtimes=("tensorrt",))
    with pytest.raises(ValueError, match="ort-fp32"):
        missing_runtime("tensorrt")
