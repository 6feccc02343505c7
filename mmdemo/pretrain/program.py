"""The pretraining program of the bundled models: ``python -m mmdemo pretrain``.

Three stages, on one in-memory pool of training samples drawn once from the seed:

1. ``clip``: a small CLIP, contrastive on images and captions (:mod:`~mmdemo.pretrain.train_clip`);
2. ``audio``: a small wav2vec2 and projection aligned into that CLIP's space
   (:mod:`~mmdemo.pretrain.train_audio`; CLIP frozen, loaded from ``--out`` when not trained now);
3. ``caption`` and ``vqa``: small BLIP models trained together (:mod:`~mmdemo.pretrain.train_blip`).

Each model is saved with ``save_pretrained`` next to its processor (``<out>/clip``,
``<out>/audio`` plus ``projection.safetensors``, ``<out>/caption``, ``<out>/vqa``), then the
figures of :mod:`~mmdemo.pretrain.evaluate` are computed from the saved folders and written with the
run's settings, losses and times to ``<out>/pretrain.json``. ``--smoke`` runs every stage for a
few steps on a few samples into a temporary folder (the test suite runs it).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import transformers
from transformers import AutoProcessor, CLIPModel

from mmdemo.model_factory import AudioShape, BlipShape, ClipShape
from mmdemo.pretrain.evaluate import WorldMetrics, evaluate, evaluation_set, saved_model_functions
from mmdemo.pretrain.loop import StageConfig, StageLog
from mmdemo.pretrain.pool import build_pool
from mmdemo.pretrain.train_audio import train_audio
from mmdemo.pretrain.train_blip import train_blip
from mmdemo.pretrain.train_clip import train_clip
from mmdemo.storage import read_json, save_tensors_atomic, write_json_atomic
from mmdemo.world.dataset import WorldConfig

logger = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = ("clip", "audio", "caption", "vqa")
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "assets" / "models" / "bundled"


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a pretraining run depends on (the defaults made the shipped checkpoints).

    Attributes:
        out: folder that receives ``clip/``, ``audio/``, ``caption/``, ``vqa/`` and ``pretrain.json``.
        seed: seeds the world, the sampling of batches and the initial weights.
        models: which of :data:`MODEL_NAMES` to train (caption and vqa train together).
        pool_size: training samples drawn and rendered once, shared by every stage.
        varied_pool: free-layout scenes in random drawing styles added to the pool (see
            :mod:`mmdemo.pretrain.pool`), for BLIP (and CLIP with ``clip_varied``).
        blip_fresh_varied: share of each BLIP batch made of varied scenes drawn and rendered at that
            step (never the same picture twice; a fixed varied pool is learnt by heart).
        blip_wordpiece: BLIP gets the WordPiece tokenizer instead of the world's word-level one.
        blip_shape_head: weight of BLIP's auxiliary per-column kind/colour/size loss on its vision
            tower (see :mod:`mmdemo.pretrain.train_blip`; 0: none, as shipped before issue 16).
        blip_conv_teacher: weight of the distillation of BLIP's patch tokens from EfficientNet-Lite0's
            feature map (:mod:`~mmdemo.pretrain.conv_teacher`; 0: none), on every picture.
        blip_init: continue BLIP from the ``caption/`` and ``vqa/`` of an earlier run in this folder
            (None: fresh weights).
        blip_tower: a stage that trains BLIP's vision tower alone with that head and teacher before
            the joint stage (None: no such stage; needs ``blip_shape_head`` or ``blip_conv_teacher`` > 0).

    The defaults are the shipped checkpoints' (the plain world only). :func:`varied_config` turns
    on everything the varied world adds (the experimental run of issue 16; see the README).
        clip_varied: CLIP trains on the varied pool items too (the shipped CLIP did not).
        clip_reworded: share of CLIP's texts reworded as people write captions (shipped: 0).
        clip_wordpiece: CLIP gets a WordPiece tokenizer (shipped: the world's word-level one).
        clip_claims: weight of CLIP's claim loss (:mod:`~mmdemo.pretrain.train_clip`: every claim
            against every image of the batch, true or not), which the fusion tasks need (shipped:
            1.0 since issue 18; 3.0 scored claims worse, AUC 0.82 against 0.84; 0 is the earlier CLIP).
        vqa_varied: share of VQA questions (about the picture) phrased as people ask.
        vqa_out_of_world: share of VQA questions from outside the world, answered "cannot tell".
        sound_bank: how many of the pool's sounds the audio stage synthesises up front.
        clip, audio, blip: optimisation of each stage.
        clip_shape, audio_shape, blip_shape: the architectures.
        clip_hard_negatives: CLIP batches of whole near-miss pairs (a scene and a one-attribute variant).
        blip_teacher: distil BLIP's vision tower from the CLIP trained (or loaded) in the same run.
        blip_share_text: the VQA question encoder shares the captioner's text layers but self-attention.
        questions_per_image: VQA questions asked per image and step.
        gallery_size: held-out gallery for the figures (0 skips the evaluation).
        caption_scenes: held-out single-shape scenes for the caption figure.
        threads: torch CPU threads (None leaves torch's default).
    """

    out: Path = DEFAULT_OUT
    seed: int = 0
    models: tuple[str, ...] = MODEL_NAMES
    pool_size: int = 10_000
    varied_pool: int = 0
    blip_fresh_varied: float = 0.0
    blip_wordpiece: bool = False
    blip_shape_head: float = 0.0
    blip_conv_teacher: float = 0.0
    blip_init: Path | None = None
    blip_tower: StageConfig | None = None
    clip_varied: bool = False
    clip_reworded: float = 0.0
    clip_wordpiece: bool = False
    clip_claims: float = 1.0
    vqa_varied: float = 0.0
    vqa_out_of_world: float = 0.0
    sound_bank: int = 6_000
    clip: StageConfig = StageConfig(steps=600, batch_size=128, lr=2e-3)
    audio: StageConfig = StageConfig(steps=200, batch_size=128, lr=2e-3)
    blip: StageConfig = StageConfig(steps=700, batch_size=128, lr=2e-3)
    clip_shape: ClipShape = ClipShape()
    audio_shape: AudioShape = AudioShape()
    blip_shape: BlipShape = BlipShape()
    clip_hard_negatives: bool = False
    blip_teacher: bool = True
    blip_share_text: bool = True
    questions_per_image: int = 2
    gallery_size: int = 100
    caption_scenes: int = 100
    threads: int | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.models if name not in MODEL_NAMES]
        if unknown or not self.models:
            raise ValueError(f"Unknown models {unknown or list(self.models)}; valid: {list(MODEL_NAMES)}")
        side, patch = self.blip_shape.image_size, self.blip_shape.patch_size
        if patch < 1 or side % patch:
            valid = [p for p in range(4, side + 1) if side % p == 0]
            raise ValueError(f"BLIP patch size {patch} does not divide its {side}-pixel input; valid: {valid}")
        if self.blip_tower is not None and self.blip_shape_head <= 0 and self.blip_conv_teacher <= 0:
            raise ValueError(
                f"blip_tower needs blip_shape_head or blip_conv_teacher > 0, got {self.blip_shape_head} and {self.blip_conv_teacher}"
            )
        if self.pool_size < 2:
            raise ValueError(f"pool_size must be >= 2, got {self.pool_size}")


