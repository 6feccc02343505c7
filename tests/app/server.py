"""Start ``python app.py`` on a free local port in a subprocess, for client and browser tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in (200, 401):
                    return
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app.py did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def running_app(args: list[str], workdir: Path, env: dict[str, str] | None = None, *,
                port_from_env: bool = False) -> Iterator[str]:
    """Run the app with ``args``; yields its URL; stops it afterwards. Logs go to workdir/app.log.

    ``port_from_env``: give the port as ``GRADIO_SERVER_PORT`` (as a Space or a container does), not ``--port``.
    """
    port = free_port()
    environment = dict(os.environ)
    environment.update(
        HF_HUB_OFFLINE="1",
        MMDEMO_CACHE_DIR=str(workdir / "cache"),
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_TEMP_DIR=str(workdir / "gradio-tmp"),
    )
    environment.update(env or {})
    if port_from_env:
        environment["GRADIO_SERVER_PORT"] = str(port)
    log = open(workdir / "app.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *([] if port_from_env else ["--port", str(port)]), *args],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
