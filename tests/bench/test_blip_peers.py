"""Runtime peers of BLIP (mmdemo.bench.blip_peers) on tiny checkpoints: the KV-cached decoder step
reproduces transformers' decoder; each available peer gives float32 torch's greedy tokens and
per-step log-probabilities within the bars; a broken peer fails them; a failing or missing
runtime is reported, not raised."""

import pytest
import torch

from mmdemo.bench import runtimes
from mmdemo.bench.baselines import BlipBaseline
from mmdemo.bench.blip_peers import BlipParts, PeerDecoder, convert_blip_peers, make_towers, peer_fidelity
from mmdemo.bench.config import RUNTIME_PEERS
from mmdemo.bench.inputs import make_inputs, textures
from mmdemo.bench.models import sharpen_logits
from mmdemo.bench.runtimes import missing_runtime
from mmdemo.bench.teacher_forcing import blip_step_logprobs

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/bench/conftest.py

FAST = [peer for peer in ("ort-fp32",) if missing_runtime(peer) is None]  # a few seconds; the rest ~20-60 s each
SLOW = [pytest.param(peer, marks=pytest.mark.slow) for peer in RUNTIME_PEERS
        if peer not in FAST and missing_runtime(peer) is None]
TOKENS = 8


@pytest.fixture(scope="module", params=["caption", "vqa"])
def blip(request, tmp_path_factory):
    """A tiny BLIP with sharpened logits (clear margins to check), its parts and 3 inputs."""
    from mmdemo.model_factory import build_checkpoint

    vqa = request.param == "vqa"
    folder = build_checkpoint("blip-vqa" if vqa else "blip-caption", tmp_path_factory.mktemp(request.param) / "m")
    base = BlipBaseline(folder, vqa=vqa)
    sharpen_logits(base.variants.model, 30.0)
    inputs = make_inputs(images=3, prompts=1, clips=1, audio_seconds=0.5, labels=10)
    pairs = [(image, question if vqa else None) for image, question in zip(inputs.images, inputs.questions)]
    return base, BlipParts.of(base.variants.model, base.processor, vqa=vqa), pairs


def _reference(base, pairs):
    tokens = [base.generate(image, question, max_new_tokens=TOKENS) for image, question in pairs]
    logprobs = [blip_step_logprobs(base.variants.model, base.processor, image, ids, question)
                for (image, question), ids in zip(pairs, tokens)]
    return tokens, logprobs


def test_cached_decoder_step_reproduces_transformers(blip):
    base, parts, pairs = blip
    towers = make_towers(base.variants.model, parts, *pairs[0])
    decoder = PeerDecoder({name: tower for name, (tower, _) in towers.items()}, parts)
    tokens, reference = _reference(base, pairs)
    with torch.no_grad():
        for (image, question), ids, ref in zip(pairs, tokens, reference):
            assert decoder.generate(image, question, TOKENS) == ids
            assert torch.allclose(decoder.step_logprobs(image, ids, question), ref, atol=1e-4)
    assert len(tokens[0]) > 2


@pytest.mark.parametrize("peer", [*FAST, *SLOW])
def test_peer_matches_float32_torch(peer, blip):
    base, parts, pairs = blip
    peer_set = convert_blip_peers((peer,), base.variants.model, parts, *pairs[0])[peer]
    assert peer_set.ok and peer_set.result.conversion_s > 0, peer_set.result
    assert set(peer_set.runs) == ({"vision", "question", "cross", "step"} if parts.vqa else {"vision", "cross", "step"})
    tokens, reference = _reference(base, pairs)
    pictures = textures(3)
    with torch.no_grad():
        ref_vision = PeerDecoder({"vision": lambda x: base.variants.model.vision_model(pixel_values=x)[0]},
                                 parts).vision_tokens(pictures)
    checks = peer_fidelity(PeerDecoder(peer_set.runs, parts), reference, tokens, pairs, ref_vision, pictures, 2)
    summary = [check.summary() for check in checks]
    error, clear, vision, greedy = checks
    if peer == "ort-int8":  # dynamic int8: reported with its checks, not required to pass
        return
    assert error.passed and vision.passed, summary
    assert clear.n > 0 and clear.passed, summary
    assert greedy.value == 1.0, summary


def test_broken_peer_fails_the_checks(monkeypatch, blip):
    base, parts, pairs = blip
    tokens, reference = _reference(base, pairs)
    towers = make_towers(base.variants.model, parts, *pairs[0])
    runs = {name: tower for name, (tower, _) in towers.items()}
    step = runs["step"]
    # the right shapes, the wrong state: every step is told it sits one position further on
    runs["step"] = lambda ids, position, past, cross: step(ids, position + 1, past, cross)
    with torch.no_grad():
        checks = peer_fidelity(PeerDecoder(runs, parts), reference, tokens, pairs, None, [], 2)
    assert not checks[0].passed, [check.summary() for check in checks]


def test_failing_tower_is_reported_and_missing_runtime_skipped(monkeypatch, blip):
    base, parts, pairs = blip
    def step_fails(peer, tower, example, workdir):  # the other towers "convert" to themselves
        if type(tower).__name__ == "DecoderStep":
            raise RuntimeError("cannot export this graph")
        return tower

    monkeypatch.setattr(runtimes, "_convert", step_fails)
    monkeypatch.setattr(runtimes, "missing_runtime",
                        lambda peer: "not installed (test); pip install -r requirements-runtimes.txt" if peer == "ov-fp32" else None)
    found = convert_blip_peers(("compile", "ov-fp32"), base.variants.model, parts, *pairs[0])
    assert found["compile"].result.status == "failed" and not found["compile"].runs
    assert found["compile"].result.reason.startswith("step: RuntimeError: cannot export")
    assert found["ov-fp32"].result.status == "skipped" and "requirements-runtimes.txt" in found["ov-fp32"].result.reason
