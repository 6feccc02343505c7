"""The Image QA tab: questions about an image, answered with a confidence and kept as a history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import mmdemo
from webapp import explain_panel
from webapp.common import UploadedImage, concurrency, examples, require, user_errors
from webapp.settings import AppSettings


@dataclass(eq=False)  # hashed by identity, like gradio's components
class ImageQATab:
    """The tab's output components and its handlers."""

    settings: AppSettings
    answer: gr.Textbox
    confidence: gr.Number
    history: gr.Chatbot

    @user_errors
    def answer_question(self, image: str, question: str, history: list[dict] | None,
                        progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Answer a question about an image; appends to the running history for this image."""
        require(image, "an image")
        require(question, "a question")
        out = mmdemo.answer(image, question, limits=self.settings.limits)
        shown = out.answer or "(the model gave no answer)"
        history = [*(history or []), {"role": "user", "content": out.question},
                   {"role": "assistant", "content": f"{shown}  ({out.confidence:.0%})"}]
        return {self.answer: out.answer, self.confidence: round(out.confidence, 4), self.history: history}

    def clear_history(self, _image: Any) -> dict[gr.Component, Any]:
        return {self.history: []}


def build(settings: AppSettings) -> ImageQATab:
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label="Image", elem_id="qa-image")
            question = gr.Textbox(label="Question", placeholder="What colour is the shape?", elem_id="qa-question")
            button = gr.Button("Answer", variant="primary")
        with gr.Column():
            answer = gr.Textbox(label="Answer", elem_id="answer-output")
            confidence = gr.Number(label="Confidence")
            history = gr.Chatbot(label="Questions about this image", height=300)
    tab = ImageQATab(settings, answer, confidence, history)
    inputs, outputs = [image, question, history], [answer, confidence, history]
    button.click(tab.answer_question, inputs, outputs, api_name="answer", **concurrency(settings, "vqa"))
    question.submit(tab.answer_question, inputs, outputs, api_name="answer_submit", **concurrency(settings, "vqa"))
    image.change(tab.clear_history, [image], [history], api_name="clear_history")
    explain_panel.add_to_image_qa(settings, image, question, answer)
    example_images = examples("world/scene_2.png", "world/scene_1.png")
    if example_images:
        gr.Examples(
            [[example_images[0], "what colour is the square?"], [example_images[-1], "how many shapes are there?"]],
            inputs=[image, question], label="Examples",
        )
    return tab
