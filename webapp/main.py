"""The whole page: the status line and the five tabs in one ``gr.Blocks``, and how it is served."""

from __future__ import annotations

from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from mmdemo.status import MISSING, RoleStatus, model_status
from webapp import i18n, mcp_tools, page_style, upkeep
from webapp.i18n import t
from webapp.mcp_access import McpAccess
from webapp.settings import AppSettings
from webapp.share_link import PENDING, ShareLink
from webapp.tabs import captioning, classification, fusion_lab, image_qa, retrieval

TITLE = "mmdemo: multimodal playground"


def _state(role: RoleStatus) -> str:
    return f"**missing**: {role.hint}" if role.state == MISSING else role.state


def status_markdown(settings: AppSettings, share_link: ShareLink | None = None) -> str:
    """The status line: the preset and why, what its models can do, then each role's model,
    preset, device, dtype and state (and, with ``--share``, what became of the share link)."""
    status = model_status()
    parts = [f"{r.role}: `{r.model}` ({r.preset}, {r.device}, {r.dtype}, {_state(r)})" for r in status.roles]
    header = f"**Models: {status.preset} preset** ({settings.preset_reason or 'default'})"
    abilities = [f"{status.preset} preset: {status.abilities}"] if status.abilities else []
    share = [share_link.markdown()] if share_link is not None and share_link.markdown() else []
    return "  \n".join([header, *abilities, " · ".join(parts), *share])


def build_app(settings: AppSettings, share_link: ShareLink | None = None) -> gr.Blocks:
    """The app's Blocks for ``settings`` (whose model settings :func:`apply_model_settings
    <webapp.settings.apply_model_settings>` has applied); the status line reads ``share_link``
    (what :func:`launch` made of ``--share``)."""
    with gr.Blocks(title=TITLE, delete_cache=settings.share_limits.delete_cache) as demo:
        gr.Markdown(t("# mmdemo: a multimodal model playground"), elem_id="page-title")
        status = gr.Markdown(status_markdown(settings, share_link), elem_id="model-status")
        session_heads = gr.State({})
        with gr.Tabs() as tabs:
            with gr.Tab(t("Captioning")):
                caption_tab = captioning.build(settings)
            with gr.Tab(t("Image QA")):
                qa_tab = image_qa.build(settings)
            with gr.Tab(t("Classification")):
                with gr.Tabs():
                    classify_tabs = classification.build(settings, session_heads)
                    heads = classify_tabs.fusion_head
            with gr.Tab(t("Retrieval")):
                retrieval_tab = retrieval.build(settings)
            with gr.Tab(t("Fusion Lab")):
                lab = fusion_lab.build(settings, session_heads)
        lab.trained.then(heads.refresh_heads, [session_heads], [heads.head], api_name="refresh_heads")

        def model_status_line() -> dict[gr.Component, Any]:
            """One line per role: the model, preset, device and dtype it uses (before or after loading)."""
            return {status: status_markdown(settings, share_link)}

        demo.load(model_status_line, None, status, api_name="status")
        if share_link is not None and share_link.requested:  # the link settles after the page is up
            share_timer = gr.Timer(2.0)

            def share_outcome() -> dict[gr.Component, Any]:
                return {status: status_markdown(settings, share_link),
                        share_timer: gr.Timer(active=share_link.state == PENDING)}

            share_timer.tick(share_outcome, None, [status, share_timer], api_visibility="private",
                             show_progress="hidden", queue=False)
        # Models load on first use: re-read the status when a tab is chosen and after each result.
        refreshes = [tabs.select, lab.trained.then, caption_tab.best.change, qa_tab.history.change,
                     classify_tabs.zero_shot.result.change, heads.probabilities.change, retrieval_tab.table.change]
        for listener in refreshes:
            listener(model_status_line, None, status, api_visibility="private", show_progress="hidden",
                     queue=False)
        if settings.mcp:
            mcp_tools.register(settings)
        i18n.english_example_headers(demo)
    i18n.keep_api_labels_english(demo)  # gradio_client and MCP see the English labels
    upkeep.install(demo, settings)  # sessions, fair use, training turns, disk caps (webapp/upkeep.py): last
    return demo


def launch(demo: gr.Blocks, settings: AppSettings, share_link: ShareLink | None = None) -> None:
    """Serve ``demo`` with the queue, limits, login and network settings of ``settings`` (blocks).

    Gradio starts quietly (its own start-up lines advise ``share=True`` in ``launch()``); the
    outcome is logged in the CLI's terms and recorded in ``share_link`` for the status line.
    """
    share_link = share_link or ShareLink(requested=settings.share)
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
        mcp_server=settings.mcp,
        # the MCP endpoint: the --auth login and only the app's tools (see webapp.mcp_access)
        app_kwargs={"middleware": [Middleware(McpAccess, auth=settings.auth, api_names=mcp_tools.API_NAMES)]}
        if settings.mcp else None,
        css=page_style.CSS,
        i18n=i18n.translations(settings.lang),  # the page's words (webapp/i18n.py)
        quiet=True,
        prevent_thread_lock=True,
        # gradio's own per-session store: a backstop above --max-sessions (webapp/sessions.py)
        state_session_capacity=2 * settings.share_limits.max_sessions,
    )
    share_link.settle(demo.share_url, demo.local_url)
    demo.block_thread()
