"""A checkpoint a role is pointed at either runs as in its own library or is refused, clearly:
with mmdemo's IncompatibleCheckpointError naming the model, the role, the architecture found and
the ones the role runs; never with heads left at random or transformers' raw loading errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import mmdemo
from mmdemo.errors import MmdemoError, UnknownModelError
from mmdemo.loading import get_model
from mmdemo.registry import ModelSpec, spec_from_reference


def _refused(role: str, spec: ModelSpec, *expected: str) -> str:
    with pytest.raises(MmdemoError) as caught:
        get_model(spec, role)
    assert type(caught.value).__name__ == "IncompatibleCheckpointError"
    message = str(caught.value)
    for part in (spec.name, repr(role), *expected):
        assert part in message, f"{part!r} not in {message!r}"
    assert "ignore_mismatched_sizes" not in message
    return message


def _folder(tiny_models, name: str) -> str:
    return str(tiny_models.folder / name)


# -- finding 1: one BLIP head in another head's role ----------------------------------------------


def test_vqa_role_refuses_a_captioning_checkpoint(tiny_models):
    spec = spec_from_reference("vqa", _folder(tiny_models, "caption"))
    _refused("vqa", spec, "BlipForConditionalGeneration", "BlipForQuestionAnswering")


def test_caption_role_refuses_a_vqa_checkpoint(tiny_models):
    """Its decoder generates answers: it has every weight a captioner has, so only the config tells."""
    spec = spec_from_reference("caption", _folder(tiny_models, "vqa"))
    _refused("caption", spec, "BlipForQuestionAnswering", "BlipForConditionalGeneration")


@pytest.mark.parametrize("role", ["caption", "vqa"])
def test_caption_and_vqa_roles_refuse_an_image_text_matching_checkpoint(hub_like, role):
    spec = spec_from_reference(role, str(hub_like.blip_itm))
    _refused(role, spec, "BlipForImageTextRetrieval")


def test_missing_head_weights_are_refused_even_without_architectures(tiny_models, tmp_path):
    """A config that names no architecture: the weights left at random tell (missing keys)."""
    folder = tmp_path / "caption-no-architectures"
    shutil.copytree(tiny_models.folder / "caption", folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("architectures")
    (folder / "config.json").write_text(json.dumps(config))
    message = _refused("vqa", spec_from_reference("vqa", str(folder)), "missing", "text_encoder")
    assert "random" in message


def test_weights_of_another_shape_are_refused(tiny_models, tmp_path):
    """The config promises a wider projection than the weights hold: refused, naming the weights."""
    folder = tmp_path / "clip-wrong-projection"
    shutil.copytree(tiny_models.folder / "clip", folder)
    config = json.loads((folder / "config.json").read_text())
    config["projection_dim"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    message = _refused("image-text", spec_from_reference("image-text", str(folder)), "another shape", "projection")
    assert "random" in message


def test_matching_checkpoints_still_load_and_run(tiny_models, hub_like):
    image = np.full((32, 32, 3), 200, dtype=np.uint8)
    assert mmdemo.caption(image, model=_folder(tiny_models, "caption")).captions
    assert isinstance(mmdemo.answer(image, "what color is it?", model=_folder(tiny_models, "vqa")).answer, str)
    for name in ("bundled-caption", "bundled-vqa", "bundled-clip", "bundled-audio"):
        spec = mmdemo.get_model_spec(name)
        if spec.local_folder.is_dir():  # the bundled checkpoints load with nothing left at random
            assert get_model(name, spec.role).model is not None


# -- finding 3: architectures a role cannot run -------------------------------------------------


def test_image_text_role_refuses_a_blip_folder(tiny_models):
    spec = spec_from_reference("image-text", _folder(tiny_models, "caption"))
    _refused("image-text", spec, "BlipForConditionalGeneration", "CLIPModel")


def test_clip_backend_refuses_a_siglip_folder(hub_like):
    spec = ModelSpec(name="siglip-as-clip", backend="clip", checkpoint=str(hub_like.siglip))
    _refused("image-text", spec, "SiglipModel", "CLIPModel")


def test_caption_role_refuses_a_clip_folder(tiny_models):
    spec = spec_from_reference("caption", _folder(tiny_models, "clip"))
    _refused("caption", spec, "CLIPModel", "BlipForConditionalGeneration")


def test_speech_road_refuses_an_encoder_without_a_ctc_head(tiny_models):
    spec = ModelSpec(
        name="no-ctc-head", backend="wav2vec2-ctc", checkpoint=_folder(tiny_models, "audio"),
        audio_road="speech", text_model=tiny_models.clip,
    )
    _refused("audio", spec, "Wav2Vec2Model", "Wav2Vec2ForCTC")


# -- finding 4: a folder or hub id wherever a model is asked for -------------------------------


def test_a_ctc_folder_for_audio_takes_the_speech_road(hub_like):
    spec = spec_from_reference("audio", str(hub_like.ctc_group_norm))
    assert (spec.backend, spec.audio_road) == ("wav2vec2-ctc", "speech")
    assert spec.text_model == mmdemo.default_model("image-text")
    clip = np.sin(np.linspace(0, 400, 16_000)).astype(np.float32)
    out = mmdemo.embed_audio([clip], model=str(hub_like.ctc_group_norm), use_cache=False)
    assert out.transcripts is not None and out.transcripts[0]  # the CTC head ran: letters heard


def test_an_encoder_folder_for_audio_stays_in_its_own_space(hub_like):
    spec = spec_from_reference("audio", str(hub_like.audio_layer_norm))
    assert (spec.backend, spec.audio_road) == ("wav2vec2", "native")


def test_api_model_arguments_take_folders(tiny_models):
    image = np.full((32, 32, 3), 120, dtype=np.uint8)
    by_folder = mmdemo.embed_images([image], model=_folder(tiny_models, "clip"), use_cache=False)
    by_name = mmdemo.embed_images([image], model=tiny_models.clip, use_cache=False)
    # the same weights (the folder's spec takes the auto dtype policy, the registered one float32)
    assert torch.allclose(by_folder.embeddings, by_name.embeddings, atol=1e-2)
    assert by_folder.model == _folder(tiny_models, "clip")
    result = mmdemo.zero_shot_classify(image, ["red", "blue"], model=_folder(tiny_models, "clip"))
    assert len(result.probabilities) == 2


def test_unknown_registry_names_are_still_refused_with_the_valid_names():
    with pytest.raises(UnknownModelError, match="Unknown model 'no-such-model'"):
        mmdemo.embed_texts(["a"], model="no-such-model")


def test_a_cached_hub_id_is_routed_by_its_cached_config(hub_like, tmp_path, monkeypatch):
    """A hub id whose config.json is in the huggingface_hub cache: read it there (no network)."""
    from huggingface_hub import constants

    commit = "0" * 40
    snapshot = tmp_path / "models--someone--tiny-ctc" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    shutil.copy(hub_like.ctc_group_norm / "config.json", snapshot / "config.json")
    (tmp_path / "models--someone--tiny-ctc" / "refs").mkdir()
    (tmp_path / "models--someone--tiny-ctc" / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    spec = spec_from_reference("audio", "someone/tiny-ctc")
    assert (spec.backend, spec.audio_road) == ("wav2vec2-ctc", "speech")
    assert spec_from_reference("audio", "someone/not-cached").backend == "wav2vec2"


def test_a_reference_that_is_neither_folder_nor_hub_id_is_unavailable(tmp_path):
    with pytest.raises(mmdemo.ModelUnavailableError, match="neither an existing folder nor a hub id"):
        mmdemo.embed_texts(["a"], model="no such/model name!")
    with pytest.raises(mmdemo.ModelUnavailableError, match="does not exist"):
        mmdemo.embed_texts(["a"], model=str(tmp_path / "gone"))