def varied_config(config: PretrainConfig) -> PretrainConfig:
    """``config`` with BLIP trained on the varied world too: half of every batch fresh varied
    scenes, 70 % reworded and 8 % out-of-world questions, the WordPiece tokenizer."""
    return replace(config, blip_fresh_varied=0.5, vqa_varied=0.7, vqa_out_of_world=0.08, blip_wordpiece=True)


def smoke_config(
    out: Path, seed: int = 0, models: tuple[str, ...] = MODEL_NAMES, with_figures: bool = True
) -> PretrainConfig:
    """A run of a few steps on a few samples with the real architectures, for tests."""
    stage = StageConfig(steps=2, batch_size=8, lr=1e-3, log_every=1)
    return PretrainConfig(
        out=out, seed=seed, models=models, pool_size=16, varied_pool=8, sound_bank=16,
        clip=stage, audio=stage, blip=stage, gallery_size=4 if with_figures else 0, caption_scenes=2,
    )


@dataclass
class PretrainResult:
    """What a run produced: model folders, stage logs, figures, and its wall-clock seconds."""

    folders: dict[str, Path]
    logs: dict[str, StageLog]
    metrics: WorldMetrics | None
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def cpu_settings(threads: int | None) -> Iterator[None]:
    """Flush denormal floats to zero (AdamW's tiny second moments otherwise make steps ~30 % slower
    on x86) and optionally set the thread count; both restored afterwards."""
    previous_threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(previous_threads)


