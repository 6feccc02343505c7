"""mmdemo's web app: captioning, image QA, classification, retrieval and the Fusion Lab.

A thin shell over the :mod:`mmdemo` API: one ``gr.Blocks`` built by one function per tab, pure
handler functions that call mmdemo and format its named results, and every error a person can
cause shown as a ``gr.Error`` with mmdemo's message. Run ``python app.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

import mmdemo
from mmdemo import registry
from mmdemo.errors import MmdemoError
from mmdemo.loading import (
    choose_preset,
    configure_runtime,
    is_available_offline,
    loaded_models,
    resolve_device,
    resolve_dtype,
)
from mmdemo.media import MediaLimits
from mmdemo.modalities import exactly_one_query

logger = logging.getLogger("mmdemo.app")

EXAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "examples"


# ------------------------------------------------------------------------------------- settings


@dataclass
class AppSettings:
    """Everything ``python app.py`` can be told; defaults are safe for a shared demo.

    Attributes:
        host: interface to listen on (``127.0.0.1``: this machine only; ``0.0.0.0``: the network).
        port: port to listen on (None: the first free one from 7860).
        share: create a public gradio.live link.
        auth: ``user:password`` pairs that may log in (empty: no login).
        preset: ``auto``, ``pretrained`` or ``bundled`` (see :mod:`mmdemo.registry`).
        overrides: role -> model name, hub id or local folder.
        max_file_size: largest upload, e.g. ``"25mb"``.
        concurrency: most requests one heavy model runs at once.
        queue_size: most requests waiting in the queue; more get a "busy" answer.
        limits: decoded-media limits (pixels, audio seconds, text length).
        max_gallery: most items in one visitor's retrieval gallery.
        runs_dir: where Fusion Lab runs (heads, reports) are written.
        preset_reason: why this preset was chosen (shown on the page).
    """

    host: str = "127.0.0.1"
    port: int | None = None
    share: bool = False
    auth: list[tuple[str, str]] = field(default_factory=list)
    preset: str = "auto"
    overrides: dict[str, str] = field(default_factory=dict)
    max_file_size: str = "25mb"
    concurrency: int = 1
    queue_size: int = 64
    limits: MediaLimits = field(default_factory=MediaLimits)
    max_gallery: int = 500
    runs_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mmdemo-runs")
    preset_reason: str = ""


SETTINGS = AppSettings()


def parse_auth(values: list[str]) -> list[tuple[str, str]]:
    """``["user:password", …]`` -> pairs; raises ValueError naming a malformed entry."""
    pairs = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"Bad --auth value {value!r}; use user:password")
        pairs.append((user, password))
    return pairs


def parse_args(argv: list[str] | None = None) -> AppSettings:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="mmdemo: a multimodal model playground (captioning, image QA, classification, "
        "retrieval, Fusion Lab) in the browser.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1; 0.0.0.0 for the network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument(
        "--auth", action="append", default=[], metavar="USER:PASSWORD",
        help="require a login (repeatable); or set MMDEMO_AUTH='user:pw,user2:pw2'",
    )
    parser.add_argument("--preset", default="auto", choices=["auto", "pretrained", "bundled"],
                        help="model preset (default: auto = pretrained when cached or online, else bundled)")
    for role in registry.ROLES:
        parser.add_argument(f"--{role}-model", dest=f"model_{role.replace('-', '_')}", metavar="NAME|HUB_ID|FOLDER",
                            help=f"override the {role} model (choices include: {', '.join(registry.list_models(role))})")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="device (default: auto)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="compute dtype (default: auto = the measured fast path; float32 turns it off)")
    parser.add_argument("--max-file-size", default="25mb", help="largest upload (default: 25mb)")
    parser.add_argument("--max-pixels", type=int, default=MediaLimits.max_pixels, help="largest decoded image, in pixels")
    parser.add_argument("--max-audio-seconds", type=float, default=MediaLimits.max_audio_seconds, help="longest audio clip")
    parser.add_argument("--max-text-chars", type=int, default=MediaLimits.max_text_chars, help="longest text")
    parser.add_argument("--max-gallery", type=int, default=500, help="most items in one visitor's retrieval gallery")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where Fusion Lab runs are written (default: a temp folder)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests one heavy model runs at once (default: 1)")
    parser.add_argument("--queue-size", type=int, default=64, help="requests that may wait; more are told the app is busy")
    args = parser.parse_args(argv)
    auth_values = list(args.auth)
    if not auth_values and os.environ.get("MMDEMO_AUTH"):
        auth_values = [v for v in os.environ["MMDEMO_AUTH"].split(",") if v.strip()]
    try:
        auth = parse_auth(auth_values)
    except ValueError as err:
        parser.error(str(err))
    if args.concurrency < 1 or args.queue_size < 1 or args.max_gallery < 1:
        parser.error("--concurrency, --queue-size and --max-gallery must be at least 1")
    overrides = {
        role: getattr(args, f"model_{role.replace('-', '_')}")
        for role in registry.ROLES
        if getattr(args, f"model_{role.replace('-', '_')}")
    }
    configure_runtime(device=args.device, dtype=args.dtype)
    return AppSettings(
        host=args.host, port=args.port, share=args.share, auth=auth, preset=args.preset,
        overrides=overrides, max_file_size=args.max_file_size, concurrency=args.concurrency,
        queue_size=args.queue_size, max_gallery=args.max_gallery,
        runs_dir=args.runs_dir or AppSettings().runs_dir,
        limits=MediaLimits(max_pixels=args.max_pixels, max_audio_seconds=args.max_audio_seconds,
                           max_text_chars=args.max_text_chars),
    )


def apply_model_settings(settings: AppSettings) -> None:
    """Choose the preset (resolving ``auto``) and apply per-role overrides."""
    choice = choose_preset(settings.preset)
    registry.use_preset(choice.preset)
    settings.preset, settings.preset_reason = choice.preset, choice.reason
    for role, reference in settings.overrides.items():
        registry.set_default_model(role, reference)


# -------------------------------------------------------------------------------------- helpers


class UploadedImage(gr.Image):
    """``gr.Image`` whose upload reaches mmdemo as the untouched file: gradio's own preprocessing
    decodes and converts non-RGB uploads before mmdemo's header-only limit check can refuse them,
    and fails with messages that show the server's upload path."""

    def get_block_name(self) -> str:
        return "image"  # the same front-end component as gr.Image

    def preprocess(self, payload):
        if (self.type == "filepath" and payload is not None and payload.path is not None
                and not (payload.url or "").startswith("data:")):
            return str(payload.path)
        return super().preprocess(payload)


