"""``--share`` says what became of the public link: on the page (the status line) and in one log line
in the CLI's terms; gradio's own "set `share=True` in `launch()`" advice is never printed."""

from __future__ import annotations

import logging
import time

import pytest
from gradio_client import Client

from tests.app.server import running_app
from webapp.main import status_markdown
from webapp.settings import AppSettings
from webapp.share_link import FAILED, OFF, PENDING, READY, ShareLink

SHARE_WAIT_S = 90  # gradio gives up on a tunnel it cannot download after ~20 s


def test_each_outcome_is_stated_with_what_to_do(caplog, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("gradio.tunneling.BINARY_PATH", str(tmp_path / "no-frpc"))
    caplog.set_level(logging.INFO, logger="mmdemo.app")
    off = ShareLink()
    off.settle(None, "http://127.0.0.1:7860/")
    assert off.state == OFF and off.markdown() == ""
    assert "add --share for a public gradio.live link" in caplog.text
    failed = ShareLink(requested=True)
    assert failed.state == PENDING and failed.markdown() == "**Share link**: being created…"
    failed.settle(None, "http://127.0.0.1:7860/")
    assert failed.state == FAILED
    assert failed.markdown().startswith("**Share link**: none. gradio's tunnel program (frpc) is not installed")
    assert "restart with --share" in failed.markdown()
    ready = ShareLink(requested=True)
    ready.settle("https://abc.gradio.live", "http://127.0.0.1:7860/")
    assert ready.state == READY and ready.markdown() == "**Share link**: https://abc.gradio.live"
    assert status_markdown(AppSettings(), ready).endswith("  \n**Share link**: https://abc.gradio.live")


def test_share_without_network_says_on_the_page_that_there_is_no_link_and_why(tmp_path) -> None:
    env = {"HF_HOME": str(tmp_path / "hf-home")}  # no frpc there, and no network to fetch it
    with running_app(["--preset", "bundled", "--share", "--runs-dir", str(tmp_path / "runs")], tmp_path, env=env) as url:
        client = Client(url, verbose=False)
        deadline = time.monotonic() + SHARE_WAIT_S
        status = client.predict(api_name="/status")
        while "being created" in status and time.monotonic() < deadline:
            time.sleep(1)
            status = client.predict(api_name="/status")
        assert "**Share link**: none. gradio's tunnel program (frpc) is not installed" in status, status
        assert "restart with --share" in status
    log = (tmp_path / "app.log").read_text()
    assert "set `share=True`" not in log
    assert "Serving on http://127.0.0.1:" in log and "only: no share link" in log
