"""The app's capabilities as tools for AI agents (MCP), served by gradio's own MCP server.

``python app.py --mcp`` (or ``MMDEMO_MCP=1``) registers the functions below with ``gr.api`` (API
only: no components, typed from their hints, described by their docstrings) and launches with
``mcp_server=True``; :mod:`webapp.mcp_access` then lets the MCP endpoint (``/gradio_api/mcp/``) show
only these tools, and ask for the ``--auth`` login. The page's own events stay what they were (every
``api_name`` still answers gradio_client) but are not MCP tools: their inputs and outputs are shaped
for the page (sliders, tables, a visitor's state), and the page-only ones (clear, reset, refresh,
redraw) mean nothing to an agent.

Each tool calls :mod:`mmdemo` and returns a JSON object as text. gradio reads the tools' docstrings
for the agent: the description may wrap, but each ``Args:`` entry and the ``Returns:`` entry must
stay on one line (gradio's parser reads one line per entry). Image and audio arguments are
strings: a URL, base64 data or a path the app may read (:mod:`webapp.tool_inputs`). Bad input is a
tool error carrying the app's own message. The tools bypass gradio's queue (the MCP endpoint calls
them directly), so each model role has its own limit of ``--concurrency`` calls at once here.
"""

import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.utils import _parse_file_size

import mmdemo
from mmdemo.modalities import exactly_one_query
from mmdemo.retrieval import RetrievalIndex
from mmdemo.status import model_status
from mmdemo.training.catalog import available_heads, load_head, resolve_head
from webapp.common import require, user_errors
from webapp.settings import AppSettings
from webapp.tabs.retrieval import MODALITY_FILTERS, new_gallery_index, shown_item
from webapp.tool_inputs import tool_file

# The tools an agent sees, by name (each function's name); webapp.mcp_access keeps only these.
TOOL_NAMES = ("caption", "answer", "zero_shot_classify", "search_gallery", "classify_with_fusion_head",
              "model_status_report")
API_PREFIX = "tool_"  # their api_names (tool_caption, ...): the page already has /caption, /answer, ...
API_NAMES = tuple(API_PREFIX + name for name in TOOL_NAMES)
MAX_HITS = 20  # as the Retrieval tab's "Top k" slider


def as_json(value: Any) -> str:
    """``value`` (dataclasses, dicts, lists, numbers) as JSON text."""
    return json.dumps(value, ensure_ascii=False, default=str)


