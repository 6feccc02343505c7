"""The server reads no file outside its own folders and the upload cache.

Every file-serving route of the installed gradio is asked for ``/etc/passwd``, for files of the
repository (source, README, requirements, git config), for the model checkpoints and for the
app's own log, by absolute and relative path and with encoded and traversal variants; each must
be refused (4xx, never the file's bytes, never a 5xx). A file uploaded to the app is served back,
so the refusals are not an artefact of a broken route. Handlers only ever receive files from the
upload cache, and the file route does not fetch URLs for a visitor (SSRF).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from tests.reliability.endpoints import call_train
from tests.reliability.helpers import ROOT
from tests.reliability.helpers import raw_request as _request

# Routes that serve files, from gradio 6.31's routes.py (API routes live under /gradio_api).
FILE_ROUTES = (
    "/gradio_api/file=",
    "/gradio_api/file/",
    "/file=",
    "/file/",
    "/static/",
    "/assets/",
    "/svelte/",
    "/gradio_api/static/",
    "/gradio_api/custom_component/x/client/x/",
    "/gradio_api/proxy=",
)
REFUSED = {400, 401, 403, 404, 405, 422}


def _targets(app, app_checkpoints) -> dict[str, tuple[Path, bytes]]:
    """Files the server can read but must not serve: path and a snippet of their content."""
    candidates = {
        "passwd": Path("/etc/passwd"),
        "app.py": ROOT / "app.py",
        "README.md": ROOT / "README.md",
        "requirements.txt": ROOT / "requirements.txt",
        "pyproject.toml": ROOT / "pyproject.toml",
        "mmdemo/__init__.py": ROOT / "mmdemo" / "__init__.py",
        "git-config": ROOT / ".git" / "config",
        "checkpoint-config": app_checkpoints["image-text"] / "config.json",
        "app-log": app.workdir / "app.log",
    }
    targets = {}
    for name, path in candidates.items():
        if path.is_file() and path.stat().st_size > 0:
            data = path.read_bytes()
            snippet = next((line for line in data.splitlines() if len(line.strip()) > 8), data[:32])
            targets[name] = (path, snippet.strip()[:40])
    return targets


def _variants(path: Path, app) -> list[str]:
    """Ways to name ``path``: absolute, relative, encoded, and traversals out of the upload cache."""
    absolute = str(path)
    names = [absolute, absolute.lstrip("/")]
    if path.is_relative_to(ROOT):
        relative = path.relative_to(ROOT).as_posix()
        names += [relative, "./" + relative, "../" + ROOT.name + "/" + relative]
    escape = "../" * (len(app.upload_dir.parts) + 2)
    traversal = f"{app.upload_dir}/{escape}{absolute.lstrip('/')}"
    names += [
        quote(absolute, safe=""),  # %2F
        quote(quote(absolute, safe=""), safe=""),  # %252F
        traversal,
        quote(traversal, safe=""),
        traversal.replace("../", "%2e%2e/"),
        traversal.replace("../", "..%2f"),
        traversal.replace("../", "....//"),
        traversal.replace("/", "\\"),
        "//" + absolute.lstrip("/"),
        "file://" + absolute,
        absolute + "%00.png",
    ]
    return names


def _probe_file_routes(app, app_checkpoints) -> list[tuple[str, int, bool]]:
    """(request, status, leaked) for every target, naming variant, route and method."""
    results = []
    for name, (path, snippet) in _targets(app, app_checkpoints).items():
        for variant in _variants(path, app):
            for route in FILE_ROUTES:
                for method in ("GET", "HEAD") if "file" in route else ("GET",):
                    status, body, _ = _request(app, method, route + variant)
                    leaked = snippet in body or (method == "HEAD" and status in (200, 206))
                    results.append((f"{method} {route}{variant} ({name})", status, leaked))
    return results


@pytest.fixture(scope="module")
def file_route_probes(shared_app, app_checkpoints):
    targets = _targets(shared_app, app_checkpoints)
    assert {"passwd", "app.py", "README.md", "requirements.txt"} <= set(targets)
    return _probe_file_routes(shared_app, app_checkpoints)


def test_file_routes_refuse_everything_outside_the_app(file_route_probes):
    served = [f"{request} -> {status}" for request, status, leaked in file_route_probes
              if leaked or 200 <= status < 400]
    assert not served, "\n".join(served[:40])


@pytest.mark.xfail(strict=True, reason=(
    "gradio 6.31 bug: /gradio_api/proxy=<path with a NUL byte> raises httpx.InvalidURL, answered "
    "as a bare 500 (nothing served, traceback only in the server log); see docs/SECURITY.md"))
def test_file_routes_never_answer_with_a_server_error(file_route_probes):
    failures = [f"{request} -> {status}" for request, status, _ in file_route_probes if status not in REFUSED]
    assert not failures, "\n".join(failures[:40])


def _upload(app, name: str, data: bytes) -> str:
    boundary = "mmdemo-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    status, payload, _ = _request(
        app, "POST", "/gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert status == 200, payload
    return json.loads(payload)[0]


def test_uploaded_files_are_served_back(shared_app, bad_inputs):
    """The positive control: the file route works for what was uploaded to this app."""
    data = bad_inputs["image_palette"].read_bytes()
    server_path = _upload(shared_app, "palette.png", data)
    assert Path(server_path).is_relative_to(shared_app.upload_dir)
    status, body, _ = _request(shared_app, "GET", "/gradio_api/file=" + quote(server_path))
    assert status == 200 and body == data
    # ... but not a sibling reached from it.
    sibling = server_path + "/../../../../../../../../etc/passwd"
    status, body, _ = _request(shared_app, "GET", "/gradio_api/file=" + sibling)
    assert status in REFUSED and b"root:" not in body


def _call_raw(app, api_name: str, data: list) -> str:
    """POST /gradio_api/call/<api> with raw JSON, then read its event stream to the end."""
    status, payload, _ = _request(
        app, "POST", f"/gradio_api/call/{api_name}", json.dumps({"data": data}).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 200:
        return f"HTTP {status}: {payload.decode(errors='replace')}"
    event_id = json.loads(payload)["event_id"]
    status, stream, _ = _request(app, "GET", f"/gradio_api/call/{api_name}/{event_id}", timeout=120)
    return stream.decode(errors="replace")


@pytest.mark.parametrize("target", ["/etc/passwd", str(ROOT / "app.py"), str(ROOT / "README.md")])
def test_handlers_only_receive_files_from_the_upload_cache(shared_app, target):
    """A crafted API call naming a server file instead of an upload is refused by gradio before
    the handler runs, and the reply says nothing about the file's content."""
    image = {"path": target, "orig_name": "x.png", "meta": {"_type": "gradio.FileData"}}
    stream = _call_raw(shared_app, "zero_shot", [image, "red, blue", "a photo of a {}."])
    assert "event: error" in stream or stream.startswith("HTTP 4"), stream
    assert "event: complete" not in stream
    content = Path(target).read_text(errors="replace").splitlines()
    assert not any(line.strip() and line.strip() in stream for line in content[:5] if len(line.strip()) > 8)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/config",
    "http://localhost:{port}/gradio_api/info",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/config",
])
def test_file_route_and_handlers_do_not_fetch_internal_urls(shared_app, url):
    url = url.format(port=shared_app.port)
    status, body, _ = _request(shared_app, "GET", "/gradio_api/file=" + url)
    assert status in REFUSED, (status, body[:200])
    status, body, _ = _request(shared_app, "GET", "/gradio_api/proxy=" + url)
    assert status in REFUSED, (status, body[:200])
    image = {"path": None, "url": url, "orig_name": "x.png", "meta": {"_type": "gradio.FileData"}}
    stream = _call_raw(shared_app, "zero_shot", [image, "red, blue", "a photo of a {}."])
    assert "event: complete" not in stream, stream[:400]


