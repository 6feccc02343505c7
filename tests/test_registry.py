import pytest

from mmdemo import registry
from mmdemo.errors import UnknownModelError
from mmdemo.registry import ModelSpec


def test_list_models_by_role_covers_pretrained_and_bundled():
    assert {"clip-vit-b32", "openclip-vit-b32-laion2b", "bundled-clip"} <= set(registry.list_models("image-text"))
    assert "blip-caption-base" in registry.list_models("caption")
    assert "blip-vqa-base" in registry.list_models("vqa")
    assert {"wav2vec2-base", "wav2vec2-base-960h", "bundled-audio"} <= set(registry.list_models("audio"))
    assert all(registry.get_model_spec(n).role == "caption" for n in registry.list_models("caption"))


def test_unknown_model_lists_valid_names():
    with pytest.raises(UnknownModelError) as info:
        registry.get_model_spec("clip-vit-b33")
    message = str(info.value)
    assert "clip-vit-b33" in message and "clip-vit-b32" in message and "blip-vqa-base" in message


def test_unknown_role_and_preset_list_valid_choices():
    with pytest.raises(UnknownModelError, match="image-text"):
        registry.list_models("video")
    with pytest.raises(UnknownModelError, match="bundled"):
        registry.use_preset("huge")


def test_hub_ids_and_folders_share_one_spec_type(tmp_path):
    hub = registry.get_model_spec("clip-vit-b32")
    assert hub.checkpoint == "openai/clip-vit-base-patch32" and not hub.is_local
    assert registry.get_model_spec("bundled-clip").is_local
    local = registry.spec_from_reference("caption", str(tmp_path))
    assert local.is_local and local.backend == "blip-caption"


def test_open_clip_folder_is_detected(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")
    assert registry.spec_from_reference("image-text", str(tmp_path)).backend == "open_clip"
    assert registry.spec_from_reference("image-text", "hf-hub:org/repo").backend == "open_clip"


def test_presets_switch_defaults_and_role_mismatch_is_refused():
    try:
        assert registry.use_preset("pretrained")["caption"] == "blip-caption-base"
        assert registry.default_model("image-text") == "clip-vit-b32"
        registry.use_preset("bundled")
        assert registry.default_model("vqa") == "bundled-vqa"
        with pytest.raises(UnknownModelError, match="not 'caption'"):
            registry.resolve_spec("bundled-clip", "caption")
    finally:
        registry.use_preset("bundled")


def test_speech_road_needs_a_text_model_and_bad_fields_are_refused():
    with pytest.raises(UnknownModelError, match="text_model"):
        ModelSpec(name="x", backend="wav2vec2-ctc", checkpoint="a/b", audio_road="speech")
    with pytest.raises(UnknownModelError, match="valid"):
        ModelSpec(name="x", backend="resnet", checkpoint="a/b")
    with pytest.raises(UnknownModelError, match="float32"):
        ModelSpec(name="x", backend="clip", checkpoint="a/b", dtype="int4")


def test_register_refuses_silent_replacement():
    spec = ModelSpec(name="test-register", backend="clip", checkpoint="org/one")
    registry.register_model(spec)
    try:
        registry.register_model(spec)  # identical: fine
        with pytest.raises(UnknownModelError, match="replace_existing"):
            registry.register_model(ModelSpec(name="test-register", backend="clip", checkpoint="org/two"))
    finally:
        registry.unregister_model("test-register")
    assert "test-register" not in registry.list_models()


# ---------------------------------------------------------------------------- defaults, presets


def test_a_fresh_registry_starts_with_the_bundled_preset():
    from mmdemo import presets

    assert registry.STARTING_DEFAULTS == presets.PRESETS["bundled"]
    assert set(registry.STARTING_DEFAULTS) == set(registry.ROLES)
    assert registry.PRESETS is presets.PRESETS  # kept readable from the registry for old importers


def test_use_defaults_needs_every_role_and_is_the_fallback_on_unregister():
    with pytest.raises(UnknownModelError, match="missing \\['audio'\\]"):
        registry.use_defaults({"image-text": "bundled-clip", "caption": "bundled-caption", "vqa": "bundled-vqa"})
    spec = registry.register_model(ModelSpec(name="test-default", backend="blip-caption", checkpoint="org/x"))
    try:
        registry.use_preset("pretrained")
        registry.set_default_model("caption", spec.name)
        assert registry.default_model("caption") == "test-default"
        registry.unregister_model(spec.name)
        assert registry.default_model("caption") == "blip-caption-base"  # the preset's, not the start's
    finally:
        registry.use_preset("bundled")
        if "test-default" in registry.list_models():
            registry.unregister_model("test-default")


def test_use_preset_records_the_active_preset():
    from mmdemo import presets

    try:
        assert presets.use_preset("pretrained") == presets.PRESETS["pretrained"]
        assert presets.active_preset() == "pretrained" == registry.active_preset()
        assert registry.default_models() == presets.PRESETS["pretrained"]
    finally:
        presets.use_preset("bundled")
    assert presets.active_preset() == "bundled"


def test_choose_preset_auto_rule(monkeypatch):
    from mmdemo import presets

    assert presets.choose_preset("pretrained") == presets.PresetChoice("pretrained", "chosen explicitly")
    with pytest.raises(UnknownModelError, match="'auto', 'bundled', 'offline', 'pretrained'"):
        presets.choose_preset("huge")
    asked = []
    monkeypatch.setattr(presets, "is_available_offline", lambda spec: asked.append(spec.name) or False)
    monkeypatch.setattr(presets, "hub_reachable", lambda: False)
    monkeypatch.setattr(registry, "missing_offline_packages", lambda: [])
    assert presets.choose_preset().preset == "offline"
    monkeypatch.setattr(registry, "missing_offline_packages", lambda: ["timm"])
    assert presets.choose_preset().preset == "bundled"
    assert asked and set(asked) <= set(presets.PRESETS["pretrained"].values())
    monkeypatch.setattr(presets, "hub_reachable", lambda: True)
    choice = presets.choose_preset("auto")
    assert choice.preset == "pretrained" and "reachable" in choice.reason
    monkeypatch.setattr(presets, "is_available_offline", lambda spec: True)
    monkeypatch.setattr(presets, "hub_reachable", lambda: pytest.fail("no probe when everything is cached"))
    assert presets.choose_preset().reason == "the pretrained checkpoints are in the local cache"