def user_errors(fn: Callable) -> Callable:
    """Turn mmdemo's errors (and bad values) into a ``gr.Error`` with the same message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MmdemoError, ValueError) as err:
            raise gr.Error(str(err), print_exception=False) from err

    return wrapper


def require(value: Any, what: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise gr.Error(f"Please provide {what} first.", print_exception=False)
    return value


def model_status() -> str:
    """One line per role: the model, preset, device and dtype it uses (before or after loading)."""
    device = resolve_device()
    loaded = {item.spec.name for item in loaded_models()}
    parts = []
    for role in registry.ROLES:
        spec = registry.get_model_spec(registry.default_model(role))
        dtype = str(resolve_dtype(spec, device)).removeprefix("torch.")
        if spec.name in loaded:
            state = "loaded"
        elif spec.is_local and not is_available_offline(spec):
            state = "**missing**: " + ("run `python -m mmdemo pretrain`" if spec.preset == "bundled" else "folder not found")
        else:
            state = "loads on first use"
        parts.append(f"{role}: `{spec.name}` ({spec.preset}, {device.type}, {dtype}, {state})")
    header = f"**Models: {registry.active_preset()} preset** ({SETTINGS.preset_reason or 'default'})"
    return header + "  \n" + " · ".join(parts)


def default_template() -> str:
    """The zero-shot prompt template for the active preset: the bundled CLIP learnt short captions."""
    return "a {}." if registry.active_preset() == "bundled" else "a photo of a {}."


def examples(*names: str) -> list[str]:
    """Paths of example files under ``assets/examples`` that exist."""
    return [str(EXAMPLES_DIR / name) for name in names if (EXAMPLES_DIR / name).is_file()]


# ------------------------------------------------------------------------------------ handlers


@user_errors
def caption_image(image: str, strategy: str, num_captions: float, num_beams: float,
                  max_new_tokens: float, top_p: float, temperature: float, prefix: str,
                  seed: float, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, list[list[Any]]]:
    """Caption an image; returns the best caption and a table of (caption, score)."""
    require(image, "an image")
    decoding = mmdemo.DecodingConfig(
        strategy=strategy, num_captions=int(num_captions), num_beams=int(num_beams),
        max_new_tokens=int(max_new_tokens), top_p=float(top_p), temperature=float(temperature),
        seed=int(seed),
    )
    out = mmdemo.caption(image, prefix=prefix or None, decoding=decoding, limits=SETTINGS.limits)
    table = [[c.text, round(c.score, 4)] for c in out.captions]
    return out.best, table


@user_errors
def answer_question(image: str, question: str, history: list[dict] | None,
                    progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, float, list[dict]]:
    """Answer a question about an image; appends to the running history for this image."""
    require(image, "an image")
    require(question, "a question")
    out = mmdemo.answer(image, question, limits=SETTINGS.limits)
    history = list(history or [])
    history.append({"role": "user", "content": out.question})
    shown = out.answer or "(the model gave no answer)"
    history.append({"role": "assistant", "content": f"{shown}  ({out.confidence:.0%})"})
    return out.answer, round(out.confidence, 4), history


def clear_history(_image: Any) -> list[dict]:
    return []


@user_errors
def zero_shot(image: str, labels: str, template: str,
              progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[str, float]:
    """Zero-shot label probabilities for an image (a dict for ``gr.Label``)."""
    require(image, "an image")
    require(labels, "some labels")
    out = mmdemo.zero_shot_classify(image, labels, template or default_template(), limits=SETTINGS.limits)
    return dict(out.ranked())


# ----------------------------------------------------------------------------------- retrieval

GALLERY_DIR = EXAMPLES_DIR / "world"
MODALITY_FILTERS = ["any", "image", "text", "audio"]


def new_gallery_index() -> Any:
    """A visitor's retrieval index, preloaded with the example gallery (vectors come from the cache)."""
    from mmdemo.retrieval import RetrievalIndex

    index = RetrievalIndex()
    if GALLERY_DIR.is_dir():
        index.add_folder(GALLERY_DIR)
    return index


