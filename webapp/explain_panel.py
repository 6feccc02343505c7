"""The "Explain" panel of the Captioning, Image QA, Classification and Retrieval tabs: a heatmap of
where in the image the model found what it said (:mod:`mmdemo.explain`).

Each panel has a target (a word of the shown caption, a label, a hit of the last search; the shown
answer in Image QA), a method dropdown (the valid methods of the active model, the measured default
first chosen), an opacity slider, the overlay with its colour scale, the method / target / score,
and the raw map (``.npy``). The maps are kept in a ``gr.State`` (:class:`KeptMaps`), so changing
the opacity (or picking a word already explained) re-draws without recomputing. Explanations run on
a float32 eager copy of the model (the library's), in their own concurrency group per role
(``explain-<role>``), so they never hold up the tabs' own requests.

The offline preset's ConSE model explains through its ImageNet classifier
(:func:`mmdemo.explain.explain_class`): a label or a text query through its nearest class, an image
query through the query's top class, a label-based caption or answer through the top class.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from mmdemo import explain
from mmdemo.classify import parse_labels
from mmdemo.explain import Explanation
from mmdemo.explain.blip import DEFAULT_ANSWER_METHOD, DEFAULT_CAPTION_METHOD
from mmdemo.explain.clip import DEFAULT_TOWER_METHOD
from mmdemo.registry import resolve_spec
from webapp.common import concurrency, require, user_error, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings

COLORMAP = "jet"
DEFAULT_OPACITY = 0.5
MAX_KEPT_BYTES = 64 * 2**20  # the maps one panel keeps for one visitor (float32 at the image's size)

# role -> backend -> (the valid methods, the measured default); README, "Explanations"
METHODS_BY_BACKEND = {
    "image-text": {"clip": (explain.TOWER_METHODS, DEFAULT_TOWER_METHOD),
                   "open_clip": (explain.TOWER_METHODS, DEFAULT_TOWER_METHOD),
                   "conse": (explain.CNN_METHODS, "gradcam")},
    "caption": {"blip-caption": (explain.BLIP_METHODS, DEFAULT_CAPTION_METHOD),
                "conse-caption": (explain.CNN_METHODS, "gradcam")},
    "vqa": {"blip-vqa": (explain.BLIP_METHODS, DEFAULT_ANSWER_METHOD),
            "conse-vqa": (explain.CNN_METHODS, "gradcam")},
}
OFFLINE_BACKENDS = {"conse", "conse-caption", "conse-vqa"}


def fail(message: str) -> gr.Error:
    return user_error(message)


def explained_backend(role: str) -> str:
    """The backend of ``role``'s active model, when explanations support it; else a clear gr.Error."""
    spec = resolve_spec(None, role)
    if spec.backend not in METHODS_BY_BACKEND[role]:
        raise fail(f"Explanations need a CLIP-style image-text model, a BLIP model or the offline ConSE model; "
                   f"the {role} model {spec.name!r} uses the {spec.backend!r} backend")
    return spec.backend


def method_choices(role: str) -> tuple[list[str], str | None]:
    """The valid methods for ``role``'s active model and the default (none when it can't be explained)."""
    spec = resolve_spec(None, role)
    methods, default = METHODS_BY_BACKEND[role].get(spec.backend, ((), None))
    return list(methods), default


def colour_scale(width: int = 256, height: int = 14) -> Image.Image:
    """The overlay's colour scale: least relevant on the left, most relevant on the right."""
    import matplotlib

    colours = matplotlib.colormaps[COLORMAP](np.linspace(0.0, 1.0, width))[:, :3]
    return Image.fromarray((np.tile(colours[None], (height, 1, 1)) * 255).round().astype(np.uint8), "RGB")


@dataclass
class KeptMaps:
    """The maps a panel computed for one visitor (target name -> explanation), what they were
    computed for (``key``) and every target name known (``names``: the maps may hold fewer, see
    :meth:`trim`)."""

    key: tuple
    maps: dict[str, Explanation] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def add(self, name: str, result: Explanation) -> None:
        self.maps[name] = result
        if name not in self.names:
            self.names.append(name)

    def pick(self, choice: str | None, what: str) -> str:
        """The target ``choice`` names (its full name or the text after ``"N: "``); None: the first."""
        if not choice:
            return self.names[0]
        if choice in self.names:
            return choice
        for name in self.names:  # "red" or a stale "3: red" names the first "N: red"
            if name.split(": ", 1)[-1] == choice.split(": ", 1)[-1]:
                return name
        raise fail(f"No {what} {choice!r} to explain; valid: {self.names}")

    def trim(self, shown: str) -> None:
        """Keep every map while they fit in :data:`MAX_KEPT_BYTES`; else only the one ``shown``
        (the others are computed again when picked: a caption's words on a large photo)."""
        if sum(result.relevance.nbytes for result in self.maps.values()) > MAX_KEPT_BYTES:
            self.maps = {shown: self.maps[shown]}


