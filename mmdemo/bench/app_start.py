"""Seconds from ``python app.py`` to a page that answers (models load lazily, so none is loaded)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from mmdemo.bench.results import AppStartResult
from mmdemo.registry import PROJECT_ROOT

POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def measure_app_start(
    app: Path = PROJECT_ROOT / "app.py", *, timeout: float = 180.0, extra_args: list[str] | None = None
) -> AppStartResult:
    """Start ``python app.py --port P``, poll ``http://127.0.0.1:P/`` until it answers 200, stop it."""
    port = free_port()
    command = [sys.executable, str(app), "--port", str(port), *(extra_args or [])]
    if not app.is_file():
        return AppStartResult(command, None, f"{app} does not exist")
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=app.parent, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        reason = f"no answer within {timeout:.0f} s"
        try:
            while time.perf_counter() - start < timeout:
                if _answers(url):
                    return AppStartResult(command, time.perf_counter() - start)
                if process.poll() is not None:
                    reason = f"the app exited with code {process.returncode} before answering"
                    break
                time.sleep(POLL_SECONDS)
        finally:
            if process.poll() is None:
                _stop(process)
        log.seek(0)
        tail = log.read().decode("utf-8", errors="replace")[-1500:]
    return AppStartResult(command, None, f"{reason}; output tail:\n{tail}")
