"""The Captioning tab: an image -> the best caption and all captions with their scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import mmdemo
from webapp import decoding_controls, explain_panel, preset_notes
from webapp.common import UploadedImage, concurrency, require, result_table, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings


@dataclass(eq=False)  # hashed by identity, like gradio's components
class CaptioningTab:
    """The tab's output components and its handler."""

    settings: AppSettings
    best: gr.Textbox
    table: gr.Dataframe
    recognised: gr.State  # label-based captions: the recognised classes, shown by show_classes
    classes: gr.Dataframe
    notes: gr.State  # what the decoding controls were adjusted to, shown by show_notes
    note: gr.Markdown
    explain: explain_panel.ExplainPanel | None = None

    @user_errors
    def caption_image(self, image: str, strategy: str = "greedy", num_captions: float = 1, num_beams: float = 3,
                      max_new_tokens: float = 30, top_p: float = 0.9, temperature: float = 1.0,
                      prefix: str | None = None, seed: float = 0,
                      progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Caption an image; returns the best caption and a table of (caption, score). The decoding
        controls are adjusted (:func:`webapp.decoding_controls.adjust`), never refused."""
        require(image, "an image")
        request = decoding_controls.adjust(strategy, int(num_captions), int(num_beams))
        decoding = mmdemo.DecodingConfig(
            strategy=strategy, num_captions=request.num_samples, num_beams=request.num_beams,
            max_new_tokens=int(max_new_tokens), top_p=float(top_p), temperature=float(temperature),
            seed=int(seed),
        )
        out = mmdemo.caption(image, prefix=prefix or None, decoding=decoding, limits=self.settings.limits)
        captions = out.captions[: request.num_captions]
        shortfall = decoding_controls.shortfall_note(request, len(captions), float(temperature))
        return {self.best: out.best, self.table: [[c.text, round(c.score, 4)] for c in captions],
                self.recognised: class_rows(out), self.notes: [*request.notes, *([shortfall] if shortfall else [])]}

    def show_notes(self, notes: list[str] | None) -> dict[gr.Component, Any]:
        """What the decoding controls were adjusted to (hidden when nothing was)."""
        return {self.note: gr.Markdown("  \n".join(f"ℹ️ {note}" for note in notes or []), visible=bool(notes))}

    def forget_result(self, _image: Any) -> dict[gr.Component, Any]:
        """A new image: the caption, tables and notes of the previous one go (and its explanation)."""
        cleared = {self.best: "", self.table: [], self.recognised: [], self.notes: [],
                   self.classes: gr.Dataframe(value=[], visible=False), self.note: gr.Markdown("", visible=False)}
        return cleared | (self.explain.forget_map() if self.explain else {})

    def show_classes(self, rows: list[list] | None) -> dict[gr.Component, Any]:
        """The recognised classes behind a label-based caption (hidden for generated captions)."""
        return {self.classes: gr.Dataframe(value=rows or [], visible=bool(rows))}


def class_rows(out: mmdemo.CaptionOutput) -> list[list]:
    """``[[class, probability], ...]`` for a label-based caption; empty for a generated one."""
    if out.method != "labels":
        return []
    return [[item.label, round(item.probability, 4)] for item in out.classes]


def build_notes(label_based: bool) -> gr.Dataframe:
    """The note on what wrote the caption (by preset) and the table of recognised classes."""
    if label_based:
        gr.Markdown(t(preset_notes.LABEL_CAPTION_NOTE), elem_id="caption-note")
    elif preset_notes.shapes_world_only():
        gr.Markdown(t(preset_notes.SHAPES_WORLD_NOTE), elem_id="caption-note")
    return gr.Dataframe(headers=["recognised class", "probability"], label=t("Recognised ImageNet classes"),
                        interactive=False, visible=False, elem_id="caption-classes")


def wire_decoding_controls(strategy: gr.Radio, num_captions: gr.Slider, num_beams: gr.Slider) -> None:
    """Greedy fixes the caption count at 1; beam search keeps at least as many beams as captions."""

    def follow_strategy(chosen: str, count: float, beams: float) -> dict[gr.Component, Any]:
        request = decoding_controls.adjust(chosen, int(count), int(beams))
        return {num_captions: gr.Slider(value=request.num_captions, interactive=chosen != "greedy",
                                        label=t(GREEDY_CAPTIONS_LABEL if chosen == "greedy" else CAPTIONS_LABEL)),
                num_beams: gr.Slider(value=request.num_beams)}

    for event in (strategy.change, num_captions.release):
        event(follow_strategy, [strategy, num_captions, num_beams], [num_captions, num_beams],
              api_visibility="private", queue=False, show_progress="hidden")


CAPTIONS_LABEL = "Captions (beam / sample)"
GREEDY_CAPTIONS_LABEL = "Captions (greedy gives 1; choose beam or sample for more)"


def build(settings: AppSettings) -> CaptioningTab:
    label_based = preset_notes.label_based("caption")  # no prefix, no decoding: captions from classes
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label=t("Image"), sources=["upload", "clipboard", "webcam"],
                                  elem_id="caption-image")
            prefix = gr.Textbox(value="", label=t("Text prefix (optional: the caption continues it)"),
                                visible=not label_based)
            with gr.Accordion(t("Decoding"), open=False, visible=not label_based):
                strategy = gr.Radio(["greedy", "beam", "sample"], value="greedy", label=t("Strategy"))
                num_captions = gr.Slider(1, 5, value=1, step=1, label=t(GREEDY_CAPTIONS_LABEL),
                                         interactive=False)
                num_beams = gr.Slider(1, 10, value=3, step=1, label=t("Beams"))
                max_new_tokens = gr.Slider(5, 60, value=30, step=1, label=t("Max new tokens"))
                top_p = gr.Slider(0.1, 1.0, value=0.9, step=0.05, label=t("top-p (sample)"))
                temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.1, label=t("Temperature (sample)"))
                seed = gr.Number(value=0, precision=0, label=t("Seed (sample)"))
            button = gr.Button(t("Caption"), variant="primary")
        with gr.Column():
            best = gr.Textbox(label=t("Caption"), elem_id="caption-output")
            table = result_table(["caption", "score"], t("All captions (best first)"), ["82%", "18%"],
                                 elem_id="caption-table")
            note = gr.Markdown(visible=False, elem_id="caption-decoding-note")
            classes = build_notes(label_based)
    recognised, notes = gr.State([]), gr.State([])
    tab = CaptioningTab(settings, best, table, recognised, classes, notes, note)
    inputs = [image, strategy, num_captions, num_beams, max_new_tokens, top_p, temperature, prefix, seed]
    captioned = button.click(tab.caption_image, inputs, [best, table, recognised, notes], api_name="caption",
                             **concurrency(settings, "caption"))
    captioned.success(tab.show_classes, [recognised], [classes], api_visibility="private")
    captioned.success(tab.show_notes, [notes], [note], api_visibility="private")
    wire_decoding_controls(strategy, num_captions, num_beams)
    tab.explain = explain_panel.add_to_captioning(settings, image, best)
    image.change(tab.forget_result, [image], [best, table, recognised, notes, classes, note, *tab.explain.shown()],
                 api_visibility="private", queue=False, show_progress="hidden")
    example_images = preset_notes.example_images(["scene_2.png", "scene_3.png", "scene_1.png"],
                                                 ["chelsea.jpg", "coffee.jpg", "rocket.jpg"])
    if example_images:
        gr.Examples([[path] for path in example_images], inputs=[image], label=t("Examples"), elem_id="caption-examples")
    return tab
