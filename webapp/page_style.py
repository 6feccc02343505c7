"""The page's own CSS (passed to ``launch``): how errors show, how result tables wrap, and how the
header and the tabs fit a phone's width.

- Errors: one message at a time. Gradio groups error toasts into one box that lists every message
  ("Error (3)"); only the newest is shown. A failed request leaves its outputs as they were: the red
  "Error" badge gradio lays over each output panel is hidden (the toast says what went wrong).
- Result tables (``.wrapped-table``): long cells wrap instead of being cut with "…", and the table
  never grows wider than its panel, so a score column stays in view.
- Phones (below 640 px): the title and the status line shrink (the status scrolls inside a few
  lines), and every tab stays reachable without gradio's "…" overflow menu: gradio measures the tab
  buttons in a hidden copy of the tab bar to decide which ones overflow; that copy is measured as
  zero-width, so all tabs are drawn, and the real tab bar wraps onto a second line.
"""

from __future__ import annotations

PHONE_WIDTH_PX = 640

CSS = f"""
.toast-body.error .toast-message-item:not(:last-of-type),
.toast-body.error .toast-separator,
.toast-body.error .toast-count {{ display: none !important; }}
[data-testid="status-tracker"] > span.error {{ display: none !important; }}

.wrapped-table {{ max-width: 100%; overflow-x: hidden; }}
.wrapped-table table {{ table-layout: fixed; width: 100% !important; }}
.wrapped-table td, .wrapped-table th {{ white-space: normal !important; overflow-wrap: anywhere; }}

@media (max-width: {PHONE_WIDTH_PX}px) {{
  #page-title h1 {{ font-size: 1.2rem; margin: 0; }}
  #model-status {{ font-size: 11px; line-height: 1.35; max-height: 5.6em; overflow-y: auto; }}
  #model-status p {{ margin: 0; }}
  .tab-wrapper {{ height: auto !important; }}
  .tab-wrapper .tab-container.visually-hidden button {{
    font-size: 0 !important; padding: 0 !important; min-width: 0 !important; width: 0 !important; }}
  .tab-wrapper [role="tablist"] {{ flex-wrap: wrap; height: auto !important; }}
  .tab-wrapper [role="tablist"] button {{ padding-left: 8px; padding-right: 8px; }}
}}
"""
