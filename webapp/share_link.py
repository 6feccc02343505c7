"""What became of ``--share``: the public link, or why there is none and what to do (shown in the
status line and logged once, in place of gradio's own start-up lines)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("mmdemo.app")

OFF, PENDING, READY, FAILED = "off", "being created", "ready", "failed"


@dataclass
class ShareLink:
    """The share link's state: ``off`` (no ``--share``), ``being created``, ``ready`` (``url``) or
    ``failed`` (``reason`` says why and what to do)."""

    requested: bool = False
    state: str = OFF
    url: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.requested and self.state == OFF:
            self.state = PENDING

    def settle(self, url: str | None, local_url: str) -> None:
        """Record what gradio's launch gave (``url`` None: no link) and log it in the CLI's terms."""
        if not self.requested:
            logger.info("Serving on %s (only this address; add --share for a public gradio.live link)", local_url)
            return
        if url:
            self.state, self.url = READY, url
            logger.info("Serving on %s and on the public share link %s", local_url, url)
            return
        self.state, self.reason = FAILED, failure_reason()
        logger.warning("Serving on %s only: no share link. %s", local_url, self.reason)

    def markdown(self) -> str:
        """The status line's share part ("" without ``--share``)."""
        if self.state == OFF:
            return ""
        if self.state == READY:
            return f"**Share link**: {self.url}"
        if self.state == PENDING:
            return "**Share link**: being created…"
        return f"**Share link**: none. {self.reason}"


def failure_reason() -> str:
    """Why gradio made no share link, in words, with what to do."""
    from gradio.tunneling import BINARY_PATH

    if not Path(BINARY_PATH).exists():
        why = ("gradio's tunnel program (frpc) is not installed and could not be downloaded: this machine "
               "seems to have no internet access")
    else:
        why = "gradio's share server could not be reached: this machine seems to have no internet access"
    return (f"{why}. The app is served on this machine only; connect to the internet and restart with "
            "--share, or serve your network with --host 0.0.0.0.")
