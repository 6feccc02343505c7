"""What ``python app.py`` can be told: :class:`AppSettings`, its command line and ``--auth`` pairs."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mmdemo import presets, registry
from mmdemo.loading import configure_runtime
from mmdemo.presets import choose_preset
from mmdemo.media import MediaLimits
from mmdemo.runtimes import RUNTIME_CHOICES
from webapp import limits as share_limits_flags
from webapp.i18n import LANGS
from webapp.limits import ShareLimits


@dataclass(frozen=True)
class AppSettings:
    """Everything ``python app.py`` can be told; defaults are safe for a shared demo.

    Attributes:
        host: interface to listen on (``127.0.0.1``: this machine only; ``0.0.0.0``: the network).
        port: port to listen on (None: the first free one from 7860).
        share: create a public gradio.live link.
        auth: ``user:password`` pairs that may log in (empty: no login).
        preset: ``auto``, ``pretrained``, ``offline`` or ``bundled`` (see :mod:`mmdemo.presets`).
        overrides: role -> model name, hub id or local folder.
        device: ``auto``, ``cpu`` or ``cuda`` (see :func:`mmdemo.loading.configure_runtime`).
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        runtime: the CLIP towers' inference runtime, ``auto``, ``torch`` or ``openvino`` (None:
            ``$MMDEMO_RUNTIME``, else ``auto``; see :mod:`mmdemo.runtimes`).
        max_file_size: largest upload, e.g. ``"25mb"``.
        concurrency: most requests one heavy model runs at once.
        queue_size: most requests waiting in the queue; more get a "busy" answer.
        limits: decoded-media limits (pixels, audio seconds, text length).
        max_gallery: most items in one visitor's retrieval gallery.
        runs_dir: where Fusion Lab runs (heads, reports) are written.
        preset_reason: why this preset was chosen (shown on the page; set by
            :func:`apply_model_settings`).
        mcp: also serve the app's capabilities as MCP tools at ``/gradio_api/mcp/`` (see
            :mod:`webapp.mcp_tools`).
        share_limits: disk, memory and per-visitor limits for a shared link (:class:`ShareLimits`).
        lang: the page's language: ``auto`` (the browser's: Simplified Chinese for ``zh-CN``,
            else English), ``en`` or ``zh-CN`` (see :mod:`webapp.i18n`).
    """

    host: str = "127.0.0.1"
    port: int | None = None
    share: bool = False
    auth: list[tuple[str, str]] = field(default_factory=list)
    preset: str = "auto"
    overrides: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "auto"
    runtime: str | None = None
    max_file_size: str = "25mb"
    concurrency: int = 1
    queue_size: int = 64
    limits: MediaLimits = field(default_factory=MediaLimits)
    max_gallery: int = 500
    runs_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mmdemo-runs")
    preset_reason: str = ""
    mcp: bool = False
    share_limits: ShareLimits = field(default_factory=ShareLimits)
    lang: str = "auto"


def env_host() -> str:
    """The interface to listen on when ``--host`` is not given: ``GRADIO_SERVER_NAME`` (what a
    Hugging Face Space or the Dockerfile sets, ``0.0.0.0``), else ``127.0.0.1``."""
    return os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"


def env_port() -> int | None:
    """The port when ``--port`` is not given: ``GRADIO_SERVER_PORT``, else ``PORT`` (Spaces and
    container platforms), else None (the first free one from 7860)."""
    value = os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Bad port {value!r} in GRADIO_SERVER_PORT / PORT; use a number") from None


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is ``1``, ``true``, ``yes`` or ``on``."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def parse_auth(values: list[str]) -> list[tuple[str, str]]:
    """``["user:password", …]`` -> pairs; raises ValueError naming a malformed entry."""
    pairs = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"Bad --auth value {value!r}; use user:password")
        pairs.append((user, password))
    return pairs


def _model_dest(role: str) -> str:
    return f"model_{role.replace('-', '_')}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="mmdemo: a multimodal model playground (captioning, image QA, classification, "
        "retrieval, Fusion Lab) in the browser.",
    )
    parser.add_argument("--host", default=None, help="interface to listen on (default: GRADIO_SERVER_NAME, else "
                        "127.0.0.1; 0.0.0.0 for the network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT or PORT, else the "
                        "first free one from 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument(
        "--auth", action="append", default=[], metavar="USER:PASSWORD",
        help="require a login (repeatable); or set MMDEMO_AUTH='user:pw,user2:pw2'",
    )
    parser.add_argument("--preset", default="auto", choices=["auto", *presets.PRESETS],
                        help="model preset (default: auto = pretrained when cached or online, else offline "
                        "(real ImageNet photos and English speech from pip-installed weights), else bundled "
                        "(the shapes world))")
    for role in registry.ROLES:
        parser.add_argument(f"--{role}-model", dest=_model_dest(role), metavar="NAME|HUB_ID|FOLDER",
                            help=f"override the {role} model (choices include: {', '.join(registry.list_models(role))})")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="device (default: auto)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="compute dtype (default: auto = the measured fast path; float32 turns it off)")
    parser.add_argument("--runtime", default=None, choices=list(RUNTIME_CHOICES),
                        help="inference runtime of the CLIP towers (default: MMDEMO_RUNTIME, else auto = OpenVINO "
                        "on CPU, measured faster; torch turns it off)")
    parser.add_argument("--max-file-size", default="25mb", help="largest upload (default: 25mb)")
    parser.add_argument("--max-pixels", type=int, default=MediaLimits.max_pixels, help="largest decoded image, in pixels")
    parser.add_argument("--max-audio-seconds", type=float, default=MediaLimits.max_audio_seconds, help="longest audio clip")
    parser.add_argument("--max-text-chars", type=int, default=MediaLimits.max_text_chars, help="longest text")
    parser.add_argument("--max-gallery", type=int, default=500, help="most items in one visitor's retrieval gallery")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where Fusion Lab runs are written (default: a temp folder)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests one heavy model runs at once (default: 1)")
    parser.add_argument("--queue-size", type=int, default=64, help="requests that may wait; more are told the app is busy")
    parser.add_argument("--mcp", action="store_true", help="also serve the app's tools to AI agents over MCP at "
                        "/gradio_api/mcp/ (or set MMDEMO_MCP=1)")
    parser.add_argument("--lang", default=None, choices=list(LANGS),
                        help="the page's language (default: MMDEMO_LANG, else auto = the browser's: Simplified "
                        "Chinese for zh-CN, else English)")
    share_limits_flags.add_arguments(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> AppSettings:
    """The settings a command line (and ``MMDEMO_AUTH``, ``MMDEMO_MCP``, ``MMDEMO_LANG``, ``GRADIO_SERVER_NAME``,
    ``GRADIO_SERVER_PORT`` / ``PORT``) asks for; exits with usage on a bad value."""
    parser = build_parser()
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
    try:
        port = args.port if args.port is not None else env_port()
    except ValueError as err:
        parser.error(str(err))
    overrides = {role: getattr(args, _model_dest(role)) for role in registry.ROLES if getattr(args, _model_dest(role))}
    lang = args.lang or os.environ.get("MMDEMO_LANG") or "auto"
    if lang not in LANGS:
        parser.error(f"MMDEMO_LANG={lang!r} is not one of {', '.join(LANGS)}")
    try:
        limits = share_limits_flags.from_args(args)
    except ValueError as err:
        parser.error(str(err))
    return AppSettings(
        host=args.host or env_host(), port=port, share=args.share, auth=auth, preset=args.preset,
        mcp=args.mcp or env_flag("MMDEMO_MCP"),
        overrides=overrides, device=args.device, dtype=args.dtype, runtime=args.runtime, max_file_size=args.max_file_size,
        concurrency=args.concurrency, queue_size=args.queue_size, max_gallery=args.max_gallery,
        runs_dir=args.runs_dir or AppSettings().runs_dir,
        limits=MediaLimits(max_pixels=args.max_pixels, max_audio_seconds=args.max_audio_seconds,
                           max_text_chars=args.max_text_chars),
        share_limits=limits, lang=lang,
    )


def apply_model_settings(settings: AppSettings) -> AppSettings:
    """Set the device and dtype, choose the preset (resolving ``auto``) and apply per-role overrides.

    Returns ``settings`` with the preset that was chosen and why.
    """
    configure_runtime(device=settings.device, dtype=settings.dtype, runtime=settings.runtime)
    choice = choose_preset(settings.preset)
    presets.use_preset(choice.preset)
    for role, reference in settings.overrides.items():
        registry.set_default_model(role, reference)
    return dataclasses.replace(settings, preset=choice.preset, preset_reason=choice.reason)
