"""The whole page: the status line and the five tabs in one ``gr.Blocks``, and how it is served."""

from __future__ import annotations

from typing import Any

import gradio as gr

from mmdemo.status import MISSING, RoleStatus, model_status
from webapp.settings import AppSettings
from webapp import upkeep
from webapp.tabs import captioning, classification, fusion_lab, image_qa, retrieval

TITLE = "mmdemo: multimodal playground"


def _state(role: RoleStatus) -> str:
    return f"**missing**: {role.hint}" if role.state == MISSING else role.state


def status_markdown(settings: AppSettings) -> str:
    """The status line: the preset and why, what its models can do, then each role's model,
    preset, device, dtype and state."""
    status = model_status()
    parts = [f"{r.role}: `{r.model}` ({r.preset}, {r.device}, {r.dtype}, {_state(r)})" for r in status.roles]
    header = f"**Models: {status.preset} preset** ({settings.preset_reason or 'default'})"
    abilities = [f"{status.preset} preset: {status.abilities}"] if status.abilities else []
    return "  \n".join([header, *abilities, " · ".join(parts)])


def build_app(settings: AppSettings) -> gr.Blocks:
    """The app's Blocks for ``settings`` (whose model settings :func:`apply_model_settings
    <webapp.settings.apply_model_settings>` has applied)."""
    with gr.Blocks(title=TITLE, delete_cache=settings.share_limits.delete_cache) as demo:
        gr.Markdown("# mmdemo: a multimodal model playground")
        status = gr.Markdown(status_markdown(settings), elem_id="model-status")
        session_heads = gr.State({})
        with gr.Tabs() as tabs:
            with gr.Tab("Captioning"):
                caption_tab = captioning.build(settings)
            with gr.Tab("Image QA"):
                qa_tab = image_qa.build(settings)
            with gr.Tab("Classification"):
                with gr.Tabs():
                    classify_tabs = classification.build(settings, session_heads)
                    heads = classify_tabs.fusion_head
            with gr.Tab("Retrieval"):
                retrieval_tab = retrieval.build(settings)
            with gr.Tab("Fusion Lab"):
                lab = fusion_lab.build(settings, session_heads)
        lab.trained.then(heads.refresh_heads, [session_heads], [heads.head], api_name="refresh_heads")

        def model_status_line() -> dict[gr.Component, Any]:
            """One line per role: the model, preset, device and dtype it uses (before or after loading)."""
            return {status: status_markdown(settings)}

        demo.load(model_status_line, None, status, api_name="status")
        # Models load on first use: re-read the status when a tab is chosen and after each result.
        refreshes = [tabs.select, lab.trained.then, caption_tab.best.change, qa_tab.history.change,
                     classify_tabs.zero_shot.result.change, heads.probabilities.change, retrieval_tab.table.change]
        for listener in refreshes:
            listener(model_status_line, None, status, api_visibility="private", show_progress="hidden",
                     queue=False)
    upkeep.install(demo, settings)  # sessions, fair use, training turns, disk caps (webapp/upkeep.py)
    return demo


def launch(demo: gr.Blocks, settings: AppSettings) -> None:
    """Serve ``demo`` with the queue, limits, login and network settings of ``settings`` (blocks)."""
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    if upkeep.installed(demo) is not None:
        upkeep.installed(demo).start()
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=settings.auth or None,
        max_file_size=settings.max_file_size,
        show_error=True,
        ssr_mode=False,  # see docs/SECURITY.md (CVE-2026-134825)
        run_history=False,
        # gradio's own per-session store: a backstop above --max-sessions (webapp/sessions.py)
        state_session_capacity=2 * settings.share_limits.max_sessions,
    )