def _gallery_summary(index: Any) -> str:
    counts = index.counts()
    parts = ", ".join(f"{counts.get(m, 0)} {m}" for m in ("image", "text", "audio"))
    return f"Gallery: {len(index)} items ({parts}); limit {SETTINGS.max_gallery}."


@user_errors
def retrieval_add(files: list[str] | None, texts: str, index: Any,
                  progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, Any]:
    """Add uploaded files and typed texts (one per line) to this visitor's gallery."""
    index = index if index is not None else new_gallery_index()
    new_texts = [line.strip() for line in (texts or "").splitlines() if line.strip()]
    files = list(files or [])
    if not files and not new_texts:
        raise gr.Error("Upload files or type texts (one per line) to add.", print_exception=False)
    if len(index) + len(files) + len(new_texts) > SETTINGS.max_gallery:
        raise gr.Error(
            f"The gallery holds at most {SETTINGS.max_gallery} items; it has {len(index)} and you "
            f"are adding {len(files) + len(new_texts)}.", print_exception=False,
        )
    notes = []
    if files:
        report = index.add_files(files)
        notes += [f"skipped {Path(item.path).name}: {item.reason}" for item in report.failed]
        notes += [f"ignored {Path(path).name}: not an image, audio or .txt file" for path in report.ignored]
    if new_texts:
        for text in new_texts:
            mmdemo.clean_text(text, SETTINGS.limits)
        index.add_texts(new_texts)
    summary = _gallery_summary(index)
    return summary + ("\n" + "\n".join(notes) if notes else ""), index


