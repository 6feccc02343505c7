"""Fidelity checks that can fail (issue 15, finding 6): hand-made examples, float32 against itself,
a deliberately perturbed path, and the default speed-up set."""

import copy
import json
import math

import pytest
import torch

from mmdemo.backends import all_speedups, backend_module, blip_backend
from mmdemo.bench.baselines import BlipBaseline
from mmdemo.bench.config import (
    CLEAR_MARGIN,
    MAX_LOGPROB_ERROR,
    MIN_CENTRED_COSINE,
    MIN_CENTRED_COSINE_DEEP,
    centred_cosine_bar,
)
from mmdemo.bench.fidelity import (
    Fidelity,
    centred_cosine,
    clear_margin_agreement,
    generation_input_dependence,
    max_logprob_error,
    mean_cosine,
    relative_error,
    relative_error_bar,
)
from mmdemo.bench.inputs import label_bank, make_inputs
from mmdemo.bench.models import sharpen_logits
from mmdemo.bench.teacher_forcing import blip_step_logprobs
from mmdemo.registry import BUNDLED_DIR, ModelSpec


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/bench/conftest.py


def _logprobs(rows: list[list[float]]) -> torch.Tensor:
    """[steps, vocab] log-probabilities from hand-written log-probabilities of 3 tokens (the rest ~0)."""
    return torch.tensor(rows, dtype=torch.float32)


# ------------------------------------------------------------------------------ hand-made examples


def test_per_step_logprob_error_and_clear_margin_agreement_by_hand():
    # float32: step 0 clear (token 0 beats token 1 by 2.0 nats), step 1 a near-tie (0.1 nat), step 2 clear for token 2
    ref = [_logprobs([[-0.2, -2.2, -4.0], [-0.7, -0.8, -3.0], [-3.0, -2.5, -0.1]])]
    tokens = [[0, 0, 2]]  # float32's greedy tokens: the best at each step
    # the candidate moves token 0's log-prob at step 1 by 0.3 nats and flips the near-tie there;
    # at step 2 it moves token 2 by 0.04 and keeps it best
    cand = [_logprobs([[-0.2, -2.2, -4.0], [-1.0, -0.6, -3.0], [-3.0, -2.5, -0.14]])]
    error = max_logprob_error(ref, cand, tokens)
    assert error.value == pytest.approx(0.3) and error.n == 3 and not error.passed and error.at_most
    clear = clear_margin_agreement(ref, cand)
    assert clear.value == 1.0 and clear.n == 2 and clear.passed  # the flipped near-tie does not count
    assert "2 of 3 steps" in clear.detail and f">= {CLEAR_MARGIN:g} nats" in clear.metric
    # a flip at a clear step fails, and is counted among the clear steps only
    flipped = [_logprobs([[-2.5, -0.2, -4.0], [-0.7, -0.8, -3.0], [-3.0, -2.5, -0.1]])]
    assert clear_margin_agreement(ref, flipped).value == 0.5
    assert max_logprob_error(ref, flipped, tokens).value == pytest.approx(2.3)
    # within the bar: 0.04 nats at most
    close = [_logprobs([[-0.2, -2.2, -4.0], [-0.74, -0.8, -3.0], [-3.0, -2.5, -0.14]])]
    within = max_logprob_error(ref, close, tokens)
    assert within.value == pytest.approx(0.04) and within.passed and within.threshold == MAX_LOGPROB_ERROR
    # two inputs: the maximum is over steps of every input
    both = max_logprob_error(ref * 2, [close[0], flipped[0]], tokens * 2)
    assert both.value == pytest.approx(2.3) and both.n == 6
    # no clear step at all: nothing was checked, which fails
    ties = [_logprobs([[-0.7, -0.8, -3.0]])]
    nothing = clear_margin_agreement(ties, ties)
    assert math.isnan(nothing.value) and not nothing.passed and nothing.n == 0
    with pytest.raises(ValueError, match="equally long"):
        max_logprob_error(ref, [], tokens)
    with pytest.raises(ValueError, match="tokens for"):
        max_logprob_error(ref, ref, [[0, 0]])


def test_image_dependence_by_hand():
    own = [_logprobs([[-0.1, -3.0], [-0.2, -2.0]]), _logprobs([[-0.1, -3.0]])]
    moved = [_logprobs([[-1.1, -0.5], [-0.2, -2.0]]), _logprobs([[-0.4, -1.5]])]
    check = generation_input_dependence(own, moved, [[0, 0], [0]])
    assert check.value == pytest.approx((1.0 + 0.3) / 2) and check.passed  # mean of each input's largest change
    assert not generation_input_dependence(own, own, [[0, 0], [0]]).passed  # a model that ignores the image


def test_relative_error_and_bars():
    torch.manual_seed(0)
    shared, spread = torch.ones(1, 16) * 10, torch.randn(8, 16)
    reference = shared + spread
    assert relative_error(reference, reference).value == 0.0
    noisy = reference + 0.3 * torch.randn(8, 16)
    error = relative_error(reference, noisy)
    assert error.at_most and not error.passed and error.value > 0.2
    assert "uncentred" in error.detail and float(error.detail.split("uncentred |c - r| / |r| ")[1]) < 0.05
    assert relative_error_bar(0.995) == pytest.approx(0.1)
    assert centred_cosine_bar(12) == MIN_CENTRED_COSINE == 0.995
    assert centred_cosine_bar(24) == MIN_CENTRED_COSINE_DEEP == 0.99
    at_most = Fidelity("x", 0.06, 0.05, 1, at_most=True)
    assert not at_most.passed and "needs <= 0.05" in at_most.summary()
    assert json.loads(json.dumps(at_most.to_json()))["passed"] is False
    assert not Fidelity("x", float("nan"), 0.5, 0).passed


