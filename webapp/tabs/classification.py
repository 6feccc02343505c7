"""The Classification tab: zero-shot labels with CLIP, and a fusion head on text + image + audio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

import mmdemo
from mmdemo import classify
from mmdemo.training.catalog import available_heads, best_head, describe_heads, load_head, resolve_head
from webapp import explain_panel, preset_notes
from webapp.common import UploadedImage, concurrency, examples, require, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings


def head_choices(session_heads: dict[str, str] | None = None) -> tuple[list[tuple[str, str]], str | None]:
    """The head chooser's choices, each head with its test accuracy beside its name (the value passed
    back is the bare name), and the one selected: the best head of the newest run."""
    heads = describe_heads(available_heads(session_heads))
    return [(head.label, head.name) for head in heads], best_head(heads)


def contributions_y_range(values: list[float]) -> list[float | None]:
    """The contributions chart's y-axis: from 0 (or below it, for a negative contribution) up, so
    that every bar is drawn from the zero line (a 0.36 bar is never an empty one)."""
    return [min([0.0, *values]), None]


def default_template() -> str:
    """The zero-shot prompt template of the active image-text model (see
    :func:`mmdemo.classify.default_template`)."""
    return classify.default_template()


@dataclass(eq=False)  # hashed by identity, like gradio's components
class ZeroShotTab:
    """The zero-shot sub-tab's output and its handler."""

    settings: AppSettings
    result: gr.Label

    @user_errors
    def zero_shot(self, image: str, labels: str, template: str,
                  progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Zero-shot label probabilities for an image (a dict for ``gr.Label``)."""
        require(image, "an image")
        require(labels, "some labels")
        out = mmdemo.zero_shot_classify(image, labels, template or default_template(), limits=self.settings.limits)
        if out.activation == "sigmoid":  # SigLIP: each label scored on its own, they need not sum to 1
            gr.Info(f"{out.model} scores each label on its own (sigmoid): the values need not sum to 1.")
        return {self.result: dict(out.ranked())}


@dataclass(eq=False)
class FusionHeadTab:
    """The fusion head sub-tab's head dropdown, outputs and handlers."""

    settings: AppSettings
    head: gr.Dropdown
    probabilities: gr.Label
    contributions: gr.BarPlot
    note: gr.Markdown

    @user_errors
    def classify_with_head(self, head_name: str, text: str | None = None, image: str | None = None,
                           audio: str | None = None, session_heads: dict[str, str] | None = None,
                           progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Label probabilities and per-modality contributions from a fusion head; any input may be missing."""
        import pandas as pd

        if not head_name:
            raise gr.Error("Choose a fusion head (or train one in the Fusion Lab tab).", print_exception=False)
        head = load_head(resolve_head(head_name, available_heads(session_heads)))
        text = mmdemo.clean_text(text, self.settings.limits) if text and text.strip() else None
        prediction = head.predict(text=text, image=image, audio=audio)
        task = prediction.task
        chart = pd.DataFrame({"modality": list(prediction.contributions),
                              "contribution": [round(v, 4) for v in prediction.contributions.values()]})
        note = (f"Task **{task}** · strategy **{head.strategy}** · contributions: {prediction.contribution_kind} · "
                f"inputs used: {', '.join(prediction.used)}")
        others = [f"{name}: **{label}** ({prediction.probabilities[name][label]:.0%})"
                  for name, label in prediction.labels.items() if name != task]
        if others:
            note += "  \nOther tasks of this head: " + " · ".join(others)
        if prediction.transcript:
            note += f" · heard: “{prediction.transcript}”"
        return {self.probabilities: prediction.probabilities[task], self.contributions: chart, self.note: note}

    def contributions_axis(self, chart: Any) -> dict[gr.Component, Any]:
        """The contributions chart's y-axis for the values it shows (below 0 only for a negative one)."""
        values = []
        if chart is not None and "contribution" in chart.columns:
            column = chart.columns.index("contribution")
            values = [float(row[column]) for row in chart.data if row[column] is not None]
        return {self.contributions: gr.BarPlot(y_lim=contributions_y_range(values))}

    def refresh_heads(self, session_heads: dict[str, str] | None) -> dict[gr.Component, Any]:
        """The head chooser after a run: its heads listed, the best head of the newest run chosen."""
        choices, value = head_choices(session_heads)
        return {self.head: gr.Dropdown(choices=choices, value=value)}


@dataclass(eq=False)
class ClassificationTab:
    """Its two sub-tabs."""

    zero_shot: ZeroShotTab
    fusion_head: FusionHeadTab


def build(settings: AppSettings, session_heads: gr.State) -> ClassificationTab:
    """Both sub-tabs; ``session_heads`` (name -> folder) holds the heads this visitor trained."""
    return ClassificationTab(build_zero_shot(settings), build_fusion_head(settings, session_heads))


def build_zero_shot(settings: AppSettings) -> ZeroShotTab:
    with gr.Tab(t("Zero-shot")):
        with gr.Row():
            with gr.Column():
                image = UploadedImage(type="filepath", label=t("Image"), elem_id="zero-shot-image")
                labels = gr.Textbox(label=t("Labels (comma-separated)"), value=preset_notes.zero_shot_labels(),
                                    elem_id="zero-shot-labels")
                template = gr.Textbox(label=t("Prompt template"), value=default_template())
                button = gr.Button(t("Classify"), variant="primary")
            with gr.Column():
                result = gr.Label(label=t("Label probabilities"), num_top_classes=10, elem_id="zero-shot-output")
        tab = ZeroShotTab(settings, result)
        button.click(tab.zero_shot, [image, labels, template], [result], api_name="zero_shot",
                     **concurrency(settings, "image-text"))
        explain_panel.add_to_zero_shot(settings, image, labels, template, default_template)
        example_images = preset_notes.example_images(["scene_2.png", "scene_3.png"],
                                                     ["chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg"])
        if example_images:
            gr.Examples([[p] for p in example_images], inputs=[image], label=t("Examples"))
    return tab


def build_fusion_head(settings: AppSettings, session_heads: gr.State) -> FusionHeadTab:
    with gr.Tab(t("Fusion head (text + image + audio)")):
        gr.Markdown(t("A head trained in the Fusion Lab (or a bundled one). Any input may be left empty."))
        with gr.Row():
            with gr.Column():
                choices, value = head_choices()
                head = gr.Dropdown(choices, value=value, label=t("Fusion head (test accuracy)"), elem_id="head-choice")
                text = gr.Textbox(label=t("Text"))
                image = UploadedImage(type="filepath", label=t("Image"))
                audio = gr.Audio(type="filepath", label=t("Audio"))
                button = gr.Button(t("Classify"), variant="primary")
            with gr.Column():
                probabilities = gr.Label(label=t("Label probabilities"), num_top_classes=10)
                contributions = gr.BarPlot(x="modality", y="contribution", title="Modality contributions",
                                           label=t("Contributions"), y_lim=contributions_y_range([]),
                                           elem_id="head-contributions")
                note = gr.Markdown()
        tab = FusionHeadTab(settings, head, probabilities, contributions, note)
        button.click(tab.classify_with_head, [head, text, image, audio, session_heads],
                     [probabilities, contributions, note], api_name="classify_fusion",
                     **concurrency(settings, "image-text")).then(
            tab.contributions_axis, [contributions], [contributions], api_visibility="private", show_progress="hidden")
        world = examples("world/scene_3.png")
        audio_examples = examples("world/sound_3.wav")
        if world and audio_examples:
            gr.Examples([["the yellow triangle is large.", world[0], audio_examples[0]],
                         ["the yellow triangle is small.", world[0], None]],
                        inputs=[text, image, audio], label=t("Examples"), elem_id="head-examples")
    return tab
