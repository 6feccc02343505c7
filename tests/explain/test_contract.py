"""The explanation contract on tiny models built from configs: shapes, scores, failure paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmdemo import explain
from mmdemo.errors import ConfigError, MediaError
from mmdemo.explain import attention as rules
from mmdemo.explain.copies import eager_copy
from mmdemo.explain.result import centre_crop_box, normalise, to_image_map


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from mmdemo.model_factory import build_checkpoint
    from mmdemo.registry import ModelSpec, register_model

    folder = tmp_path_factory.mktemp("explain-tiny")
    names = {}
    for kind, role in (("clip", "clip"), ("open_clip", "open_clip"), ("blip-caption", "caption"), ("blip-vqa", "vqa")):
        build_checkpoint(kind, folder / kind)
        names[role] = f"explain-tiny-{kind}"
        register_model(
            ModelSpec(name=names[role], backend=kind, checkpoint=str(folder / kind), dtype="float32"),
            replace_existing=True,
        )
    return names


def _image(width=40, height=30, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("backend", ["clip", "open_clip"])
@pytest.mark.parametrize("method", explain.TOWER_METHODS)
def test_text_map_has_the_image_size_and_skips_the_cropped_border(tiny, backend, method):
    result = explain.explain_text(_image(), "a red circle", model=tiny[backend], method=method)
    assert result.relevance.shape == (30, 40) and result.relevance.dtype == np.float32
    assert 0.0 <= result.relevance.min() and result.relevance.max() <= 1.0
    assert result.grid.shape == (4, 4)  # 32 px, 8 px patches
    # Both processors resize the short side to 32 and centre-crop 32 x 32: 5 px each side are unseen.
    assert result.relevance[:, :4].max() == 0.0 and result.relevance[:, 36:].max() == 0.0
    assert result.method == method and result.model == tiny[backend] and result.score_kind == "cosine"
    assert result.target == 'text "a red circle"'


@pytest.mark.parametrize("backend", ["clip", "open_clip"])
def test_score_is_the_cosine_the_encoders_compute(tiny, backend):
    from mmdemo.encoders import embed_images, embed_texts

    image = _image(seed=1)
    result = explain.explain_text(image, "a blue square", model=tiny[backend])
    a = embed_images([image], model=tiny[backend], use_cache=False).embeddings[0]
    b = embed_texts(["a blue square"], model=tiny[backend], use_cache=False).embeddings[0]
    expected = float(torch.nn.functional.cosine_similarity(torch.as_tensor(a), torch.as_tensor(b), dim=0))
    assert result.score == pytest.approx(expected, abs=1e-4)


def test_the_shared_cached_model_is_left_alone(tiny):
    from mmdemo.loading import get_model

    shared = get_model(tiny["clip"], "image-text")
    before = {k: v.clone() for k, v in shared.model.state_dict().items()}
    attention = shared.model.config._attn_implementation
    explain.explain_text(_image(), "a red circle", model=tiny["clip"])
    copy = eager_copy(tiny["clip"], "image-text")
    assert copy.model is not shared.model and copy.model.config._attn_implementation == "eager"
    assert shared.model.config._attn_implementation == attention
    assert all(torch.equal(before[k], v) for k, v in shared.model.state_dict().items())


def test_image_match_explains_the_hit(tiny):
    result = explain.explain_image_match(_image(seed=2), _image(seed=3), model=tiny["clip"])
    assert result.relevance.shape == (30, 40) and result.target == "the query image"
    assert -1.0 <= result.score <= 1.0


def test_caption_words_one_map_per_token(tiny):
    result = explain.explain_caption(_image(), "a red circle on the left", model=tiny["caption"])
    assert result.tokens == ["a", "red", "circle", "on", "the", "left"] and not result.generated
    for word in result.words:
        assert word.relevance.shape == (30, 40) and word.score <= 0.0 and word.score_kind == "log-prob"
    assert result.score <= 0.0
    generated = explain.explain_caption(_image(), model=tiny["caption"], max_new_tokens=5)
    assert generated.generated and len(generated.words) <= 5


@pytest.mark.parametrize("method", explain.BLIP_METHODS)
def test_answer_map(tiny, method):
    result = explain.explain_answer(_image(), "what colour is it?", "red", model=tiny["vqa"], method=method)
    assert result.relevance.shape == (30, 40) and result.score <= 0.0
    assert result.target == 'answer "red" to "what colour is it?"' and result.method == method
    own = explain.explain_answer(_image(), "what colour is it?", model=tiny["vqa"], method=method)
    assert own.relevance.shape == (30, 40)


def test_unknown_method_lists_the_valid_ones(tiny):
    with pytest.raises(ConfigError, match=r"'saliency'.*chefer.*rollout.*gradcam"):
        explain.explain_text(_image(), "a red circle", model=tiny["clip"], method="saliency")
    with pytest.raises(ConfigError, match=r"'chefer'.*gradcam.*attention"):
        explain.explain_caption(_image(), "a red circle", model=tiny["caption"], method="chefer")
    with pytest.raises(ConfigError, match=r"valid methods"):
        explain.explain_answer(_image(), "what?", model=tiny["vqa"], method="rollout")


def test_empty_inputs_are_media_errors(tiny):
    with pytest.raises(MediaError, match="text is empty"):
        explain.explain_text(_image(), "   ", model=tiny["clip"])
    with pytest.raises(MediaError, match="question is empty"):
        explain.explain_answer(_image(), "", model=tiny["vqa"])
    with pytest.raises(MediaError, match="caption is empty"):
        explain.explain_caption(_image(), " ", model=tiny["caption"])
    with pytest.raises(MediaError):
        explain.explain_text("/no/such/image.png", "a red circle", model=tiny["clip"])


def test_wrong_role_is_refused(tiny):
    from mmdemo.errors import UnknownModelError

    with pytest.raises(UnknownModelError, match="not 'image-text'"):
        explain.explain_text(_image(), "a red circle", model=tiny["caption"])


# ---------------------------------------------------------------------------- the rules themselves


def test_rollout_of_self_attention_only_gives_no_patch_relevance():
    identity = torch.eye(5).expand(2, 5, 5)  # 2 heads, every token attends to itself
    assert torch.equal(rules.rollout([identity, identity]), torch.zeros(4))


def test_chefer_follows_the_class_tokens_positive_gradient():
    attention = torch.full((2, 5, 5), 0.2)
    grad = torch.zeros(2, 5, 5)
    grad[:, 0, 3] = 1.0  # only the class token's attention to token 3 raises the score
    relevance = rules.chefer([attention], [grad])
    assert int(relevance.argmax()) == 2 and relevance[[0, 1, 3]].abs().max() == 0.0
    assert torch.equal(rules.chefer([attention], [-grad]), torch.zeros(4))  # negative evidence is dropped


def test_cross_gradcam_reads_only_the_chosen_rows():
    attention = torch.rand(2, 3, 5)
    grad = torch.zeros(2, 3, 5)
    grad[:, 1, 2] = 1.0
    assert int(rules.cross_gradcam([attention], [grad], torch.tensor([1])).argmax()) == 1
    assert rules.cross_gradcam([attention], [grad], torch.tensor([0])).abs().max() == 0.0


def test_normalisation_and_upsampling():
    assert torch.equal(normalise(torch.full((3, 3), 2.0)), torch.zeros(3, 3))
    grid = torch.zeros(3, 3)
    grid[0, 2] = 5.0
    image_map = to_image_map(grid, (96, 96))
    assert image_map.max() == 1.0 and image_map.min() == 0.0 and image_map[:32, 64:].mean() > 0.5
    assert centre_crop_box((40, 30), 32, (32, 32)) == pytest.approx((5.0, 0.0, 35.0, 30.0))
    partial = to_image_map(grid, (40, 30), (5.0, 0.0, 35.0, 30.0))
    assert partial[:, :5].max() == 0.0 and partial[:, 35:].max() == 0.0 and partial.max() == 1.0
    inner = torch.zeros(6, 6)  # an inner peak patch: no pixel centre falls on its centre (120 / 6 = 20 px)
    inner[2, 3] = 1.0
    inner_map = to_image_map(inner, (120, 120))
    assert inner_map.max() == 1.0 and inner_map.min() == 0.0
    ys, xs = (inner_map == 1.0).nonzero()
    assert 40 <= ys.min() and ys.max() < 60 and 60 <= xs.min() and xs.max() < 80  # inside that patch


def test_overlay_checks_its_settings(tiny):
    result = explain.explain_text(_image(), "a red circle", model=tiny["clip"])
    assert result.overlay(opacity=0.0).tobytes() == result.image.convert("RGB").tobytes()
    with pytest.raises(ConfigError, match="opacity"):
        result.overlay(opacity=2.0)
    with pytest.raises(ConfigError, match="colormap"):
        result.overlay(colormap="no-such-map")