@dataclass
class LastSearch:
    """The Retrieval tab's last search: its query (kind and value) and its hits."""

    kind: str
    query: str
    hits: list[Any]


def hit_name(hit: Any) -> str:
    return f"#{hit.rank} · {Path(hit.source).name}"


def raw_file(relevance: np.ndarray) -> str:
    with tempfile.NamedTemporaryFile(prefix="relevance-", suffix=".npy", delete=False) as handle:
        np.save(handle, relevance)
    return handle.name


def without_server_paths(text: str) -> str:
    """``text`` with each absolute path cut to its last part (the page never shows server paths)."""
    return re.sub(r"(?<![\w.])/[^\s,;()]+", lambda match: PurePosixPath(match.group()).name, text)


def describe(result: Explanation) -> str:
    if float(result.relevance.max()) > 0.0:
        x, y = result.peak
        where = f"peak at ({x:.0f}, {y:.0f})"
    else:  # e.g. occlusion of a word as likely whatever is erased ("a")
        where = "no part of the image moves this score (an empty map)"
    return (f"**{result.method}** · target: {result.target} · score: **{result.score:.4f}** ({result.score_kind})"
            f" · {where}  \nmodel `{result.model}`; computed on a "
            f"{without_server_paths(result.path)}")


@dataclass(eq=False)  # hashed by identity, like gradio's components
class ExplainPanel:
    """One panel's components and handlers (``target`` is None in Image QA: the shown answer)."""

    settings: AppSettings
    role: str
    what: str  # what a target is, in words ("word", "label", "hit")
    target: gr.Dropdown | None
    method: gr.Dropdown
    opacity: gr.Slider
    button: gr.Button
    overlay: gr.Image
    info: gr.Markdown
    raw: gr.File
    kept: gr.State
    default_template: Callable[[], str] | None = None  # zero-shot: what an empty template means

    def outputs(self) -> list[gr.Component]:
        return [self.overlay, self.info, self.raw, self.kept] + ([self.target] if self.target else [])

    def shown(self) -> list[gr.Component]:
        """What a panel shows of its last map (the outputs :meth:`forget_map` clears)."""
        return [self.overlay, self.info, self.raw, self.kept]

    def forget_map(self) -> dict[gr.Component, Any]:
        """A new input: the map of the previous one goes (``shown()`` cleared)."""
        return {self.overlay: None, self.info: "", self.raw: None, self.kept: None}

    def new_image(self, _image: Any) -> dict[gr.Component, Any]:
        """A new image in the tab: the old image's map goes."""
        return self.forget_map()

    def show(self, kept: KeptMaps, choice: str | None, opacity: float) -> dict[gr.Component, Any]:
        """Every output for the kept map ``choice`` drawn at ``opacity``."""
        name = kept.pick(choice, self.what)
        if name not in kept.maps:
            raise fail(f"Press Explain to compute the map of {name!r} again (only the last map of a large image is kept).")
        kept.trim(name)
        result = kept.maps[name]
        shown = {self.overlay: result.overlay(float(opacity), COLORMAP), self.info: describe(result),
                 self.raw: raw_file(result.relevance), self.kept: kept}
        if self.target is not None:
            shown[self.target] = gr.Dropdown(choices=list(kept.names), value=name)
        return shown

    def redraw_map(self, kept: KeptMaps | None, choice: str | None, opacity: float) -> dict[gr.Component, Any]:
        if kept is None or not kept.names:
            raise fail("Press Explain first: there is no map to draw yet.")
        shown = self.show(kept, choice, opacity)
        return {component: shown[component] for component in (self.overlay, self.info, self.raw)}

    def kept_for(self, kept: KeptMaps | None, key: tuple) -> KeptMaps:
        return kept if kept is not None and kept.key == key else KeptMaps(key)

    def method_for(self, method: str | None, backend: str) -> str:
        return method or METHODS_BY_BACKEND[self.role][backend][1]

    # ------------------------------------------------------------------------------ per tab

    @user_errors
    def explain_caption(self, image: str, caption: str, word: str | None = None, method: str | None = None,
                        opacity: float = DEFAULT_OPACITY, kept: KeptMaps | None = None, progress: gr.Progress = gr.Progress()) -> dict[gr.Component, Any]:
        """A map per word of the shown caption; shows ``word`` (None: the first)."""
        require(image, "an image")
        if not caption or not caption.strip():
            raise fail("Caption the image first: press Caption, then Explain.")
        backend = explained_backend("caption")
        method = self.method_for(method, backend)
        kept = self.kept_for(kept, ("caption", image, caption, method))
        if not kept.names or kept.pick(word, self.what) not in kept.maps:
            if backend == "conse-caption":
                spec = resolve_spec(None, "caption")
                result = explain.explain_class(image, model=spec.text_model, method=method, limits=self.settings.limits)
                kept.add(result.target, result)  # 'ImageNet class 281 "tabby" (the top class)'
            else:
                words = explain.explain_caption(image, caption, method=method, limits=self.settings.limits)
                for i, (token, result) in enumerate(zip(words.tokens, words.words)):
                    kept.add(f"{i + 1}: {token}", result)
            if not kept.names:
                raise fail(f"The caption {caption!r} has no words to explain.")
        return self.show(kept, word, opacity)

    @user_errors
    def explain_answer(self, image: str, question: str, answer: str, method: str | None = None,
                       opacity: float = DEFAULT_OPACITY, kept: KeptMaps | None = None, progress: gr.Progress = gr.Progress()) -> dict[gr.Component, Any]:
        """The map of the shown answer to ``question``."""
        require(image, "an image")
        if not answer or not answer.strip():
            raise fail("Answer a question first: press Answer, then Explain.")
        require(question, "the question")
        backend = explained_backend("vqa")
        method = self.method_for(method, backend)
        kept = self.kept_for(kept, ("answer", image, question, answer, method))
        if not kept.maps:
            if backend == "conse-vqa":
                spec = resolve_spec(None, "vqa")
                result = explain.explain_class(image, model=spec.text_model, method=method, limits=self.settings.limits)
            else:
                result = explain.explain_answer(image, question, answer, method=method, limits=self.settings.limits)
            kept.add(f'answer "{answer}"', result)
        return self.show(kept, None, opacity)

    @user_errors
    def explain_label(self, image: str, labels: str | None = None, template: str | None = None,
                      label: str | None = None, method: str | None = None, opacity: float = DEFAULT_OPACITY,
                      kept: KeptMaps | None = None, progress: gr.Progress = gr.Progress()) -> dict[gr.Component, Any]:
        """The map of one zero-shot ``label`` (None: the first of ``labels``), as its prompt."""
        require(image, "an image")
        require(labels, "some labels")
        names = parse_labels(labels)
        label = " ".join((label or names[0]).split())
        template = template or (self.default_template() if self.default_template else "{}")
        if template.count("{}") != 1:
            raise fail(f"The template must contain '{{}}' exactly once, got {template!r}")
        backend = explained_backend("image-text")
        method = self.method_for(method, backend)
        kept = self.kept_for(kept, ("label", image, template, method))
        if label not in kept.maps:
            if backend == "conse":
                result = explain.explain_class(image, label, model=resolve_spec(None, "image-text").name,
                                               method=method, limits=self.settings.limits)
            else:
                result = explain.explain_text(image, template.format(label), method=method, limits=self.settings.limits)
            kept.add(label, result)
        shown = self.show(kept, label, opacity)
        shown[self.target] = gr.Dropdown(choices=list(dict.fromkeys([*names, *kept.names])), value=label)
        return shown

    def forget_targets(self) -> dict[gr.Component, Any]:
        """A new caption: its words are not explained yet."""
        return {self.target: gr.Dropdown(choices=[], value=None)}

    def label_choices(self, labels: str) -> dict[gr.Component, Any]:
        try:
            names = parse_labels(labels or "")
        except ValueError:
            names = []
        return {self.target: gr.Dropdown(choices=names, value=names[0] if names else None)}

    @user_errors
    def explain_hit(self, hit: str | None = None, method: str | None = None, opacity: float = DEFAULT_OPACITY,
                    last: LastSearch | None = None, kept: KeptMaps | None = None, progress: gr.Progress = gr.Progress()) -> dict[gr.Component, Any]:
        """The map of one image hit of the last search (None: the first) for its query."""
        if last is None:
            raise fail("Search first: run a search, then pick a hit to explain.")
        if last.kind not in ("text", "image"):
            raise fail(f"Explanations need a text or image query; the last search used {last.kind}.")
        hits = {hit_name(h): h for h in last.hits if h.modality == "image"}
        if not hits:
            raise fail("The last search returned no images to explain; search with Return set to image or any.")
        chosen = hits.get(hit or "") or next((h for name, h in hits.items() if hit and name.startswith(f"#{hit.lstrip('#')} ")), None)
        if hit and chosen is None:
            raise fail(f"No image hit {hit!r} in the last search; valid: {list(hits)}")
        chosen = chosen or next(iter(hits.values()))
        backend = explained_backend("image-text")
        method = self.method_for(method, backend)
        kept = self.kept_for(kept, ("hit", last.kind, last.query, tuple(h.source for h in hits.values()), method))
        name = hit_name(chosen)
        if name not in kept.maps:
            limits = self.settings.limits
            if backend == "conse":
                model = resolve_spec(None, "image-text").name
                target = last.query if last.kind == "text" else explain.top_class(last.query, model=model, limits=limits)
                result = explain.explain_class(chosen.source, target, model=model, method=method, limits=limits)
            elif last.kind == "text":
                result = explain.explain_text(chosen.source, last.query, method=method, limits=limits)
            else:
                result = explain.explain_image_match(chosen.source, last.query, method=method, limits=limits)
            kept.add(name, result)
        shown = self.show(kept, name, opacity)
        shown[self.target] = gr.Dropdown(choices=list(hits), value=name)
        return shown

    def hit_choices(self, last: LastSearch | None) -> dict[gr.Component, Any]:
        names = [hit_name(h) for h in (last.hits if last else []) if h.modality == "image"]
        return {self.target: gr.Dropdown(choices=names, value=names[0] if names else None)}

    def new_search(self, last: LastSearch | None) -> dict[gr.Component, Any]:
        """A new search: its hits to choose from, and no map of the previous search's hit."""
        return self.hit_choices(last) | self.forget_map()


