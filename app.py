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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

import mmdemo
from mmdemo import registry
from mmdemo.errors import MmdemoError
from mmdemo.loading import choose_preset, configure_runtime, loaded_models, resolve_device, resolve_dtype
from mmdemo.media import MediaLimits

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
    if args.concurrency < 1 or args.queue_size < 1:
        parser.error("--concurrency and --queue-size must be at least 1")
    overrides = {
        role: getattr(args, f"model_{role.replace('-', '_')}")
        for role in registry.ROLES
        if getattr(args, f"model_{role.replace('-', '_')}")
    }
    configure_runtime(device=args.device, dtype=args.dtype)
    return AppSettings(
        host=args.host, port=args.port, share=args.share, auth=auth, preset=args.preset,
        overrides=overrides, max_file_size=args.max_file_size, concurrency=args.concurrency,
        queue_size=args.queue_size,
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
        state = "loaded" if spec.name in loaded else "loads on first use"
        parts.append(f"{role}: `{spec.name}` ({spec.preset}, {device.type}, {dtype}, {state})")
    header = f"**Models: {registry.active_preset()} preset** ({SETTINGS.preset_reason or 'default'})"
    return header + "  \n" + " · ".join(parts)


def examples(*names: str) -> list[str]:
    """Paths of example files under ``assets/examples`` that exist."""
    return [str(EXAMPLES_DIR / name) for name in names if (EXAMPLES_DIR / name).is_file()]


# ------------------------------------------------------------------------------------ handlers


@user_errors
def caption_image(image: str, strategy: str, num_captions: float, num_beams: float,
                  max_new_tokens: float, top_p: float, temperature: float, prefix: str,
                  seed: float) -> tuple[str, list[list[Any]]]:
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
def answer_question(image: str, question: str, history: list[dict] | None) -> tuple[str, float, list[dict]]:
    """Answer a question about an image; appends to the running history for this image."""
    require(image, "an image")
    require(question, "a question")
    out = mmdemo.answer(image, question, limits=SETTINGS.limits)
    history = list(history or [])
    history.append({"role": "user", "content": out.question})
    history.append({"role": "assistant", "content": f"{out.answer}  ({out.confidence:.0%})"})
    return out.answer, round(out.confidence, 4), history


def clear_history(_image: Any) -> list[dict]:
    return []


@user_errors
def zero_shot(image: str, labels: str, template: str) -> dict[str, float]:
    """Zero-shot label probabilities for an image (a dict for ``gr.Label``)."""
    require(image, "an image")
    require(labels, "some labels")
    out = mmdemo.zero_shot_classify(image, labels, template or "a photo of a {}.", limits=SETTINGS.limits)
    return dict(out.ranked())


# ----------------------------------------------------------------------------------------- tabs


def _concurrency(role: str) -> dict[str, Any]:
    return {"concurrency_limit": SETTINGS.concurrency, "concurrency_id": role}


def build_caption_tab() -> None:
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", label="Image", sources=["upload", "clipboard", "webcam"])
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
            table = gr.Dataframe(headers=["caption", "score"], label="All captions", interactive=False)
    inputs = [image, strategy, num_captions, num_beams, max_new_tokens, top_p, temperature, prefix, seed]
    button.click(caption_image, inputs, [best, table], api_name="caption", **_concurrency("caption"))
    example_images = examples("world/scene_0.png", "world/scene_1.png", "world/scene_2.png")
    if example_images:
        gr.Examples([[path] for path in example_images], inputs=[image], label="Examples")


def build_qa_tab() -> None:
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="filepath", label="Image")
            question = gr.Textbox(label="Question", placeholder="What colour is the shape?")
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
    example_images = examples("world/scene_0.png", "world/scene_1.png")
    if example_images:
        gr.Examples(
            [[example_images[0], "what color is the shape?"], [example_images[-1], "how many shapes are there?"]],
            inputs=[image, question], label="Examples",
        )


def build_classify_tab() -> None:
    with gr.Tab("Zero-shot (CLIP)"):
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Image")
                labels = gr.Textbox(label="Labels (comma-separated)", value="red circle, blue square, green triangle")
                template = gr.Textbox(label="Prompt template", value="a photo of a {}.")
                button = gr.Button("Classify", variant="primary")
            with gr.Column():
                result = gr.Label(label="Label probabilities", num_top_classes=10)
        button.click(zero_shot, [image, labels, template], [result], api_name="zero_shot",
                     **_concurrency("image-text"))
        example_images = examples("world/scene_0.png", "world/scene_1.png")
        if example_images:
            gr.Examples([[p] for p in example_images], inputs=[image], label="Examples")


def build_app() -> gr.Blocks:
    with gr.Blocks(title="mmdemo: multimodal playground") as demo:
        gr.Markdown("# mmdemo: a multimodal model playground")
        status = gr.Markdown(model_status(), elem_id="model-status")
        with gr.Tabs():
            with gr.Tab("Captioning"):
                build_caption_tab()
            with gr.Tab("Image QA"):
                build_qa_tab()
            with gr.Tab("Classification"):
                build_classify_tab()
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
    )


if __name__ == "__main__":
    main(sys.argv[1:])
