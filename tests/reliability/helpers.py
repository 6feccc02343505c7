"""Shared helpers for the reliability tests and the load benchmark: launching the app with tiny
checkpoints, finding its process, reading its memory, and calling its endpoints."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # when run as a script (load_bench.py)
    sys.path.insert(0, str(ROOT))

from tests.app.server import running_app  # noqa: E402

# Parts of a refusal that would mean a crash leaked out instead of a message written for people.
LEAK_MARKERS = ("Traceback (most recent call last)", "Internal Server Error", 'File "/')
# An absolute server path (two or more folders deep): visitors get file names, not server folders.
SERVER_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/){2,}[\w.@+-]*")


@dataclass
class LaunchedApp:
    """A running ``python app.py``: its URL, port, process id and working folder."""

    url: str
    port: int
    pid: int
    workdir: Path

    @property
    def upload_dir(self) -> Path:
        return self.workdir / "gradio-tmp"

    def rss_mb(self) -> float:
        return rss_mb(self.pid)


def build_tiny_checkpoints(folder: Path) -> dict[str, Path]:
    """Tiny CLIP, BLIP caption/VQA and wav2vec2 (+ projection) checkpoints for the app, by role."""
    from mmdemo.model_factory import build_checkpoint

    folders = {
        "image-text": folder / "clip",
        "caption": folder / "caption",
        "vqa": folder / "vqa",
        "audio": folder / "audio",
    }
    kinds = {"image-text": "clip", "caption": "blip-caption", "vqa": "blip-vqa", "audio": "wav2vec2"}
    for role, path in folders.items():
        if not (path / "config.json").is_file():
            extra = {"projection_dim": 16} if role == "audio" else {}
            build_checkpoint(kinds[role], path, **extra)
    return folders


def model_args(folders: dict[str, Path]) -> list[str]:
    """``app.py`` flags that point every role at a local checkpoint folder."""
    args = ["--preset", "bundled"]
    for role, path in folders.items():
        args += [f"--{role}-model", str(path)]
    return args


def find_app_pid(port: int) -> int:
    """The pid of the ``app.py`` process started with ``--port port`` (read from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"app.py") for arg in argv) and str(port).encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no app.py process listening on port {port}")


def _status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/{pid}/status has no {field}")
    return int(match.group(1))


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MiB."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` in MiB since start or the last :func:`reset_peak_rss`."""
    return _status_kb(pid, "VmHWM") / 1024


def reset_peak_rss(pid: int) -> None:
    """Reset the kernel's peak-RSS counter of ``pid`` (writes 5 to /proc/pid/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextlib.contextmanager
def launched_app(args: list[str], workdir: Path, env: dict[str, str] | None = None) -> Iterator[LaunchedApp]:
    """``running_app`` plus the process id, for memory measurements."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [*args, "--runs-dir", str(workdir / "runs")]  # Fusion Lab output stays in the test's folder
    with running_app(args, workdir, env) as url:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        yield LaunchedApp(url=url, port=port, pid=find_app_pid(port), workdir=workdir)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def leaked_internals(message: str, app: LaunchedApp | None = None, visitor_text: str = "") -> list[str]:
    """What in an error message should not reach a visitor: tracebacks and server paths (paths
    the visitor wrote themselves, found in ``visitor_text``, may be quoted back)."""
    found = [marker for marker in LEAK_MARKERS if marker in message]
    found += [f"server path {path}" for path in SERVER_PATH.findall(message) if path not in visitor_text]
    if app is not None and str(app.workdir) in message:
        found.append(f"server folder {app.workdir}")
    if str(ROOT) in message:
        found.append(f"repository path {ROOT}")
    return found


def raw_request(app: LaunchedApp, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, cookie: str | None = None, read_limit: int = 200_000,
                timeout: float = 10.0):
    """Send ``path`` byte for byte (no client-side normalisation of ``..`` or ``%2F``); returns
    (status, body, headers). An event stream that stays open is read until a short timeout."""
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=timeout)
    headers = dict(headers or {})
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        try:
            data = response.read(read_limit) if method != "HEAD" else b""
        except (TimeoutError, socket.timeout):
            data = b""
        return response.status, data, dict(response.getheaders())
    finally:
        connection.close()
