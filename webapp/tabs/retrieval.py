"""The Retrieval tab: search a visitor's gallery (the examples plus their uploads) with one query."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

import mmdemo
from mmdemo.modalities import exactly_one_query
from mmdemo.retrieval import RetrievalIndex
from mmdemo import presets
from webapp import explain_panel, preset_notes
from webapp.common import EXAMPLES_DIR, UploadedImage, concurrency, examples, result_table, user_error, user_errors
from webapp.i18n import t
from webapp.settings import AppSettings

GALLERY_DIR = EXAMPLES_DIR / "world"
PHOTOS_DIR = EXAMPLES_DIR / "photos"
GALLERIES = {"bundled": [GALLERY_DIR], "offline": [PHOTOS_DIR]}  # by preset; any other: photos and world


def gallery_folders() -> list[Path]:
    """The example folders a new gallery starts with: the shapes world for the bundled models,
    the real photos for the offline preset, both for the others."""
    return GALLERIES.get(presets.active_preset(), [PHOTOS_DIR, GALLERY_DIR])
MODALITY_FILTERS = ["any", "image", "text", "audio"]


def new_gallery_index() -> RetrievalIndex:
    """A visitor's retrieval index, preloaded with the example gallery (vectors come from the cache)."""
    index = RetrievalIndex()
    for folder in gallery_folders():
        if folder.is_dir():
            index.add_folder(folder)
    return index


SHOWN_TEXT_CHARS = 160  # the most of a text hit the results table shows


def shown_item(hit: Any) -> str:
    """What the results table shows of a hit: a typed text's words; a text file's words and its name;
    an image's or a clip's file name (never a server path)."""
    if hit.modality == "text" and hit.id.startswith("text:"):
        return shortened(hit.source)
    name = Path(hit.source).name
    if hit.modality == "text":
        try:
            words = " ".join(Path(hit.source).read_text(encoding="utf-8", errors="replace").split())
        except OSError:
            return name
        return f"“{shortened(words)}” ({name})"
    return name


def shortened(text: str) -> str:
    return text if len(text) <= SHOWN_TEXT_CHARS else text[: SHOWN_TEXT_CHARS - 1].rstrip() + "…"