def retrieval_reset(_index: Any) -> tuple[str, Any]:
    """Back to the example gallery."""
    index = new_gallery_index()
    return _gallery_summary(index), index


@user_errors
def retrieval_search(query_text: str, query_image: str | None, query_audio: str | None, k: float,
                     modality: str, index: Any, progress: gr.Progress = gr.Progress(track_tqdm=True),
                     ) -> tuple[list[tuple[str, str]], list[list[Any]], Any]:
    """Search the gallery with one query (text, image or audio); top-k as a gallery and a table."""
    index = index if index is not None else new_gallery_index()
    kind, value = exactly_one_query({"text": query_text, "image": query_image, "audio": query_audio})
    if kind == "text":
        value = mmdemo.clean_text(value, SETTINGS.limits, what="query")
    result = index.query(**{kind: value}, k=int(k), modality=None if modality == "any" else modality)
    gallery, table = [], []
    for hit in result.hits:
        caption = f"#{hit.rank} · {hit.score:.3f} · {hit.modality}"
        if hit.modality == "image":
            gallery.append((hit.source, caption))
        table.append([hit.rank, round(hit.score, 4), hit.modality, _shown_item(hit), hit.label or ""])
    return gallery, table, index


def _shown_item(hit: Any) -> str:
    """What the results table shows of a hit: a file's name (never a server path) or a typed text."""
    if hit.modality == "text" and hit.id.startswith("text:"):
        return hit.source
    return Path(hit.source).name


# ----------------------------------------------------------------------- fusion heads (classify)

BUNDLED_HEADS_DIR = registry.BUNDLED_DIR / "heads"


def available_heads(session_heads: dict[str, str] | None) -> dict[str, str]:
    """Head name -> folder: the bundled heads, then this visitor's trained ones."""
    heads = {}
    if BUNDLED_HEADS_DIR.is_dir():
        for folder in sorted(BUNDLED_HEADS_DIR.iterdir()):
            if (folder / "head.json").is_file():
                heads[f"bundled/{folder.name}"] = str(folder)
    heads.update(session_heads or {})
    return heads


_HEAD_CACHE: dict[str, Any] = {}
_HEAD_LOCK = threading.Lock()


def load_head(folder: str) -> Any:
    from mmdemo.training.head import FusionHead

    with _HEAD_LOCK:
        if folder not in _HEAD_CACHE:
            _HEAD_CACHE[folder] = FusionHead.load(folder)
        return _HEAD_CACHE[folder]


