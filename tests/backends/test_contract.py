"""Every backend module keeps the contract of :mod:`mmdemo.backends` and is cheap to import."""

import json
import subprocess
import sys

import pytest
import torch

from mmdemo import registry
from mmdemo.backends import MODULES, all_speedups, backend_module, is_available_offline
from mmdemo.backends.base import checkpoint_available_offline
from mmdemo.registry import ModelSpec
from mmdemo.runtimes import OPENVINO

ENTRY_POINTS = {
    "image-text": ("encode_images", "encode_texts", "logit_scale"),
    "image-text-match": ("score_pairs",),
    "audio": ("encode_audio",),
    "caption": ("generate_captions",),
    "vqa": ("answer_question",),
}
# The offline preset's backends: no load-time speed-ups (ConSE: only the runtime, which the policy
# gives, not its speedups_for); the label-based caption and vqa backends
# load nothing and are answered by mmdemo.label_answers from the image-text model's classes.
# SigLIP and BLIP image-text matching run as transformers runs them (no speed-up measured yet).
NO_SPEEDUPS = ("conse", "conse-caption", "conse-vqa", "faster-whisper", "siglip", "blip-itm")
LABEL_BASED = ("conse-caption", "conse-vqa")


@pytest.mark.parametrize("backend", registry.BACKENDS)
def test_each_backend_declares_its_knowledge(backend):
    assert set(MODULES) == set(registry.BACKENDS)
    module = backend_module(backend)
    spec = ModelSpec(name=f"c-{backend}", backend=backend, checkpoint="a/b")
    assert isinstance(module.GENERATIVE, bool) and module.GENERATIVE == (spec.role in ("caption", "vqa"))
    assert all(isinstance(text, str) and text for text in module.SPEEDUPS.values())
    assert bool(set(module.SPEEDUPS) - {OPENVINO}) == (backend not in NO_SPEEDUPS)
    assert (OPENVINO in module.SPEEDUPS) == (OPENVINO in getattr(module, "RUNTIMES", ()))  # the runtime's speed-up
    on_cpu = module.speedups_for(spec, torch.device("cpu"))
    assert bool(on_cpu) == (backend not in NO_SPEEDUPS) and set(on_cpu) <= set(module.SPEEDUPS)
    assert module.speedups_for(spec, torch.device("cuda")) == ()
    entry_points = () if backend in LABEL_BASED else ENTRY_POINTS[spec.role]
    if backend == "faster-whisper":  # the speech road only: it transcribes, the text model embeds
        entry_points = ("transcribe",)
    for name in ("load", "available_offline", *entry_points):
        assert callable(getattr(module, name)), f"{module.__name__} has no {name}"
    if backend in ("wav2vec2-ctc", "faster-whisper"):
        assert callable(module.transcribe)
    if spec.role == "image-text":  # how zero-shot scores become probabilities, and the prompt
        assert module.ACTIVATION in ("softmax", "sigmoid") and module.DEFAULT_TEMPLATE.count("{}") == 1
        if module.ACTIVATION == "sigmoid":
            assert callable(module.logit_bias)
    if backend not in ("open_clip", *NO_SPEEDUPS[:4]):  # transformers backends: what they run
        assert module.ARCHITECTURES[backend] and module.MODEL_TYPES


def test_speedup_names_are_unique_across_backends():
    seen: dict[str, str] = {}
    for name in dict.fromkeys(MODULES.values()):
        module = __import__(name, fromlist=["SPEEDUPS"])
        for speedup, text in module.SPEEDUPS.items():
            assert seen.setdefault(speedup, text) == text, f"{speedup} described twice, differently"
    assert seen == all_speedups()


def test_unknown_backend_name_is_refused():
    with pytest.raises(ValueError, match="known"):
        backend_module("resnet")


def test_offline_checks_ask_the_backend(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")
    folder = ModelSpec(name="oc-local", backend="open_clip", checkpoint=str(tmp_path))
    gone = ModelSpec(name="oc-gone", backend="open_clip", checkpoint=str(tmp_path / "nope"))
    assert is_available_offline(folder) and not is_available_offline(gone)
    unknown_tag = ModelSpec(name="oc-tag", backend="open_clip", checkpoint="ViT-B-32", pretrained="no-such-tag")
    assert not is_available_offline(unknown_tag)  # no hub repo known for the tag: not cached
    clip_folder = ModelSpec(name="clip-local", backend="clip", checkpoint=str(tmp_path))
    assert is_available_offline(clip_folder) == checkpoint_available_offline(clip_folder) is True
    assert not is_available_offline(ModelSpec(name="hub", backend="blip-vqa", checkpoint="nobody/not-cached-model"))


def test_backend_modules_import_no_model_library():
    code = (
        "import sys, json, mmdemo.loading, mmdemo.presets, mmdemo.generate, mmdemo.encoders; "
        "from mmdemo.backends import MODULES, backend_module; [backend_module(b) for b in MODULES]; "
        "print(json.dumps([m for m in ('transformers', 'open_clip') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_api_modules_run_models_only_through_their_backend():
    """encoders, generate and classify never reach past the seam into a model, its processor or
    its tokenizer."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "mmdemo"
    for name in ("encoders.py", "generate.py", "classify.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        reached = sorted({
            node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("model", "processor", "tokenizer")
        })
        assert not reached, f"mmdemo/{name} reads loaded.{reached}"
