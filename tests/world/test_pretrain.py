"""The pretraining program: smoke run, saved folders, reproducibility, and the embedding contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    AutoFeatureExtractor,
    AutoProcessor,
    BlipForConditionalGeneration,
    BlipForQuestionAnswering,
    CLIPModel,
    Wav2Vec2Model,
)

from mmdemo.model_factory import BlipShape
from mmdemo.pretrain.configs import build_blip, build_clip
from mmdemo.pretrain.loop import StageConfig
from mmdemo.pretrain.evaluate import saved_model_functions
from mmdemo.pretrain.pool import build_pool, image_tensor, pixel_values
from mmdemo.pretrain.program import PretrainConfig, main, pretrain, smoke_config
from mmdemo.pretrain.train_blip import decoder_inputs
from mmdemo.storage import load_tensors
from mmdemo.world.dataset import generate
from mmdemo.world.render import to_model_input


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    assert main(["--smoke", "--out", str(out), "--seed", "1", "-q"]) == 0
    return out


def test_smoke_run_saves_loadable_models(smoke_out):
    clip = CLIPModel.from_pretrained(smoke_out / "clip")
    clip_processor = AutoProcessor.from_pretrained(smoke_out / "clip")
    assert clip_processor.tokenizer("a red circle.")["input_ids"][-1] == clip.config.text_config.eos_token_id
    wav2vec = Wav2Vec2Model.from_pretrained(smoke_out / "audio")
    extractor = AutoFeatureExtractor.from_pretrained(smoke_out / "audio")
    assert extractor.sampling_rate == 16_000 and extractor.do_normalize
    projection = load_tensors(smoke_out / "audio" / "projection.safetensors")
    assert projection["weight"].shape == (clip.config.projection_dim, wav2vec.config.hidden_size)
    assert projection["bias"].shape == (clip.config.projection_dim,)
    captioner = BlipForConditionalGeneration.from_pretrained(smoke_out / "caption")
    vqa = BlipForQuestionAnswering.from_pretrained(smoke_out / "vqa")
    tokenizer = AutoProcessor.from_pretrained(smoke_out / "vqa").tokenizer
    for model in (captioner, vqa):
        assert model.config.text_config.bos_token_id == tokenizer.convert_tokens_to_ids("[DEC]")
        assert model.config.text_config.sep_token_id == tokenizer.sep_token_id
    # The captioner and the VQA model trained one shared vision tower; each folder holds a copy.
    for name, tensor in captioner.vision_model.state_dict().items():
        assert torch.equal(tensor, vqa.vision_model.state_dict()[name])
    report = json.loads((smoke_out / "pretrain.json").read_text())
    assert set(report["losses"]) == {"clip", "audio", "blip"}
    assert report["command"] == f"python -m mmdemo pretrain --smoke --out {smoke_out} --seed 1 -q"
    assert report["metrics"]["vqa_questions"] > 0


def test_saved_models_run_end_to_end(smoke_out):
    functions = saved_model_functions(smoke_out)
    samples = generate("test", 2)
    images = [s.image() for s in samples]
    assert functions["embed_images"](images).shape == (2, 128)
    assert functions["embed_texts"]([s.caption for s in samples]).norm(dim=-1).allclose(torch.ones(2))
    assert functions["embed_audio"]([s.scene_audio() for s in samples]).shape == (2, 128)
    assert len(functions["caption"](images)) == 2
    assert len(functions["answer"](images, ["how many shapes are there?"] * 2)) == 2


def test_audio_embedding_ignores_padding_and_matches_the_app(smoke_out):
    """A clip's vector is the same alone and padded in a batch, and the same as the app computes."""
    from mmdemo import encoders, registry

    embed_audio = saved_model_functions(smoke_out)["embed_audio"]
    short, long = generate("test", 1)[0].scene_audio(), np.concatenate([generate("test", 2)[1].scene_audio()] * 2)
    alone = embed_audio([short])
    together = embed_audio([short, long])
    assert torch.allclose(alone[0], together[0], atol=1e-5)

    spec = registry.ModelSpec(
        name="world-smoke-audio", backend="wav2vec2", checkpoint=str(smoke_out / "audio"),
        audio_road="projection", dtype="float32", space="world-smoke-clip",
    )
    registry.register_model(spec, replace_existing=True)
    try:
        app = encoders.embed_audio([short, long], model=spec.name, use_cache=False).embeddings
    finally:
        registry.unregister_model(spec.name)
    assert torch.allclose(app, together, atol=1e-4)