@user_errors
def classify_with_head(head_name: str, text: str, image: str | None, audio: str | None,
                       session_heads: dict[str, str] | None,
                       progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[dict[str, float], Any, str]:
    """Label probabilities and per-modality contributions from a fusion head; any input may be missing."""
    import pandas as pd

    heads = available_heads(session_heads)
    if not head_name or head_name not in heads:
        raise gr.Error(
            "Choose a fusion head (train one in the Fusion Lab tab"
            + (f"; available: {', '.join(heads)}" if heads else "") + ").", print_exception=False,
        )
    head = load_head(heads[head_name])
    text = mmdemo.clean_text(text, SETTINGS.limits) if text and text.strip() else None
    prediction = head.predict(text=text, image=image, audio=audio)
    task = prediction.task
    chart = pd.DataFrame(
        {"modality": list(prediction.contributions), "contribution": [round(v, 4) for v in prediction.contributions.values()]}
    )
    note = (f"Task **{task}** · strategy **{head.strategy}** · contributions: {prediction.contribution_kind} · "
            f"inputs used: {', '.join(prediction.used)}")
    others = [f"{name}: **{label}** ({prediction.probabilities[name][label]:.0%})"
              for name, label in prediction.labels.items() if name != task]
    if others:
        note += "  \nOther tasks of this head: " + " · ".join(others)
    if prediction.transcript:
        note += f" · heard: “{prediction.transcript}”"
    return prediction.probabilities[task], chart, note


def refresh_heads(session_heads: dict[str, str] | None) -> Any:
    choices = list(available_heads(session_heads))
    return gr.Dropdown(choices=choices, value=choices[-1] if choices else None)


# ---------------------------------------------------------------------------------- Fusion Lab


@dataclass
class LabOutputs:
    """What the Fusion Lab tab shows after a run (one field per output component)."""

    summary: str
    table: list[list[Any]]
    learning_curves: Any
    metric_bars: Any
    confusion: Any
    fused_map: Any
    ablation: Any
    archive: str


@user_errors
def train_fusion_lab(source: str, samples: float, upload: str | None, labels: str,
                     strategies: list[str], epochs: float, batch_size: float, optimizer: str,
                     lr: float, schedule: str, weight_decay: float, l1: float, feature_noise: float,
                     modality_dropout: float, patience: float, seed: float,
                     session_heads: dict[str, str] | None,
                     progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    """Train the chosen strategies on one split and compare them."""
    from mmdemo.lab import prepare_data, run_lab, world_manifest
    from mmdemo.training.trainer import TrainConfig

    if not strategies:
        raise gr.Error("Choose at least one fusion strategy.", print_exception=False)
    workdir = SETTINGS.runs_dir / uuid.uuid4().hex[:12]
    progress(0.0, desc="preparing data")
    if source == "bundled world":
        manifest = world_manifest(SETTINGS.runs_dir / "worlds", int(samples), seed=int(seed))
    else:
        require(upload, "a manifest (.csv / .jsonl) or a .zip of one with its files")
        manifest = prepare_data(upload, workdir)
    config = TrainConfig(
        epochs=int(epochs), batch_size=int(batch_size), optimizer=optimizer, lr=float(lr),
        schedule=schedule, weight_decay=float(weight_decay), l1=float(l1),
        feature_noise=float(feature_noise), modality_dropout=float(modality_dropout),
        patience=int(patience), seed=int(seed),
    )
    label_columns = [c.strip() for c in (labels or "").split(",") if c.strip()] or None
    run = run_lab(manifest, strategies, config, out_dir=workdir / "run", label_columns=label_columns,
                  progress=lambda event: progress(event.fraction, desc=event.message))
    comparison = run.comparison
    task = comparison.tasks[0]
    figures = comparison.figures(task)
    table = [[r.strategy, r.task, round(r.accuracy, 4), round(r.macro_f1, 4),
              None if r.auroc != r.auroc else round(r.auroc, 4), r.n_parameters,
              None if r.train_seconds is None else round(r.train_seconds, 2), r.best_epoch]
             for r in comparison.rows()]
    best = comparison.best(task)
    summary = (f"Trained {len(run.heads)} strategies on {comparison.n_samples} {comparison.subset} samples "
               f"scored (task **{task}**) in {run.seconds:.1f} s. Best macro-F1: **{best}**.")
    if run.bad_rows:
        shown = "; ".join(str(bad) for bad in run.bad_rows[:10])
        summary += f"\n\nSkipped {len(run.bad_rows)} bad row(s): {shown}"
    session_heads = dict(session_heads or {})
    run_id = workdir.name[:6]
    for strategy, folder in run.heads.items():
        session_heads[f"run-{run_id}/{strategy}"] = str(folder)
    outputs = LabOutputs(summary, table, figures.learning_curves, figures.metric_bars,
                         figures.confusion_matrices, figures.fused_map, figures.ablation, str(run.archive))
    return (*vars(outputs).values(), session_heads)


# ----------------------------------------------------------------------------------------- tabs


def _concurrency(role: str) -> dict[str, Any]:
    return {"concurrency_limit": SETTINGS.concurrency, "concurrency_id": role}


def build_caption_tab() -> None:
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label="Image", sources=["upload", "clipboard", "webcam"])
            prefix = gr.Textbox(label="Text prefix (optional: the caption continues it)")
            with gr.Accordion("Decoding", open=False):
                strategy = gr.Radio(["greedy", "beam", "sample"], value="greedy", label="Strategy")
                num_captions = gr.Slider(1, 5, value=1, step=1, label="Captions (beam / sample)")
                num_beams = gr.Slider(1, 10, value=3, step=1, label="Beams")
                max_new_tokens = gr.Slider(5, 60, value=30, step=1, label="Max new tokens")
                top_p = gr.Slider(0.1, 1.0, value=0.9, step=0.05, label="top-p (sample)")
                temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.1, label="Temperature (sample)")
                seed = gr.Number(value=0, precision=0, label="Seed (sample)")
            button = gr.Button("Caption", variant="primary")
        with gr.Column():
            best = gr.Textbox(label="Caption", elem_id="caption-output")
            table = gr.Dataframe(headers=["caption", "score"], label="All captions", interactive=False,
                                 elem_id="caption-table")
    inputs = [image, strategy, num_captions, num_beams, max_new_tokens, top_p, temperature, prefix, seed]
    button.click(caption_image, inputs, [best, table], api_name="caption", **_concurrency("caption"))
    example_images = examples("world/scene_2.png", "world/scene_3.png", "world/scene_1.png")
    if example_images:
        gr.Examples([[path] for path in example_images], inputs=[image], label="Examples")


