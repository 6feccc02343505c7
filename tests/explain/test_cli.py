"""``python -m mmdemo explain``: overlays and raw maps written for each kind of target."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmdemo import registry
from mmdemo.__main__ import main as mmdemo_main
from mmdemo.cli.explain import main
from mmdemo.explain.benchmark import held_out_scenes
from mmdemo.world.render import render_scene


@pytest.fixture(scope="module")
def scene_png(tmp_path_factory):
    previous = registry.active_preset()
    path = tmp_path_factory.mktemp("explain-cli") / "scene.png"
    render_scene(next(held_out_scenes(1))).save(path)
    yield path
    registry.use_preset(previous)


@pytest.mark.parametrize(
    "target",
    [["--text", "a red circle"], ["--question", "what colour is the shape on the left?"], ["--query-image", "SELF"]],
)
def test_single_map_commands(scene_png, tmp_path, target, capsys):
    target = [str(scene_png) if part == "SELF" else part for part in target]
    out, raw = tmp_path / "map.png", tmp_path / "map.npy"
    assert main([str(scene_png), *target, "--preset", "bundled", "--out", str(out), "--raw", str(raw)]) == 0
    assert Image.open(out).size == (96, 96)
    relevance = np.load(raw)
    assert relevance.shape == (96, 96) and relevance.dtype == np.float32 and relevance.max() == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "peak at" in printed and "eager" in printed


def test_caption_writes_one_map_per_word(scene_png, tmp_path, capsys):
    out, raw = tmp_path / "words.png", tmp_path / "words.npy"
    caption = "a large red circle on the left."
    assert main([str(scene_png), "--caption", caption, "--preset", "bundled", "--out", str(out), "--raw", str(raw)]) == 0
    assert np.load(raw).shape == (8, 96, 96)  # a large red circle on the left .
    assert Image.open(out).width > 96
    assert "(given)" in capsys.readouterr().out


def test_errors_name_the_fix(scene_png, capsys):
    with pytest.raises(SystemExit):
        main([str(scene_png), "--preset", "bundled"])
    assert "give a target" in capsys.readouterr().err
    code = mmdemo_main(["explain", str(scene_png), "--text", "x", "--method", "nope", "--preset", "bundled"])
    assert code == 1 and "valid methods" in capsys.readouterr().err


def test_the_offline_preset_explains_its_imagenet_classes(tmp_path, capsys):
    """``--preset offline``: Grad-CAM of the class nearest the text (the cat photo: its peak on the cat)."""
    from tests.app.server import ROOT

    photo = ROOT / "assets" / "examples" / "photos" / "chelsea.jpg"
    out, raw = tmp_path / "cat.png", tmp_path / "cat.npy"
    try:
        assert main([str(photo), "--text", "a cat", "--preset", "offline", "--out", str(out), "--raw", str(raw)]) == 0
    finally:
        registry.use_preset("bundled")
    relevance = np.load(raw)
    assert relevance.shape == Image.open(photo).size[::-1]
    printed = capsys.readouterr().out
    assert "gradcam" in printed and ("tabby" in printed or "cat" in printed)


def test_a_model_without_a_clip_tower_is_refused_clearly(scene_png):
    from mmdemo.errors import IncompatibleError
    from mmdemo.explain import explain_text
    from mmdemo.registry import ModelSpec

    siglip = ModelSpec(name="some-siglip", backend="siglip", checkpoint=str(scene_png.parent / "no-such-siglip"))
    with pytest.raises(IncompatibleError, match="no CLIP-style image tower.*'clip', 'open_clip'"):
        explain_text(scene_png, "a red circle", model=siglip)
