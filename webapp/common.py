"""What every tab shares: mmdemo's errors as ``gr.Error``, required inputs, raw image uploads,
per-model concurrency and the bundled example files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from mmdemo.errors import MmdemoError
from mmdemo.registry import ASSETS_DIR
from webapp.settings import AppSettings

EXAMPLES_DIR = ASSETS_DIR / "examples"
ERROR_SECONDS = 6  # an error toast closes itself after this; a newer one replaces it (webapp.page_style)


class UploadedImage(gr.Image):
    """``gr.Image`` whose upload reaches mmdemo as the untouched file: gradio's own preprocessing
    decodes and converts non-RGB uploads before mmdemo's header-only limit check can refuse them,
    and fails with messages that show the server's upload path."""

    def get_block_name(self) -> str:
        return "image"  # the same front-end component as gr.Image

    def preprocess(self, payload):
        if (self.type == "filepath" and payload is not None and payload.path is not None
                and not (payload.url or "").startswith("data:")):
            return str(payload.path)
        return super().preprocess(payload)


def user_error(message: str) -> gr.Error:
    """The ``gr.Error`` a person sees: ``message`` alone (no traceback), for :data:`ERROR_SECONDS`."""
    return gr.Error(message, duration=ERROR_SECONDS, print_exception=False)


def user_errors(fn: Callable) -> Callable:
    """Turn mmdemo's errors (and bad values) into a ``gr.Error`` with the same message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MmdemoError, ValueError) as err:
            raise user_error(str(err)) from err

    return wrapper


def result_table(headers: list[str], label: str, widths: list[str] | None = None, **kwargs: Any) -> gr.Dataframe:
    """A read-only results table that fits its panel: long cells wrap (never cut with "…") and the
    columns share the panel's width (``widths``: percentages; None: equal shares), so no column is
    pushed out of view (see ``.wrapped-table`` in :mod:`webapp.page_style`)."""
    widths = widths or [f"{100 / len(headers):.2f}%"] * len(headers)
    return gr.Dataframe(headers=headers, label=label, interactive=False, wrap=True, column_widths=widths,
                        elem_classes=["wrapped-table"], **kwargs)


def require(value: Any, what: str) -> Any:
    """``value``, or a ``gr.Error`` asking for ``what`` when it is missing or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise user_error(f"Please provide {what} first.")
    return value


def concurrency(settings: AppSettings, role: str) -> dict[str, Any]:
    """Event keyword arguments: requests for one model role share one limit of ``settings.concurrency``."""
    return {"concurrency_limit": settings.concurrency, "concurrency_id": role}


def examples(*names: str) -> list[str]:
    """Paths of example files under ``assets/examples`` that exist."""
    return [str(EXAMPLES_DIR / name) for name in names if (EXAMPLES_DIR / name).is_file()]