def test_label_bank_is_large_and_distinct():
    bank = label_bank(500)
    assert len(bank) == len(set(bank)) == 500 and " " in bank[0]  # "<colour> <shape>" first
    assert "goldfish" in bank and make_inputs(images=1, prompts=1, clips=1, audio_seconds=3.0, labels=300).label_bank == bank[:300]
    with pytest.raises(ValueError, match="label bank size"):
        label_bank(0)


# ------------------------------------------------------------------------ real models: can it fail?


@pytest.fixture(scope="module")
def world_images():
    return make_inputs(images=4, prompts=1, clips=1, audio_seconds=3.0, labels=1).images


def _teacher_forced(base, model, images, tokens):
    return [blip_step_logprobs(model, base.processor, image, ids) for image, ids in zip(images, tokens)]


def test_generation_checks_pass_float32_against_itself_and_fail_a_perturbed_path(world_images):
    """The bundled captioner (trained: its output depends on the image). float32 against a second
    float32 load passes every check; the same path with noise in its vision tower fails them."""
    base = BlipBaseline(BUNDLED_DIR / "caption", vqa=False)
    tokens = [base.generate(image, max_new_tokens=12) for image in world_images]
    reference = _teacher_forced(base, base.variants.model, world_images, tokens)
    assert all(lp.argmax(-1).tolist() == ids[1:] for lp, ids in zip(reference, tokens))  # = greedy generate
    swapped = _teacher_forced(base, base.variants.model, world_images[1:] + world_images[:1], tokens)
    assert generation_input_dependence(reference, swapped, [t[1:] for t in tokens]).passed
    targets = [ids[1:] for ids in tokens]

    twin = BlipBaseline(BUNDLED_DIR / "caption", vqa=False).variants.model
    same = _teacher_forced(base, twin, world_images, tokens)
    assert max_logprob_error(reference, same, targets).value == 0.0
    assert clear_margin_agreement(reference, same).passed

    # perturbed path 1: noise in every weight matrix (0.5 of each matrix's spread; the varied
    # captioner's decoder alone shrugs that off: 0.018 nats, while its vision tower alone gives 0.60)
    noisy = copy.deepcopy(base.variants.model)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in noisy.parameters():
            if param.dim() > 1:
                param.add_(0.5 * param.std() * torch.randn_like(param))
    error = max_logprob_error(reference, _teacher_forced(base, noisy, world_images, tokens), targets)
    assert not error.passed and error.value > 0.1
    # perturbed path 2: a path that mixes up the image (here: another image's tokens in its place)
    assert not max_logprob_error(reference, swapped, targets).passed
    assert not clear_margin_agreement(reference, swapped).passed


def test_image_dependence_check_refuses_a_random_decoder(tiny_models, world_images):
    """A tiny random BLIP ignores the image (even with sharpened logits): its inputs do not count."""
    from mmdemo.registry import get_model_spec

    base = BlipBaseline(get_model_spec(tiny_models.caption).local_folder, vqa=False)
    sharpen_logits(base.variants.model)
    tokens = [base.generate(image, max_new_tokens=6) for image in world_images]
    own = _teacher_forced(base, base.variants.model, world_images, tokens)
    swapped = _teacher_forced(base, base.variants.model, world_images[1:] + world_images[:1], tokens)
    assert not generation_input_dependence(own, swapped, [t[1:] for t in tokens]).passed


def test_embedding_checks_fail_where_the_plain_cosine_flatters():
    torch.manual_seed(1)
    reference = torch.ones(1, 32) * 6 + torch.randn(10, 32)
    perturbed = reference + 0.25 * torch.randn(10, 32)
    assert mean_cosine(reference, perturbed).passed  # the shared direction hides the error
    assert not centred_cosine(reference, perturbed).passed
    assert not relative_error(reference, perturbed).passed
    assert centred_cosine(reference, reference.clone()).passed and relative_error(reference, reference.clone()).passed


# -------------------------------------------------------------------------------- the default set


def test_default_speedups_exclude_every_path_that_misses_a_bar():
    cpu = torch.device("cpu")
    assert "text-int8" in blip_backend.OFF_BY_DEFAULT and "text-int8" in all_speedups()
    for backend in ("blip-caption", "blip-vqa"):
        spec = ModelSpec(name=f"s-{backend}", backend=backend, checkpoint="a/b")
        given = backend_module(backend).speedups_for(spec, cpu)
        assert "vision-bfloat16" in given and not set(given) & set(blip_backend.OFF_BY_DEFAULT)
    # every backend: what the policy names and what it holds back never overlap
    from mmdemo.backends import MODULES

    for backend in MODULES:
        module = backend_module(backend)
        held_back = set(getattr(module, "OFF_BY_DEFAULT", {}))
        assert held_back <= set(module.SPEEDUPS)
        spec = ModelSpec(name=f"s-{backend}", backend=backend, checkpoint="a/b")
        assert not set(module.speedups_for(spec, cpu)) & held_back