class DefaultGallery:
    """The session-less retrieval gallery (the example folders of the active preset), built once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: RetrievalIndex | None = None

    def get(self) -> RetrievalIndex:
        with self._lock:
            if self._index is None:
                self._index = new_gallery_index()
            return self._index


def tool_functions(settings: AppSettings) -> list[Callable[..., str]]:
    """The tool functions for ``settings`` (media limits, file size, concurrency), in TOOL_NAMES order."""
    max_bytes = _parse_file_size(settings.max_file_size)
    limits = settings.limits
    slots = {role: threading.BoundedSemaphore(settings.concurrency) for role in ("caption", "vqa", "image-text")}
    gallery = DefaultGallery()

    @user_errors
    def caption(image: str, prefix: str = "", strategy: str = "greedy", num_captions: int = 1,
                max_new_tokens: int = 30) -> str:
        """Describe an image in words (image captioning).

        Args:
            image: the image: a http(s) URL, base64 data (data:image/png;base64,...) or the path of one of the app's example files or of a file uploaded to it.
            prefix: optional start of the caption, which the model continues (ignored by label-based models).
            strategy: decoding: "greedy", "beam" or "sample".
            num_captions: how many captions to return (beam or sample), 1 to 5.
            max_new_tokens: the longest caption, in tokens.
        Returns:
            JSON: {"caption": the best caption, "captions": [{"text", "score"}, ...] best first, "model", "method" ("generated" or "labels": built from recognised ImageNet classes), "classes": [{"label", "probability"}] for label-based captions}.
        """
        path = require(tool_file(image, "image", max_bytes), "an image")
        decoding = mmdemo.DecodingConfig(strategy=strategy, num_captions=int(num_captions),
                                         max_new_tokens=int(max_new_tokens))
        with slots["caption"]:
            out = mmdemo.caption(path, prefix=prefix or None, decoding=decoding, limits=limits)
        return as_json({"caption": out.best, "captions": [dataclasses.asdict(c) for c in out.captions],
                        "model": out.model, "method": out.method,
                        "classes": [{"label": c.label, "probability": c.probability} for c in out.classes]})

    @user_errors
    def answer(image: str, question: str) -> str:
        """Answer a question about an image (visual question answering).

        Args:
            image: the image: a http(s) URL, base64 data (data:image/png;base64,...) or the path of one of the app's example files or of a file uploaded to it.
            question: the question, e.g. "what colour is the square?".
        Returns:
            JSON: {"answer", "confidence" (0 to 1), "answerable" (false when the model cannot answer this kind of question: "answer" then says why), "question", "model", "method"}.
        """
        path = require(tool_file(image, "image", max_bytes), "an image")
        require(question, "a question")
        with slots["vqa"]:
            out = mmdemo.answer(path, question, limits=limits)
        return as_json({"answer": out.answer, "confidence": out.confidence, "answerable": out.answerable,
                        "question": out.question, "model": out.model, "method": out.method})

    @user_errors
    def zero_shot_classify(image: str, labels: str, template: str = "") -> str:
        """Score an image against labels you choose (zero-shot classification with an image-text model).

        Args:
            image: the image: a http(s) URL, base64 data (data:image/png;base64,...) or the path of one of the app's example files or of a file uploaded to it.
            labels: two or more labels, comma-separated, e.g. "cat, dog, rocket".
            template: optional prompt template with one {} for the label, e.g. "a photo of a {}."; empty: the model's default.
        Returns:
            JSON: {"labels": [{"label", "probability"}, ...] most likely first, "model", "template", "activation" ("softmax": probabilities sum to 1; "sigmoid": each label scored on its own)}.
        """
        path = require(tool_file(image, "image", max_bytes), "an image")
        require(labels, "some labels")
        with slots["image-text"]:
            out = mmdemo.zero_shot_classify(path, labels, template or None, limits=limits)
        return as_json({"labels": [{"label": label, "probability": p} for label, p in out.ranked()],
                        "model": out.model, "template": out.template, "activation": out.activation})

    @user_errors
    def search_gallery(query_text: str = "", query_image: str = "", query_audio: str = "", k: int = 5,
                       modality: str = "any") -> str:
        """Search the app's example gallery (images, texts and sounds) with one query: a text, an image
        or an audio clip (cross-modal retrieval).

        Args:
            query_text: a text query, e.g. "a red circle"; leave empty when querying with an image or audio.
            query_image: an image query: a http(s) URL, base64 data or the path of an example file or of an uploaded file.
            query_audio: an audio query (wav, flac, ogg): a http(s) URL, base64 data or the path of an example file or of an uploaded file.
            k: how many results, 1 to 20.
            modality: which items to return: "any", "image", "text" or "audio".
        Returns:
            JSON: {"hits": [{"rank", "score", "modality", "item" (file name or text), "label"}, ...] best first, "query_modality", "model", "transcript" (what a speech model heard in an audio query, else null), "gallery_size"}.
        """
        if not 1 <= int(k) <= MAX_HITS:
            raise ValueError(f"k must be between 1 and {MAX_HITS}; got {k}")
        if modality not in MODALITY_FILTERS:
            raise ValueError(f"Unknown modality filter {modality!r}; choose one of {', '.join(MODALITY_FILTERS)}")
        kind, value = exactly_one_query({"text": query_text, "image": query_image, "audio": query_audio})
        value = (mmdemo.clean_text(value, limits, what="query") if kind == "text"
                 else tool_file(value, kind, max_bytes))
        index = gallery.get()
        with slots["image-text"]:
            result = index.query(**{kind: value}, k=int(k),
                                 modality=None if modality == "any" else modality)
        hits = [{"rank": h.rank, "score": h.score, "modality": h.modality, "item": shown_item(h), "label": h.label}
                for h in result.hits]
        return as_json({"hits": hits, "query_modality": result.query_modality, "model": result.model,
                        "transcript": result.transcript, "gallery_size": len(index)})

    @user_errors
    def classify_with_fusion_head(head: str = "", text: str = "", image: str = "", audio: str = "") -> str:
        """Classify a text, an image and/or an audio clip together with a trained fusion head; any
        input may be left empty.

        Args:
            head: the fusion head's name (model_status_report lists them); empty: the first one.
            text: a text input, e.g. "the yellow triangle is large.".
            image: an image: a http(s) URL, base64 data or the path of an example file or of an uploaded file.
            audio: an audio clip: a http(s) URL, base64 data or the path of an example file or of an uploaded file.
        Returns:
            JSON: {"head", "task", "label" (the task's most likely label), "probabilities" (label -> probability for the task), "labels" (task -> label for every task of the head), "contributions" (modality -> share), "contribution_kind", "used" (inputs used), "strategy", "transcript"}.
        """
        heads = available_heads()
        if not heads:
            raise ValueError("No fusion head is available; train one with `python -m mmdemo train`")
        name = head or next(iter(heads))
        loaded = load_head(resolve_head(name, heads))
        text = mmdemo.clean_text(text, limits) if text and text.strip() else None
        with slots["image-text"]:
            prediction = loaded.predict(text=text, image=tool_file(image, "image", max_bytes),
                                        audio=tool_file(audio, "audio", max_bytes))
        task = prediction.task
        return as_json({"head": name, "task": task, "label": prediction.labels[task],
                        "probabilities": prediction.probabilities[task], "labels": prediction.labels,
                        "contributions": prediction.contributions, "contribution_kind": prediction.contribution_kind,
                        "used": prediction.used, "strategy": loaded.strategy, "transcript": prediction.transcript})

    def model_status_report() -> str:
        """What this app can do now: the model preset and why it was chosen, each model role's model,
        device, dtype and state (loaded or not), and the fusion heads available to
        classify_with_fusion_head.

        Returns:
            JSON: {"preset", "preset_reason", "abilities" (what the preset's models know), "roles": [{"role", "model", "preset", "device", "dtype", "state", "hint"}], "fusion_heads": [names]}.
        """
        status = model_status()
        return as_json({"preset": status.preset, "preset_reason": settings.preset_reason,
                        "abilities": status.abilities, "roles": [dataclasses.asdict(r) for r in status.roles],
                        "fusion_heads": list(available_heads())})

    return [caption, answer, zero_shot_classify, search_gallery, classify_with_fusion_head, model_status_report]


def register(settings: AppSettings) -> None:
    """Add the tools to the Blocks being built (call inside ``with gr.Blocks()``), API only."""
    for fn in tool_functions(settings):
        gr.api(fn, api_name=API_PREFIX + fn.__name__, queue=False)
