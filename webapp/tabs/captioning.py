"""The Captioning tab: an image -> the best caption and all captions with their scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import mmdemo
from webapp import explain_panel, preset_notes
from webapp.common import UploadedImage, concurrency, require, user_errors
from webapp.settings import AppSettings


@dataclass(eq=False)  # hashed by identity, like gradio's components
class CaptioningTab:
    """The tab's output components and its handler."""

    settings: AppSettings
    best: gr.Textbox
    table: gr.Dataframe
    recognised: gr.State  # label-based captions: the recognised classes, shown by show_classes
    classes: gr.Dataframe

    @user_errors
    def caption_image(self, image: str, strategy: str, num_captions: float, num_beams: float,
                      max_new_tokens: float, top_p: float, temperature: float, prefix: str,
                      seed: float, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Caption an image; returns the best caption and a table of (caption, score)."""
        require(image, "an image")
        decoding = mmdemo.DecodingConfig(
            strategy=strategy, num_captions=int(num_captions), num_beams=int(num_beams),
            max_new_tokens=int(max_new_tokens), top_p=float(top_p), temperature=float(temperature),
            seed=int(seed),
        )
        out = mmdemo.caption(image, prefix=prefix or None, decoding=decoding, limits=self.settings.limits)
        return {self.best: out.best, self.table: [[c.text, round(c.score, 4)] for c in out.captions],
                self.recognised: class_rows(out)}

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
        gr.Markdown(preset_notes.LABEL_CAPTION_NOTE, elem_id="caption-note")
    elif preset_notes.shapes_world_only():
        gr.Markdown(preset_notes.SHAPES_WORLD_NOTE, elem_id="caption-note")
    return gr.Dataframe(headers=["recognised class", "probability"], label="Recognised ImageNet classes",
                        interactive=False, visible=False, elem_id="caption-classes")


def build(settings: AppSettings) -> CaptioningTab:
    label_based = preset_notes.label_based("caption")  # no prefix, no decoding: captions from classes
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label="Image", sources=["upload", "clipboard", "webcam"])
            prefix = gr.Textbox(label="Text prefix (optional: the caption continues it)", visible=not label_based)
            with gr.Accordion("Decoding", open=False, visible=not label_based):
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
            classes = build_notes(label_based)
    recognised = gr.State([])
    tab = CaptioningTab(settings, best, table, recognised, classes)
    inputs = [image, strategy, num_captions, num_beams, max_new_tokens, top_p, temperature, prefix, seed]
    button.click(tab.caption_image, inputs, [best, table, recognised], api_name="caption",
                 **concurrency(settings, "caption")).success(
        tab.show_classes, [recognised], [classes], api_visibility="private")
    explain_panel.add_to_captioning(settings, image, best)
    example_images = preset_notes.example_images(["scene_2.png", "scene_3.png", "scene_1.png"],
                                                 ["chelsea.jpg", "coffee.jpg", "rocket.jpg"])
    if example_images:
        gr.Examples([[path] for path in example_images], inputs=[image], label="Examples")
    return tab