def _save_folder(final: Path, save) -> Path:
    """Run ``save(tmp)`` into a fresh sibling folder, then swap it in for ``final``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        save(tmp)
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _save_pretrained(folder: Path, model, processor) -> Path:
    def save(tmp: Path) -> None:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)

    return _save_folder(folder, save)


def pretrain(config: PretrainConfig, command: str = "") -> PretrainResult:
    """Train the requested models, save them under ``config.out`` and evaluate the saved folders.

    ``command``: the command line that started the run, recorded in ``pretrain.json``.
    """
    start = time.perf_counter()
    out = Path(config.out)
    world = WorldConfig(seed=config.seed, image_size=config.clip_shape.image_size)
    folders: dict[str, Path] = {}
    logs: dict[str, StageLog] = {}
    stage_seconds: dict[str, float] = {}
    with cpu_settings(config.threads):
        tick = time.perf_counter()
        pool = build_pool(config.pool_size, world, "train", varied=config.varied_pool)
        stage_seconds["data"] = time.perf_counter() - tick

        clip = clip_processor = None
        if "clip" in config.models:
            clip, clip_processor, logs["clip"] = train_clip(
                pool, config.clip, config.seed, config.clip_shape, hard_negatives=config.clip_hard_negatives,
                reworded=config.clip_reworded, varied=config.clip_varied, wordpiece=config.clip_wordpiece,
                claims=config.clip_claims,
            )
            folders["clip"] = _save_pretrained(out / "clip", clip, clip_processor)
            stage_seconds["clip"] = logs["clip"].seconds
        want_caption, want_vqa = "caption" in config.models, "vqa" in config.models
        needs_clip = "audio" in config.models or (config.blip_teacher and (want_caption or want_vqa))
        if clip is None and needs_clip:
            if not (out / "clip").is_dir():
                raise FileNotFoundError(
                    f"Training audio or a distilled BLIP without CLIP needs a trained CLIP in {out / 'clip'}; "
                    "add 'clip' to --models"
                )
            clip = CLIPModel.from_pretrained(out / "clip").eval()
            clip_processor = AutoProcessor.from_pretrained(out / "clip")
        if "audio" in config.models:
            tick = time.perf_counter()
            wav2vec, extractor, projection, logs["audio"] = train_audio(
                pool, clip, clip_processor, config.audio, config.seed, config.audio_shape, config.sound_bank
            )

            def save_audio(tmp: Path) -> None:
                wav2vec.save_pretrained(tmp)
                extractor.save_pretrained(tmp)
                save_tensors_atomic(
                    tmp / "projection.safetensors",
                    {"weight": projection.weight.detach(), "bias": projection.bias.detach()},
                    metadata={"space": "clip", "pooling": "mean over valid frames", "normalise": "l2"},
                )

            folders["audio"] = _save_folder(out / "audio", save_audio)
            stage_seconds["audio"] = time.perf_counter() - tick
        if want_caption or want_vqa:
            tick = time.perf_counter()
            captioner, answerer, blip_processor, logs["blip"] = train_blip(
                pool, config.blip, config.seed, config.blip_shape, caption=want_caption, vqa=want_vqa,
                teacher=clip if config.blip_teacher else None,
                questions_per_image=config.questions_per_image,
                share_text=config.blip_share_text,
                varied_questions=config.vqa_varied,
                out_of_world=config.vqa_out_of_world,
                fresh_varied=config.blip_fresh_varied,
                wordpiece=config.blip_wordpiece,
                shape_head=config.blip_shape_head,
                tower_warmup=config.blip_tower,
                conv_teacher=config.blip_conv_teacher,
                init_from=config.blip_init,
            )
            if want_caption:
                folders["caption"] = _save_pretrained(out / "caption", captioner, blip_processor)
            if want_vqa:
                folders["vqa"] = _save_pretrained(out / "vqa", answerer, blip_processor)
            stage_seconds["blip"] = time.perf_counter() - tick  # with the tower stage and the teachers' set-up
        train_seconds = time.perf_counter() - start

        metrics = None
        if config.gallery_size > 0:
            tick = time.perf_counter()
            evalset = evaluation_set(world, config.gallery_size, config.caption_scenes)
            functions = saved_model_functions(out)
            wanted = {
                "embed_images": "clip",
                "embed_texts": "clip",
                "embed_audio": "audio",
                "caption": "caption",
                "answer": "vqa",
            }
            # Only the models trained now: other folders in ``out`` may be older.
            trained = {k: v for k, v in functions.items() if wanted[k] in folders or (k.startswith("embed_") and "audio" in folders)}
            metrics = evaluate(evalset, **trained)
            stage_seconds["evaluate"] = time.perf_counter() - tick
            logger.info("held-out figures:\n%s", metrics.summary())

    result = PretrainResult(folders, logs, metrics, train_seconds, stage_seconds)
    record = {
        "command": command,
        "config": _jsonable(asdict(config)),
        "train_seconds": round(train_seconds, 1),
        "stage_seconds": {k: round(v, 1) for k, v in stage_seconds.items()},
        "losses": {name: log.losses for name, log in logs.items()},
        "metrics": metrics.to_dict() if metrics else None,
        "machine": {
            "cpu_threads": config.threads or torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }
    previous = out / "pretrain.json"
    if set(config.models) != set(MODEL_NAMES) and previous.is_file():
        # A partial run: the other folders come from an earlier run; keep its record (its own
        # earlier runs included) so every shipped folder's settings and times stay on file.
        record["earlier_run"] = read_json(previous)
    write_json_atomic(previous, record)
    return result


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m mmdemo pretrain",
        description=(
            "Pretrain the bundled models (small CLIP, wav2vec2 audio encoder aligned into CLIP's space, "
            "BLIP captioner and BLIP VQA) on the procedural shapes world, on the CPU, and save them "
            "with save_pretrained. The defaults reproduce the shipped checkpoints."
        ),
    )
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default: {DEFAULT_OUT}; with --smoke: a new temporary folder)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the world, the batches and the weights (default: %(default)s)")
    parser.add_argument(
        "--models", default=",".join(MODEL_NAMES),
        help="comma-separated subset of %s (default: all); audio alone reuses <out>/clip" % ",".join(MODEL_NAMES),
    )
    parser.add_argument("--pool-size", type=int, default=defaults.pool_size, help="training samples generated once (default: %(default)s)")
    parser.add_argument("--clip-steps", type=int, default=defaults.clip.steps, help="CLIP steps (default: %(default)s)")
    parser.add_argument("--audio-steps", type=int, default=defaults.audio.steps, help="audio steps (default: %(default)s)")
    parser.add_argument("--clip-claims", type=float, default=defaults.clip_claims, help="weight of CLIP's claim loss: every world claim against every image of the batch (default: %(default)s)")
    parser.add_argument("--blip-steps", type=int, default=defaults.blip.steps, help="BLIP caption+VQA steps (default: %(default)s)")
    parser.add_argument("--blip-lr", type=float, default=defaults.blip.lr, help="peak learning rate of BLIP's caption+VQA stage; the tower stage keeps the default (default: %(default)s)")
    parser.add_argument("--blip-patch-size", type=int, default=defaults.blip_shape.patch_size, help="BLIP's vision patch side in pixels; 16 makes a 6x6 grid of the 96x96 input (default: %(default)s; a size other than CLIP's turns distillation from CLIP off)")
    parser.add_argument("--blip-shape-head", type=float, default=defaults.blip_shape_head, help="weight of BLIP's auxiliary per-column kind/colour/size loss on its vision tower (default: %(default)s: none)")
    parser.add_argument("--blip-conv-teacher", type=float, default=defaults.blip_conv_teacher, help="weight of the distillation of BLIP's patch tokens from EfficientNet-Lite0's feature map, a convolutional teacher from the offline preset's pip package (default: %(default)s: none)")
    parser.add_argument("--blip-from", type=Path, default=None, help="continue BLIP from the caption/ and vqa/ folders of an earlier run under this folder (default: fresh weights)")
    parser.add_argument("--blip-tower-steps", type=int, default=0, help="steps of a BLIP vision-tower stage before the joint one, with the shape head and the convolutional teacher (default: 0: none)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size of every stage (default: 128)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--gallery-size", type=int, default=defaults.gallery_size, help="held-out gallery for the figures; 0 skips them (default: %(default)s)")
    parser.add_argument("--varied", action="store_true", help="train BLIP on the varied world too (reworded and out-of-world questions, WordPiece tokenizer, fresh varied drawings)")
    parser.add_argument("--vqa-out-of-world", type=float, default=None, help="share of VQA questions from outside the world, answered 'cannot tell' (default: 0.08 with --varied, else 0)")
    parser.add_argument("--smoke", action="store_true", help="a few steps on a few samples into a temporary folder (checks the program works)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    models = tuple(name.strip() for name in args.models.split(",") if name.strip())
    if args.smoke:
        out = args.out or Path(tempfile.mkdtemp(prefix="mmdemo-pretrain-smoke-"))
        smoke = smoke_config(out, args.seed, models)
        return _blip_options(varied_config(smoke) if args.varied else smoke, args, smoke.blip)
    config = PretrainConfig(
        out=args.out or DEFAULT_OUT,
        seed=args.seed,
        models=models,
        pool_size=args.pool_size,
        gallery_size=args.gallery_size,
        threads=args.threads,
    )
    if args.varied:
        config = varied_config(config)
    if args.vqa_out_of_world is not None:
        if not 0.0 <= args.vqa_out_of_world < 1.0:
            raise SystemExit(f"--vqa-out-of-world must be a share in [0, 1), got {args.vqa_out_of_world}")
        config = replace(config, vqa_out_of_world=args.vqa_out_of_world)
    batch = {"batch_size": args.batch_size} if args.batch_size else {}
    config = _blip_options(config, args, replace(config.blip, **batch))
    return replace(
        config,
        clip=replace(config.clip, steps=args.clip_steps, **batch),
        audio=replace(config.audio, steps=args.audio_steps, **batch),
        blip=replace(config.blip, steps=args.blip_steps, lr=args.blip_lr, **batch),
    )


def _blip_options(config: PretrainConfig, args: argparse.Namespace, tower_stage: StageConfig) -> PretrainConfig:
    """``config`` with BLIP's patch size, shape head and tower stage (of ``tower_stage``'s settings)
    from the command line; a patch size other than CLIP's turns distillation from CLIP off (the
    token grids differ)."""
    blip_shape = replace(config.blip_shape, patch_size=args.blip_patch_size)
    return replace(
        config,
        clip_claims=args.clip_claims,
        blip_shape=blip_shape,
        blip_teacher=config.blip_teacher and blip_shape.patch_size == config.clip_shape.patch_size,
        blip_shape_head=args.blip_shape_head,
        blip_conv_teacher=args.blip_conv_teacher,
        blip_init=args.blip_from,
        blip_tower=replace(tower_stage, steps=args.blip_tower_steps) if args.blip_tower_steps else None,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
        argv = sys.argv[1:] if argv is None else argv
        result = pretrain(config, command=" ".join(["python -m mmdemo pretrain", *argv]))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"trained {', '.join(result.folders)} in {result.seconds:.0f} s; saved under {config.out}")
    for name, seconds in result.stage_seconds.items():
        print(f"  {name:9s} {seconds:7.1f} s")
    if result.metrics is not None:
        print(result.metrics.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
