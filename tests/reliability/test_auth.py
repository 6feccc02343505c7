"""With ``--auth user:pw``, every route of the installed gradio that gives access to the app (its
API, queue, uploads, files, config) refuses a visitor who has not logged in, the remaining
public routes (static assets, the login page, ...) reveal no data, and a logged-in
``gradio_client`` works."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import gradio
import pytest
from gradio_client import Client

from tests.reliability.endpoints import call_image
from tests.reliability.helpers import launched_app, model_args
from tests.reliability.helpers import raw_request as _request

USER, PASSWORD = "visitor", "correct horse battery staple"
API_NAMES = ("caption", "answer", "answer_submit", "clear_history", "zero_shot", "status")
API_PREFIX = "/gradio_api"
DECORATOR = re.compile(r'@(router|app)\.(get|post|head)\(\s*f?"([^"]+)"([^)]*)\)', re.S)
SAMPLE_PARAMS = {
    "api_name": "zero_shot", "path_or_url": "/etc/passwd", "url_path": "http://127.0.0.1:1/x",
    "size": "192", "ext": "ts", "component_id": "1", "environment": "client",
}


def gradio_routes() -> list[tuple[str, str, bool]]:
    """(method, concrete path, protected by login_check) for every route in gradio's routes.py."""
    source = (Path(gradio.__file__).parent / "routes.py").read_text(encoding="utf-8")
    routes = []
    for owner, method, path, rest in DECORATOR.findall(source):
        full = (API_PREFIX if owner == "router" else "") + path
        concrete = re.sub(
            r"\{(\w+)(?::path)?\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "x"), full
        )
        routes.append((method.upper(), concrete, "login_check" in rest))
    return sorted(set(routes))


def _login(app, user=USER, password=PASSWORD) -> tuple[int, str | None]:
    body = urlencode({"username": user, "password": password}).encode()
    status, _, headers = _request(app, "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    cookie = headers.get("set-cookie")
    return status, (cookie.split(";", 1)[0] if cookie else None)


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory, app_checkpoints):
    args = model_args(app_checkpoints) + ["--auth", f"{USER}:{PASSWORD}"]
    with launched_app(args, tmp_path_factory.mktemp("auth-app")) as app:
        yield app


def _post_body(path: str) -> tuple[bytes, dict]:
    if path.endswith("/upload"):
        boundary = "b0undary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\n"
                f"hello\r\n--{boundary}--\r\n").encode()
        return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    payload = {"data": ["x"], "fn_index": 0, "session_hash": "abcdefgh", "event_data": None}
    return json.dumps(payload).encode(), {"Content-Type": "application/json"}


def test_every_protected_route_refuses_without_login(auth_app):
    routes = [r for r in gradio_routes() if r[2]]
    assert any("/file=" in path for _, path, _ in routes) and any("/queue/join" in path for _, path, _ in routes)
    # The app's own endpoints through every API style, too.
    for api in API_NAMES:
        for style in ("call", "call/v2", "run", "api"):
            routes.append(("POST", f"{API_PREFIX}/{style}/{api}", True))
    open_doors = []
    for method, path, _ in routes:
        body, headers = _post_body(path) if method == "POST" else (None, {})
        status, data, _ = _request(auth_app, method, path, body, headers)
        not_mounted = status == 404 and data == b'{"detail":"Not Found"}'  # e.g. profiling routes
        if status != 401 and not not_mounted:
            open_doors.append(f"{method} {path} -> {status} {data[:80]!r}")
    assert not open_doors, "\n".join(open_doors)


def _page_config(html: bytes) -> dict:
    match = re.search(rb"window\.gradio_config\s*=\s*(\{.*?\});\s*</script>", html, re.S)
    assert match, "no gradio_config in the page"
    return json.loads(match.group(1))


def test_public_routes_reveal_no_app_data(auth_app):
    """Routes gradio leaves open by design (assets, login page, heartbeat, ...) answer without
    a 5xx and carry neither the app's components nor results."""
    problems = []
    for method, path, protected in gradio_routes():
        if protected or path in ("/login", "/login/"):
            continue
        body, headers = _post_body(path) if method == "POST" else (None, {})
        status, data, _ = _request(auth_app, method, path, body, headers)
        if status >= 500:
            problems.append(f"{method} {path} -> {status}")
        if b"caption-output" in data or b"model-status" in data:  # elem_ids of the app's components
            problems.append(f"{method} {path} -> {status} shows the app's components")
    assert not problems, "\n".join(problems)
    status, html, _ = _request(auth_app, "GET", "/")
    config = _page_config(html)
    assert status == 200 and config.get("auth_required") is True
    assert config["components"] == [] and config["dependencies"] == []
    # The markers looked for above are really in the app's page once logged in.
    _, cookie = _login(auth_app)
    status, html, _ = _request(auth_app, "GET", "/", cookie=cookie)
    assert status == 200 and b"caption-output" in html and b"model-status" in html


@pytest.mark.xfail(strict=True, reason=(
    "gradio 6.31 renders the API description (endpoint names, parameters, example calls) into "
    "the login page for visitors who are not logged in, while /gradio_api/info itself needs a "
    "login; no data or call is exposed. See docs/SECURITY.md"))
def test_login_page_does_not_describe_the_api(auth_app):
    status, html, _ = _request(auth_app, "GET", "/")
    assert status == 200 and b"zero_shot" not in html


def test_uploaded_file_needs_a_login_to_be_read(auth_app):
    status, cookie = _login(auth_app)
    assert status == 200 and cookie
    body, headers = _post_body("/upload")
    status, data, _ = _request(auth_app, "POST", f"{API_PREFIX}/upload", body, headers, cookie=cookie)
    assert status == 200
    server_path = json.loads(data)[0]
    assert _request(auth_app, "GET", f"{API_PREFIX}/file={server_path}", cookie=cookie)[:2] == (200, b"hello")
    status, data, _ = _request(auth_app, "GET", f"{API_PREFIX}/file={server_path}")
    assert status == 401 and b"hello" not in data


def test_logged_in_client_works_and_wrong_password_is_refused(auth_app, bad_inputs):
    client = Client(auth_app.url, auth=(USER, PASSWORD), verbose=False, analytics_enabled=False)
    result = call_image(client, bad_inputs["image_palette"])
    assert result["label"] in {"red", "blue"}
    assert _login(auth_app, USER, "wrong")[0] == 400
    with pytest.raises(Exception, match="(?i)incorrect|credentials|401|login|auth"):
        Client(auth_app.url, auth=(USER, "wrong"), verbose=False, analytics_enabled=False)
    with pytest.raises(Exception, match="(?i)401|auth|login"):
        Client(auth_app.url, verbose=False, analytics_enabled=False)