def build_qa_tab() -> None:
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label="Image", elem_id="qa-image")
            question = gr.Textbox(label="Question", placeholder="What colour is the shape?", elem_id="qa-question")
            button = gr.Button("Answer", variant="primary")
        with gr.Column():
            answer = gr.Textbox(label="Answer", elem_id="answer-output")
            confidence = gr.Number(label="Confidence")
            history = gr.Chatbot(label="Questions about this image", height=300)
    button.click(answer_question, [image, question, history], [answer, confidence, history],
                 api_name="answer", **_concurrency("vqa"))
    question.submit(answer_question, [image, question, history], [answer, confidence, history],
                    api_name="answer_submit", **_concurrency("vqa"))
    image.change(clear_history, [image], [history], api_name="clear_history")
    example_images = examples("world/scene_2.png", "world/scene_1.png")
    if example_images:
        gr.Examples(
            [[example_images[0], "what colour is the square?"], [example_images[-1], "how many shapes are there?"]],
            inputs=[image, question], label="Examples",
        )


def build_classify_tab() -> None:
    with gr.Tab("Zero-shot (CLIP)"):
        with gr.Row():
            with gr.Column():
                image = UploadedImage(type="filepath", label="Image", elem_id="zero-shot-image")
                labels = gr.Textbox(label="Labels (comma-separated)", value="red square, yellow triangle, green circle",
                                    elem_id="zero-shot-labels")
                template = gr.Textbox(label="Prompt template", value=default_template())
                button = gr.Button("Classify", variant="primary")
            with gr.Column():
                result = gr.Label(label="Label probabilities", num_top_classes=10, elem_id="zero-shot-output")
        button.click(zero_shot, [image, labels, template], [result], api_name="zero_shot",
                     **_concurrency("image-text"))
        example_images = examples("world/scene_2.png", "world/scene_3.png")
        if example_images:
            gr.Examples([[p] for p in example_images], inputs=[image], label="Examples")


