"""The Image QA tab: questions about an image, answered with a confidence and kept as a history."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

import mmdemo
from webapp import explain_panel, preset_notes
from webapp.common import UploadedImage, concurrency, require, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings


@dataclass(eq=False)  # hashed by identity, like gradio's components
class ImageQATab:
    """The tab's output components and its handlers."""

    settings: AppSettings
    answer: gr.Textbox
    confidence: gr.Number
    history: gr.Chatbot
    explain: explain_panel.ExplainPanel | None = None

    @user_errors
    def answer_question(self, image: str, question: str, history: list[dict] | None = None,
                        progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Answer a question about an image; appends to the running history for this image."""
        require(image, "an image")
        require(question, "a question")
        out = mmdemo.answer(image, question, limits=self.settings.limits)
        if not out.answerable:
            return self.not_answerable(out, history)
        shown = out.answer or "(the model gave no answer)"
        history = [*(history or []), {"role": "user", "content": out.question},
                   {"role": "assistant", "content": f"{shown}  ({out.confidence:.0%})"}]
        return {self.answer: out.answer, self.confidence: round(out.confidence, 4), self.history: history}

    def not_answerable(self, out: mmdemo.AnswerOutput, history: list[dict] | None) -> dict[gr.Component, Any]:
        """A question the model cannot answer: its message as a notice, not an answer with a confidence."""
        gr.Info(out.answer)
        history = [*(history or []), {"role": "user", "content": out.question},
                   {"role": "assistant", "content": f"ℹ️ {out.answer}"}]
        return {self.answer: "", self.confidence: None, self.history: history}

    def clear_history(self, _image: Any = None) -> dict[gr.Component, Any]:
        return {self.history: []}

    def forget_answer(self, _image: Any) -> dict[gr.Component, Any]:
        """A new image: the answer about the previous one goes (and its explanation)."""
        cleared = {self.answer: "", self.confidence: None}
        return cleared | (self.explain.forget_map() if self.explain else {})


def build(settings: AppSettings) -> ImageQATab:
    with gr.Row():
        with gr.Column():
            image = UploadedImage(type="filepath", label=t("Image"), elem_id="qa-image")
            question = gr.Textbox(label=t("Question"), placeholder=question_placeholder(), elem_id="qa-question")
            button = gr.Button(t("Answer"), variant="primary")
        with gr.Column():
            answer = gr.Textbox(label=t("Answer"), elem_id="answer-output")
            confidence = gr.Number(label=t("Confidence"))
            history = gr.Chatbot(label=t("Questions about this image"), height=300)
            build_note()
    tab = ImageQATab(settings, answer, confidence, history)
    inputs, outputs = [image, question, history], [answer, confidence, history]
    button.click(tab.answer_question, inputs, outputs, api_name="answer", **concurrency(settings, "vqa"))
    question.submit(tab.answer_question, inputs, outputs, api_name="answer_submit", **concurrency(settings, "vqa"))
    image.change(tab.clear_history, [image], [history], api_name="clear_history")
    tab.explain = explain_panel.add_to_image_qa(settings, image, question, answer)
    image.change(tab.forget_answer, [image], [answer, confidence, *tab.explain.shown()], api_visibility="private",
                 queue=False, show_progress="hidden")
    example_rows = examples_by_preset()
    if example_rows:
        gr.Examples(example_rows, inputs=[image, question], label=t("Examples"), elem_id="qa-examples")
    return tab


def question_placeholder() -> str | I18nData:
    return preset_notes.LABEL_QUESTION_HINT if preset_notes.label_based("vqa") else t("What colour is the shape?")


def build_note() -> None:
    """What the active preset's answers can be about."""
    if preset_notes.label_based("vqa"):
        gr.Markdown(preset_notes.LABEL_ANSWER_NOTE, elem_id="qa-note")
    elif preset_notes.shapes_world_only():
        gr.Markdown(t(preset_notes.SHAPES_WORLD_NOTE), elem_id="qa-note")


def examples_by_preset() -> list[list[str]]:
    """(image, question) examples: shapes questions on the world, label questions on real photos."""
    questions = {"scene_2.png": "what colour is the square?", "scene_1.png": "how many shapes are there?",
                 "chelsea.jpg": "what is this?", "coffee.jpg": "is this a cup?", "rocket.jpg": "is this a dog?"}
    if not preset_notes.label_based("vqa"):
        questions["chelsea.jpg"] = "what colour is the cat?"
    paths = preset_notes.example_images(["scene_2.png", "scene_1.png"], ["chelsea.jpg", "coffee.jpg", "rocket.jpg"])
    return [[path, questions[Path(path).name]] for path in paths]