def test_same_seed_same_weights(tmp_path, smoke_out):
    first = pretrain(smoke_config(tmp_path / "a", seed=3, models=("clip",), with_figures=False))
    second = pretrain(smoke_config(tmp_path / "b", seed=3, models=("clip",), with_figures=False))
    assert set(first.folders) == {"clip"} and first.metrics is None
    a, b = (CLIPModel.from_pretrained(r.folders["clip"]).state_dict() for r in (first, second))
    c = CLIPModel.from_pretrained(smoke_out / "clip").state_dict()  # seed 1
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_training_inputs_match_the_saved_processors():
    pool = build_pool(4)
    _, clip_processor = build_clip()
    _, _, blip_processor = build_blip()
    image = generate("train", 1)[0].image()
    ours = pixel_values(image_tensor(image)[None])
    for processor in (clip_processor, blip_processor):
        theirs = processor(images=image, return_tensors="pt")["pixel_values"]
        assert torch.allclose(ours, theirs, atol=1e-5)
    assert pool.images.shape == (4, 3, 96, 96)
    wide = Image.new("RGB", (240, 120), (250, 250, 250))
    wide.paste((220, 38, 38), (0, 0, 60, 120))  # the left quarter red
    for processor in (clip_processor, blip_processor):  # any size: squashed to the input, not cropped
        theirs = processor(images=wide, return_tensors="pt")["pixel_values"]
        ours = pixel_values(image_tensor(to_model_input(wide))[None])
        assert theirs.shape == (1, 3, 96, 96) and (theirs - ours).abs().mean() < 0.05
        assert theirs[0, 0, 48, 5] > 1.0  # the red left edge is still there
    varied = build_pool(4, varied=4)
    assert len(varied) == 8 and varied.varied_from == 4 and varied.images.shape == (8, 3, 96, 96)
    assert all(scene.shapes[0].radius is not None for scene in varied.scenes[4:])
    tokenizer = blip_processor.tokenizer
    dec = tokenizer.convert_tokens_to_ids("[DEC]")
    ids, mask, labels = decoder_inputs(tokenizer, ["yes", "a red circle on the left."], dec)
    assert ids[:, 0].tolist() == [dec, dec]
    assert ids[0, 2] == tokenizer.sep_token_id and labels[0, 3:].eq(-100).all()
    assert labels[1].ne(-100).all()


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="valid"):
        PretrainConfig(models=("clip", "gpt"))
    assert main(["--smoke", "--out", str(tmp_path), "--models", "audio", "-q"]) == 2  # no CLIP to align to