def build_panel(settings: AppSettings, role: str, what: str, target_label: str | None) -> ExplainPanel:
    """The panel's components (in an accordion), for a ``role`` model; ``target_label``: its dropdown's label."""
    methods, default = method_choices(role)
    with gr.Accordion(t("Explain: where in the image? (heatmap)"), open=False):
        with gr.Row():
            with gr.Column(scale=1):
                target = (gr.Dropdown([], value=None, label=target_label, allow_custom_value=True)
                          if target_label else None)
                method = gr.Dropdown(methods, value=default, label=t("Method (default: the best measured)"),
                                     allow_custom_value=False)
                opacity = gr.Slider(0.0, 1.0, value=DEFAULT_OPACITY, step=0.05, label=t("Overlay opacity"))
                button = gr.Button(t("Explain"))
                if resolve_spec(None, role).backend in OFFLINE_BACKENDS:
                    gr.Markdown(t("Offline preset: maps are Grad-CAM of the ImageNet classifier "
                                  "(the class behind the label, query or caption)."))
            with gr.Column(scale=2):
                overlay = gr.Image(type="pil", format="png", label=t("Relevance overlay"), interactive=False,
                                   elem_id=f"explain-{what}-overlay")
                gr.Image(colour_scale(), label=t("Colour scale: least relevant (left) to most relevant (right)"),
                         interactive=False, height=60, buttons=[])
                info = gr.Markdown(elem_id=f"explain-{what}-info")
                raw = gr.File(label=t("Raw map (.npy, float32, the image's height x width)"))
    return ExplainPanel(settings, role, what, target, method, opacity, button, overlay, info, raw, gr.State(None))