def build_fusion_head_tab(session_heads: gr.State) -> gr.Dropdown:
    with gr.Tab("Fusion head (text + image + audio)"):
        gr.Markdown("A head trained in the Fusion Lab (or a bundled one). Any input may be left empty.")
        with gr.Row():
            with gr.Column():
                choices = list(available_heads(None))
                head = gr.Dropdown(choices, value=choices[0] if choices else None, label="Fusion head")
                text = gr.Textbox(label="Text")
                image = UploadedImage(type="filepath", label="Image")
                audio = gr.Audio(type="filepath", label="Audio")
                button = gr.Button("Classify", variant="primary")
            with gr.Column():
                probabilities = gr.Label(label="Label probabilities", num_top_classes=10)
                contributions = gr.BarPlot(x="modality", y="contribution", title="Modality contributions",
                                           label="Contributions")
                note = gr.Markdown()
        button.click(classify_with_head, [head, text, image, audio, session_heads],
                     [probabilities, contributions, note], api_name="classify_fusion",
                     **_concurrency("image-text"))
        world = examples("world/scene_3.png")
        audio_examples = examples("world/sound_3.wav")
        if world and audio_examples:
            gr.Examples([["the yellow triangle is large.", world[0], audio_examples[0]],
                         ["the yellow triangle is small.", world[0], None]],
                        inputs=[text, image, audio], label="Examples")
    return head


def build_retrieval_tab() -> None:
    index = gr.State(None)
    with gr.Row():
        with gr.Column():
            query_text = gr.Textbox(label="Query text", placeholder="a red circle", elem_id="retrieval-query")
            query_image = UploadedImage(type="filepath", label="…or query image")
            query_audio = gr.Audio(type="filepath", label="…or query audio")
            with gr.Row():
                k = gr.Slider(1, 20, value=5, step=1, label="Top k")
                modality = gr.Radio(MODALITY_FILTERS, value="any", label="Return")
            search = gr.Button("Search", variant="primary")
        with gr.Column():
            results = gr.Gallery(label="Image results", columns=5, height=260, elem_id="retrieval-gallery")
            table = gr.Dataframe(headers=["rank", "score", "modality", "item", "label"], label="All results",
                                 interactive=False)
    with gr.Accordion("Gallery: add your own images, audio and texts", open=False):
        summary = gr.Markdown("The gallery starts with the bundled examples.")
        files = gr.File(file_count="multiple", label="Images / audio / .txt files")
        texts = gr.Textbox(label="Texts (one per line)", lines=3)
        with gr.Row():
            add = gr.Button("Add to gallery")
            reset = gr.Button("Reset gallery")
    search.click(retrieval_search, [query_text, query_image, query_audio, k, modality, index],
                 [results, table, index], api_name="retrieve", **_concurrency("image-text"))
    add.click(retrieval_add, [files, texts, index], [summary, index], api_name="gallery_add",
              **_concurrency("image-text"))
    reset.click(retrieval_reset, [index], [summary, index], api_name="gallery_reset")
    gr.Examples([["a red circle"], ["two shapes"]], inputs=[query_text], label="Text queries")
    query_examples = examples("world/scene_1.png")
    if query_examples:
        gr.Examples([[p] for p in query_examples], inputs=[query_image], label="Image queries")
    audio_examples = examples("world/sound_0.wav")
    if audio_examples:
        gr.Examples([[p] for p in audio_examples], inputs=[query_audio], label="Audio queries")