def test_help_from_the_project_cli():
    result = subprocess.run(
        [sys.executable, "-m", "mmdemo", "pretrain", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--smoke" in result.stdout and "--clip-steps" in result.stdout


def _weight_mass(model) -> float:
    return sum(float(p.double().abs().sum()) for p in model.state_dict().values())


def test_the_one_builder_makes_the_weights_the_shipped_code_made():
    """model_factory builds the bundled small models: same shapes and seed as before the builders
    moved there (mmdemo/world/models.py), same initial weights (sums recorded from that code)."""
    from mmdemo.model_factory import SMALL_IMAGE_SIZE, ClipShape
    from mmdemo.pretrain.configs import build_audio
    from mmdemo.world.render import DEFAULT_SIZE

    assert ClipShape().image_size == SMALL_IMAGE_SIZE == DEFAULT_SIZE
    torch.manual_seed(0)
    assert _weight_mass(build_clip()[0]) == pytest.approx(51660.05824072257, rel=1e-9)
    torch.manual_seed(0)
    assert _weight_mass(build_audio()[0]) == pytest.approx(8965.939195960264, rel=1e-9)
    torch.manual_seed(0)
    captioner, vqa, _ = build_blip(share_text=True)
    assert _weight_mass(captioner) == pytest.approx(27654.758680232935, rel=1e-9)
    assert _weight_mass(vqa) == pytest.approx(37107.80025155294, rel=1e-9)


def test_the_shape_head_names_each_columns_shape_from_that_columns_tokens():
    from mmdemo.pretrain.train_blip import COLUMN_LABELS, column_targets, column_tokens, shape_head_loss
    from mmdemo.world.scenes import Scene, Shape

    scene = Scene(shapes=(Shape("star", "blue", "large", "left"), Shape("circle", "red", "small", "right")))
    assert column_targets([scene]).tolist() == [[[4, 5, 2], [0, 0, 0], [1, 1, 1]]]  # 1 + index; 0: nothing there
    for grid in (3, 6):  # 32- and 16-pixel patches of the 96x96 input
        embeds = torch.zeros(1, 1 + grid * grid, 2)
        embeds[0, 1:, 0] = torch.arange(grid).repeat(grid).float()  # each patch's column index
        thirds = column_tokens(embeds)[0, :, 0]
        width = grid // 3
        assert torch.allclose(thirds, torch.tensor([width * c + (width - 1) / 2 for c in range(3)]))
    head = torch.nn.Linear(2, sum(1 + len(values) for _, values in COLUMN_LABELS))
    embeds = torch.randn(1, 37, 2, requires_grad=True)
    loss = shape_head_loss(head, embeds, [scene])
    loss.backward()
    assert torch.isfinite(loss) and embeds.grad[0, 0].abs().sum() == 0 and embeds.grad[0, 1:].abs().sum() > 0


def test_blip_with_finer_patches_a_shape_head_and_a_tower_stage(tmp_path):
    from mmdemo.pretrain.program import build_parser, config_from_args
    from mmdemo.pretrain.train_blip import train_blip

    argv = ["--out", str(tmp_path), "--models", "caption,vqa", "--varied", "--blip-steps", "5",
            "--blip-patch-size", "16", "--blip-shape-head", "0.5", "--blip-tower-steps", "3"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.blip_shape.patch_size == 16 and config.blip_shape_head == 0.5
    assert config.blip_tower.steps == 3 and config.blip_tower.batch_size == config.blip.batch_size
    assert config.blip_teacher is False  # CLIP's 3x3 tokens are no target for a 6x6 grid
    assert config_from_args(build_parser().parse_args(argv[:7])).blip_teacher is True  # same grid as CLIP
    with pytest.raises(ValueError, match="shape_head"):
        PretrainConfig(blip_tower=StageConfig(steps=2))
    with pytest.raises(ValueError, match="valid"):
        PretrainConfig(blip_shape=BlipShape(patch_size=20))

    pool = build_pool(8, varied=4)
    stage = StageConfig(steps=2, batch_size=8, lr=1e-3)
    captioner, answerer, _, log = train_blip(
        pool, stage, 0, BlipShape(patch_size=16), fresh_varied=0.25, shape_head=1.0, tower_warmup=stage
    )
    assert answerer.config.vision_config.patch_size == 16 and answerer.vision_model is captioner.vision_model
    assert [name for name, _ in log.losses] == [2]  # the joint stage's log; the tower stage ran before it
    with pytest.raises(ValueError, match="shape_head"):
        train_blip(pool, stage, 0, tower_warmup=stage)


@pytest.fixture(scope="module")
def conv_teacher():
    from mmdemo.pretrain.conv_teacher import load_conv_teacher

    return load_conv_teacher()


def _one_shape(kind: str, column: int, side: int = 96) -> torch.Tensor:
    """A uint8 [3, side, side] picture of one dark shape on a light canvas, drawn by PIL (not the world's renderer)."""
    from PIL import ImageDraw

    image = Image.new("RGB", (side, side), (236, 234, 228))
    draw = ImageDraw.Draw(image)
    left, top, size = column * side // 3 + 4, side // 3 + 4, side // 3 - 8
    if kind == "circle":
        draw.ellipse((left, top, left + size, top + size), fill=(30, 60, 200))
    else:
        draw.rectangle((left, top, left + size, top + size), fill=(30, 60, 200))
    return image_tensor(image)


def test_the_conv_teacher_maps_any_picture_to_the_towers_grid_and_stays_frozen(conv_teacher):
    images = torch.stack([_one_shape("circle", 0), _one_shape("circle", 2), _one_shape("square", 2)])
    for grid in (6, 3):
        targets = conv_teacher(images, grid)
        assert targets.shape == (3, grid * grid, 112)
        assert torch.allclose(targets.mean(-1), torch.zeros(3, grid * grid), atol=1e-4)  # layer-normalised
    conv_teacher.train()
    assert not conv_teacher.training and not any(p.requires_grad for p in conv_teacher.parameters())
    targets = conv_teacher(images, 6)
    assert torch.equal(targets, conv_teacher(images, 6))  # batch norm in inference mode: deterministic
    # Real ImageNet features tell a circle from a square where the shape is: swapping the kind on
    # the right changes the right half of the map, on the left the left half (a random or constant
    # teacher changes nothing or everything alike).
    images = torch.cat([images, _one_shape("square", 0)[None]])
    targets = conv_teacher(images, 6)
    right = (targets[1] - targets[2]).norm(dim=-1).reshape(6, 6)  # [rows, cols]
    left = (targets[0] - targets[3]).norm(dim=-1).reshape(6, 6)
    assert right[:, 3:].mean() > 3 * right[:, :3].mean() and right[:, 3:].mean() > 1.0
    assert left[:, :3].mean() > 1.5 * left[:, 3:].mean() and left[:, :3].mean() > 1.0


def test_blip_distilled_from_the_conv_teacher(tmp_path, conv_teacher):
    from mmdemo.pretrain.program import build_parser, config_from_args
    from mmdemo.pretrain.train_blip import train_blip

    argv = ["--out", str(tmp_path), "--models", "caption,vqa", "--blip-patch-size", "16",
            "--blip-conv-teacher", "0.5", "--blip-tower-steps", "2"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.blip_conv_teacher == 0.5 and config.blip_tower.steps == 2 and config.blip_shape_head == 0
    before = {k: v.clone() for k, v in conv_teacher.state_dict().items()}
    pool = build_pool(8, varied=4)
    stage = StageConfig(steps=2, batch_size=8, lr=1e-3)
    captioner, _, _, log = train_blip(
        pool, stage, 0, BlipShape(patch_size=16), fresh_varied=0.25, conv_teacher=1.0,
        conv_teacher_model=conv_teacher, tower_warmup=stage,
    )
    assert all(torch.equal(before[k], v) for k, v in conv_teacher.state_dict().items())
    assert np.isfinite(log.final_loss)
    with pytest.raises(ValueError, match="conv_teacher"):
        train_blip(pool, stage, 0, tower_warmup=stage)


def test_blip_continues_from_an_earlier_runs_folders(tmp_path, smoke_out):
    from mmdemo.pretrain.train_blip import load_blip_pair, train_blip

    captioner, answerer, processor = load_blip_pair(smoke_out)
    assert answerer.vision_model is captioner.vision_model  # the shared tower again
    saved = BlipForQuestionAnswering.from_pretrained(smoke_out / "vqa")
    assert all(torch.equal(a, b) for a, b in zip(answerer.state_dict().values(), saved.state_dict().values()))
    assert processor.tokenizer.get_vocab() == AutoProcessor.from_pretrained(smoke_out / "vqa").tokenizer.get_vocab()

    pool = build_pool(8)
    stage = StageConfig(steps=2, batch_size=8, lr=1e-3)
    fresh, _, _, _ = train_blip(pool, stage, 0, BlipShape(patch_size=16))
    continued, _, _, log = train_blip(pool, stage, 0, BlipShape(patch_size=16), init_from=smoke_out)
    assert continued.config.vision_config.patch_size == saved.config.vision_config.patch_size == 32  # the folder's shape wins
    start = BlipForConditionalGeneration.from_pretrained(smoke_out / "caption").state_dict()
    moved = [(continued.state_dict()[k] - v).abs().max().item() for k, v in start.items() if v.dtype.is_floating_point]
    assert max(moved) < 0.01 < max((fresh.state_dict()[k] - v).abs().max().item() for k, v in start.items()
                                   if v.dtype.is_floating_point and fresh.state_dict()[k].shape == v.shape)
    with pytest.raises(FileNotFoundError, match="caption"):
        load_blip_pair(tmp_path)
    other = tmp_path / "other"
    for name in ("caption", "vqa"):
        (other / name).mkdir(parents=True)
    captioner.save_pretrained(other / "caption")
    torch.nn.init.normal_(answerer.vision_model.embeddings.patch_embedding.weight)
    BlipForQuestionAnswering.save_pretrained(answerer, other / "vqa")
    with pytest.raises(ValueError, match="differ"):
        load_blip_pair(other)