@dataclass(eq=False)  # hashed by identity, like gradio's components
class RetrievalTab:
    """The tab's outputs, the visitor's index (a ``gr.State``) and its handlers."""

    settings: AppSettings
    index: gr.State
    results: gr.Gallery
    table: gr.Dataframe
    summary: gr.Markdown
    transcript: gr.State  # what a speech-road model heard in the last audio query (None: not audio)
    heard: gr.Markdown
    last_search: gr.State  # an explain_panel.LastSearch: what the Explain panel explains

    def gallery_summary(self, index: RetrievalIndex) -> str:
        counts = index.counts()
        parts = ", ".join(f"{counts.get(m, 0)} {m}" for m in ("image", "text", "audio"))
        return f"Gallery: {len(index)} items ({parts}); limit {self.settings.max_gallery}."

    @user_errors
    def retrieval_search(self, query_text: str | None = None, query_image: str | None = None,
                         query_audio: str | None = None, k: float = 5, modality: str = "any",
                         index: RetrievalIndex | None = None,
                         progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Search the gallery with one query (text, image or audio); top-k as a gallery and a table."""
        index = index if index is not None else new_gallery_index()
        kind, value = exactly_one_query({"text": query_text, "image": query_image, "audio": query_audio})
        if kind == "text":
            value = mmdemo.clean_text(value, self.settings.limits, what="query")
        result = index.query(**{kind: value}, k=int(k), modality=None if modality == "any" else modality)
        gallery = [(hit.source, f"#{hit.rank} · {hit.score:.3f} · {hit.modality}")
                   for hit in result.hits if hit.modality == "image"]
        table = [[hit.rank, round(hit.score, 4), hit.modality, shown_item(hit)] for hit in result.hits]
        return {self.results: gallery, self.table: table, self.index: index, self.transcript: result.transcript,
                self.last_search: explain_panel.LastSearch(kind, value, list(result.hits))}

    def show_heard(self, transcript: str | None) -> dict[gr.Component, Any]:
        """What a speech-road model heard in the audio query (hidden for other queries)."""
        return {self.heard: gr.Markdown(heard_note(transcript), visible=transcript is not None)}

    @user_errors
    def retrieval_add(self, files: list[str] | None = None, texts: str | None = None,
                      index: RetrievalIndex | None = None,
                      progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[gr.Component, Any]:
        """Add uploaded files and typed texts (one per line) to this visitor's gallery."""
        index = index if index is not None else new_gallery_index()
        new_texts = [line.strip() for line in (texts or "").splitlines() if line.strip()]
        files = list(files or [])
        limit = self.settings.max_gallery
        if not files and not new_texts:
            raise user_error("Upload files or type texts (one per line) to add.")
        if len(index) + len(files) + len(new_texts) > limit:
            raise user_error(f"The gallery holds at most {limit} items; it has {len(index)} and you "
                             f"are adding {len(files) + len(new_texts)}.")
        notes = []
        if files:
            report = index.add_files(files)
            notes += [f"skipped {Path(item.path).name}: {item.reason}" for item in report.failed]
            notes += [f"ignored {Path(path).name}: not an image, audio or .txt file" for path in report.ignored]
        if new_texts:
            for text in new_texts:
                mmdemo.clean_text(text, self.settings.limits)
            index.add_texts(new_texts)
        summary = self.gallery_summary(index) + ("\n" + "\n".join(notes) if notes else "")
        return {self.summary: summary, self.index: index}

    def retrieval_reset(self, _index: Any = None) -> dict[gr.Component, Any]:
        """Back to the example gallery."""
        index = new_gallery_index()
        return {self.summary: self.gallery_summary(index), self.index: index}


def heard_note(transcript: str | None) -> str:
    return f"heard: “{transcript}”" if transcript is not None else ""


def text_queries() -> list[str]:
    """Example text queries for the example folders the gallery starts with."""
    folders = gallery_folders()
    photos = ["a cup of coffee", "a cat", "a rocket launch"] if PHOTOS_DIR in folders else []
    return photos + (["a red circle", "two shapes"] if GALLERY_DIR in folders else [])


def audio_query_examples() -> list[str]:
    """A spoken query for the photos (the speech road), a shapes-world sound for the world."""
    folders = gallery_folders()
    spoken = examples("speech/coffee_cup.wav") if PHOTOS_DIR in folders else []
    return spoken + (examples("world/sound_0.wav") if GALLERY_DIR in folders else [])


def build(settings: AppSettings) -> RetrievalTab:
    index = gr.State(None)
    with gr.Row():
        with gr.Column():
            query_text = gr.Textbox(label=t("Query text"), placeholder=text_queries()[0], elem_id="retrieval-query")
            query_image = UploadedImage(type="filepath", label=t("…or query image"))
            query_audio = gr.Audio(type="filepath", label=t("…or query audio"), elem_id="retrieval-audio")
            with gr.Row():
                k = gr.Slider(1, 20, value=5, step=1, label=t("Top k"))
                modality = gr.Radio(MODALITY_FILTERS, value="any", label=t("Return"))
            search = gr.Button(t("Search"), variant="primary")
        with gr.Column():
            results = gr.Gallery(label=t("Image results"), columns=5, height=260, elem_id="retrieval-gallery")
            table = result_table(["rank", "score", "modality", "item"], t("All results"), ["12%", "16%", "18%", "54%"],
                                 elem_id="retrieval-table")
            heard = gr.Markdown(visible=False, elem_id="retrieval-heard")
    transcript = gr.State(None)
    with gr.Accordion(t("Gallery: add your own images, audio and texts"), open=False):
        summary = gr.Markdown(f"The gallery starts with the examples ({', '.join(f.name for f in gallery_folders())}).")
        files = gr.File(file_count="multiple", label=t("Images / audio / .txt files"))
        texts = gr.Textbox(label=t("Texts (one per line)"), lines=3)
        with gr.Row():
            add = gr.Button(t("Add to gallery"))
            reset = gr.Button(t("Reset gallery"))
    last_search = gr.State(None)
    tab = RetrievalTab(settings, index, results, table, summary, transcript, heard, last_search)
    searched = search.click(tab.retrieval_search, [query_text, query_image, query_audio, k, modality, index],
                            [results, table, index, transcript, last_search], api_name="retrieve",
                            **concurrency(settings, "image-text"))
    searched.success(tab.show_heard, [transcript], [heard], api_visibility="private")
    explain_panel.add_to_retrieval(settings, searched, last_search)
    add.click(tab.retrieval_add, [files, texts, index], [summary, index], api_name="gallery_add",
              **concurrency(settings, "image-text"))
    reset.click(tab.retrieval_reset, [index], [summary, index], api_name="gallery_reset")
    gr.Examples([[query] for query in text_queries()], inputs=[query_text], label=t("Text queries"),
                elem_id="retrieval-text-examples")
    query_examples = preset_notes.example_images(["scene_1.png"], ["chelsea.jpg"])
    if query_examples:
        gr.Examples([[p] for p in query_examples], inputs=[query_image], label=t("Image queries"))
    audio_examples = audio_query_examples()
    if audio_examples:
        gr.Examples([[p] for p in audio_examples], inputs=[query_audio], label=t("Audio queries"))
    return tab