def wire_redraw(panel: ExplainPanel, api_name: str) -> None:
    """Opacity (and picking a kept target) re-draws from the kept map, without recomputing."""
    redraw = concurrency(panel.settings, "explain-redraw")
    if panel.target is None:
        def redraw_answer(kept: KeptMaps | None = None, opacity: float = DEFAULT_OPACITY) -> dict[gr.Component, Any]:
            return panel.redraw_map(kept, None, opacity)

        panel.opacity.release(redraw_answer, [panel.kept, panel.opacity], [panel.overlay, panel.info, panel.raw],
                              api_name=api_name, **redraw)
        return
    fn = {"word": redraw_word, "label": redraw_label, "hit": redraw_hit}[panel.what](panel)
    panel.opacity.release(fn, [panel.kept, panel.target, panel.opacity], [panel.overlay, panel.info, panel.raw],
                          api_name=api_name, **redraw)


def redraw_word(panel: ExplainPanel):
    def redraw_caption(kept: KeptMaps | None = None, word: str | None = None,
                       opacity: float = DEFAULT_OPACITY) -> dict[gr.Component, Any]:
        return panel.redraw_map(kept, word, opacity)
    return redraw_caption


def redraw_label(panel: ExplainPanel):
    def redraw_zero_shot(kept: KeptMaps | None = None, label: str | None = None,
                         opacity: float = DEFAULT_OPACITY) -> dict[gr.Component, Any]:
        return panel.redraw_map(kept, label, opacity)
    return redraw_zero_shot