def build_fusion_lab_tab(session_heads: gr.State, head_dropdown: gr.Dropdown) -> None:
    from mmdemo.fusion.registry import list_fusions
    from mmdemo.training.optim import OPTIMIZERS, SCHEDULES
    from mmdemo.training.trainer import TrainConfig

    defaults = TrainConfig()
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio(["bundled world", "upload"], value="bundled world", label="Data")
            samples = gr.Slider(100, 5000, value=1500, step=100, label="Bundled world: samples")
            upload = gr.File(label="Upload: manifest (.csv/.jsonl) or .zip with its files",
                             file_types=[".csv", ".tsv", ".jsonl", ".zip"])
            labels = gr.Textbox(label="Label columns (comma-separated; empty: all)")
            strategies = gr.CheckboxGroup(list_fusions(), value=["concat", "late", "gmu", "lmf", "attention"],
                                          label="Fusion strategies")
            with gr.Accordion("Training settings", open=False):
                epochs = gr.Slider(1, 200, value=defaults.epochs, step=1, label="Epochs")
                batch_size = gr.Slider(8, 512, value=defaults.batch_size, step=8, label="Batch size")
                optimizer = gr.Dropdown(list(OPTIMIZERS), value=defaults.optimizer, label="Optimizer")
                lr = gr.Number(value=defaults.lr, label="Learning rate")
                schedule = gr.Dropdown(list(SCHEDULES), value=defaults.schedule, label="LR schedule")
                weight_decay = gr.Number(value=defaults.weight_decay, label="Weight decay (L2)")
                l1 = gr.Number(value=defaults.l1, label="L1")
                feature_noise = gr.Slider(0, 1, value=defaults.feature_noise, step=0.05, label="Feature noise")
                modality_dropout = gr.Slider(0, 0.9, value=defaults.modality_dropout, step=0.05, label="Modality dropout")
                patience = gr.Slider(0, 50, value=defaults.patience, step=1, label="Early-stopping patience (0: off)")
                seed = gr.Number(value=defaults.seed, precision=0, label="Seed")
            train = gr.Button("Train and compare", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="lab-summary")
            table = gr.Dataframe(headers=["strategy", "task", "accuracy", "macro-F1", "AUROC", "parameters",
                                          "seconds", "best epoch"], label="Comparison", interactive=False)
            with gr.Row():
                curves = gr.Plot(label="Learning curves", elem_id="lab-curves")
                bars = gr.Plot(label="Metrics")
            with gr.Row():
                confusion = gr.Plot(label="Confusion matrices")
                fused = gr.Plot(label="Fused vectors (PCA)")
            ablation = gr.Plot(label="Modality ablation")
            download = gr.File(label="Trained heads + report (zip)")
    inputs = [source, samples, upload, labels, strategies, epochs, batch_size, optimizer, lr, schedule,
              weight_decay, l1, feature_noise, modality_dropout, patience, seed, session_heads]
    outputs = [summary, table, curves, bars, confusion, fused, ablation, download, session_heads]
    train.click(train_fusion_lab, inputs, outputs, api_name="train_fusion", concurrency_limit=1,
                concurrency_id="fusion-lab").then(
        refresh_heads, [session_heads], [head_dropdown], api_name="refresh_heads")


def build_app() -> gr.Blocks:
    with gr.Blocks(title="mmdemo: multimodal playground") as demo:
        gr.Markdown("# mmdemo: a multimodal model playground")
        status = gr.Markdown(model_status(), elem_id="model-status")
        session_heads = gr.State({})
        with gr.Tabs():
            with gr.Tab("Captioning"):
                build_caption_tab()
            with gr.Tab("Image QA"):
                build_qa_tab()
            with gr.Tab("Classification"):
                with gr.Tabs():
                    build_classify_tab()
                    head_dropdown = build_fusion_head_tab(session_heads)
            with gr.Tab("Retrieval"):
                build_retrieval_tab()
            with gr.Tab("Fusion Lab"):
                build_fusion_lab_tab(session_heads, head_dropdown)
        demo.load(model_status, None, status, api_name="status")
    return demo


def main(argv: list[str] | None = None) -> None:
    global SETTINGS
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    SETTINGS = parse_args(argv)
    apply_model_settings(SETTINGS)
    logger.info("Preset %s: %s", SETTINGS.preset, SETTINGS.preset_reason)
    demo = build_app()
    demo.queue(max_size=SETTINGS.queue_size, default_concurrency_limit=SETTINGS.concurrency)
    demo.launch(
        server_name=SETTINGS.host,
        server_port=SETTINGS.port,
        share=SETTINGS.share,
        auth=SETTINGS.auth or None,
        max_file_size=SETTINGS.max_file_size,
        show_error=True,
        ssr_mode=False,  # see docs/SECURITY.md (CVE-2026-134825)
        run_history=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
