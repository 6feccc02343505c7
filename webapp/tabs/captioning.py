"""The Captioning tab: an image -> the best caption and all captions with their scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import mmdemo
from webapp import explain_panel
from webapp.common import UploadedImage, concurrency, examples, require, user_errors
from webapp.settings import AppSettings


@dataclass(eq=False)  # hashed by identity, like gradio's components
class CaptioningTab:
    """The tab's output components and its handler."""

    settings: AppSettings
    best: gr.Textbox
    table: gr.Dataframe

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
        return {self.best: out.best, self.table: [[c.text, round(c.score, 4)] for c in out.captions]}


def build(settings: AppSettings) -> CaptioningTab:
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
    tab = CaptioningTab(settings, best, table)
    inputs = [image, strategy, num_captions, num_beams, max_new_tokens, top_p, temperature, prefix, seed]
    button.click(tab.caption_image, inputs, [best, table], api_name="caption", **concurrency(settings, "caption"))
    explain_panel.add_to_captioning(settings, image, best)
    example_images = examples("world/scene_2.png", "world/scene_3.png", "world/scene_1.png")
    if example_images:
        gr.Examples([[path] for path in example_images], inputs=[image], label="Examples")
    return tab