def redraw_hit(panel: ExplainPanel):
    def redraw_retrieval(kept: KeptMaps | None = None, hit: str | None = None,
                         opacity: float = DEFAULT_OPACITY) -> dict[gr.Component, Any]:
        return panel.redraw_map(kept, hit, opacity)
    return redraw_retrieval


# ---------------------------------------------------------------------------- hooks for the tabs


def add_to_captioning(settings: AppSettings, image: gr.Image, caption: gr.Textbox) -> ExplainPanel:
    panel = build_panel(settings, "caption", "word", t("Word of the caption"))
    panel.button.click(panel.explain_caption, [image, caption, panel.target, panel.method, panel.opacity, panel.kept],
                       panel.outputs(), api_name="explain_caption", **concurrency(settings, "explain-caption"))
    panel.target.select(panel.explain_caption, [image, caption, panel.target, panel.method, panel.opacity, panel.kept],
                        panel.outputs(), api_visibility="private", **concurrency(settings, "explain-caption"))
    caption.change(panel.forget_targets, None, [panel.target], api_visibility="private")
    wire_redraw(panel, "explain_caption_redraw")
    return panel


def add_to_image_qa(settings: AppSettings, image: gr.Image, question: gr.Textbox, answer: gr.Textbox) -> ExplainPanel:
    panel = build_panel(settings, "vqa", "answer", None)
    panel.button.click(panel.explain_answer, [image, question, answer, panel.method, panel.opacity, panel.kept],
                       panel.outputs(), api_name="explain_answer", **concurrency(settings, "explain-vqa"))
    wire_redraw(panel, "explain_answer_redraw")
    return panel


def add_to_zero_shot(settings: AppSettings, image: gr.Image, labels: gr.Textbox, template: gr.Textbox,
                     default_template: Callable[[], str]) -> ExplainPanel:
    """``default_template``: the prompt template an empty ``template`` means."""
    panel = build_panel(settings, "image-text", "label", t("Label"))
    panel.default_template = default_template
    panel.button.click(panel.explain_label, [image, labels, template, panel.target, panel.method, panel.opacity,
                                             panel.kept],
                       panel.outputs(), api_name="explain_label", **concurrency(settings, "explain-image-text"))
    panel.target.select(panel.explain_label, [image, labels, template, panel.target, panel.method, panel.opacity,
                                              panel.kept],
                        panel.outputs(), api_visibility="private", **concurrency(settings, "explain-image-text"))
    labels.change(panel.label_choices, [labels], [panel.target], api_visibility="private")
    image.change(panel.new_image, [image], panel.shown(), api_visibility="private", queue=False,
                 show_progress="hidden")
    wire_redraw(panel, "explain_label_redraw")
    return panel


def add_to_retrieval(settings: AppSettings, search: Any, last_search: gr.State) -> ExplainPanel:
    """``search``: the search event (its last output is ``last_search``, a :class:`LastSearch`)."""
    panel = build_panel(settings, "image-text", "hit", t("Hit of the last search"))
    panel.button.click(panel.explain_hit, [panel.target, panel.method, panel.opacity, last_search, panel.kept],
                       panel.outputs(), api_name="explain_hit", **concurrency(settings, "explain-image-text"))
    panel.target.select(panel.explain_hit, [panel.target, panel.method, panel.opacity, last_search, panel.kept],
                        panel.outputs(), api_visibility="private", **concurrency(settings, "explain-image-text"))
    search.success(panel.new_search, [last_search], [panel.target, *panel.shown()], api_visibility="private")
    wire_redraw(panel, "explain_hit_redraw")
    return panel