def test_run_history_routes_are_not_mounted(shared_app):
    """Run history (gradio >= 6.27) reads and writes Hugging Face buckets with the operator's
    locally saved token for requests that look local, outside the app's own login; the app does
    not use it and must launch with it off (CVE-2026-134825, see docs/SECURITY.md)."""
    for path in ("/gradio_api/run-history/buckets", "/gradio_api/run-history/records?bucket=a/b"):
        status, body, _ = _request(shared_app, "GET", path, headers={"Host": "localhost"})
        assert status == 404, (path, status, body[:200])
    status, body, _ = _request(shared_app, "POST", "/gradio_api/run-history/connect",
                               json.dumps({"bucket_id": "a/b"}).encode(), {"Content-Type": "application/json"})
    assert status == 404, (status, body[:200])


def test_fusion_lab_reads_only_files_inside_the_uploaded_data_set(shared_app, tmp_path):
    """A manifest in an uploaded zip may only name files inside that zip. Rows naming server files
    by absolute path or by '..' are refused: otherwise a visitor trains on (and probes the
    existence of) files outside the app's folders, e.g. other visitors' uploads."""
    outside = tmp_path / "outside"
    outside.mkdir()
    for name, colour in (("red.png", (255, 0, 0)), ("blue.png", (0, 0, 255))):
        Image.new("RGB", (16, 16), colour).save(outside / name)
    escape = "../" * 12 + str(outside).lstrip("/")
    rows = ["image,label"]
    for index in range(12):
        colour = ("red", "blue")[index % 2]
        rows.append(f"{outside / (colour + '.png')},{colour}")  # absolute server path
        rows.append(f"{escape}/{colour}.png,{colour}")  # relative, escaping the data folder
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("data/manifest.csv", "\n".join(rows) + "\n")
    client = Client(shared_app.url, verbose=False, analytics_enabled=False)
    try:
        summary, *_ = call_train(client, archive)
    except AppError as error:
        assert "no usable row" in str(error) or "outside" in str(error), str(error)
    else:
        pytest.fail(f"the Fusion Lab trained on files outside the uploaded data set: {summary}")
