"""The app's MCP tools, used by an AI agent: the `mcp` Python client over the transport gradio serves
(streamable HTTP at /gradio_api/mcp/).

The server is the one of tests/app/space.py: the Dockerfile's command (the bundled preset) under a
Space's conditions, with ``MMDEMO_MCP=1`` and ``MMDEMO_AUTH`` (so gradio prefixes the tool names with
the Space's name). Checked: the tools, their results on the bundled example scenes (which the bundled
models were trained on, so the captions and hits can be checked), bad input as tool errors with the
app's message, and the login in front of the MCP endpoint. `--mcp` itself: tests/app/test_spaces.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote

import httpx
import pytest
from gradio_client import Client
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mmdemo.errors import MediaError
from mmdemo.world.text import caption_names_scene
from tests.app.conftest import EXAMPLES
from tests.app.server import ROOT
from tests.app.space import PASSWORD, TOOL_PREFIX, USER
from webapp.mcp_tools import TOOL_NAMES
from webapp.tool_inputs import tool_file
PAGE_ONLY = {"retrieval_reset", "clear_history", "refresh_heads", "model_status_line", "show_classes",
             "show_heard"}  # names of the page's handlers: none may be a tool
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def mcp_app(space_app):
    return space_app


def session_run(url: str, work, auth: tuple[str, str] = (USER, PASSWORD)):
    """Run ``await work(session)`` in an initialised MCP client session on ``url``'s MCP endpoint."""

    async def main():
        async with httpx.AsyncClient(auth=auth, timeout=httpx.Timeout(120.0)) as http:
            async with streamable_http_client(url + "gradio_api/mcp/", http_client=http) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

    return asyncio.run(main())


def call(url: str, tool: str, **arguments):
    """(is_error, text) of one tool call."""

    async def work(session):
        result = await session.call_tool(TOOL_PREFIX + tool, arguments)
        return result.isError, " ".join(part.text for part in result.content if part.type == "text")

    return session_run(url, work)


def result(url: str, tool: str, **arguments) -> dict:
    is_error, text = call(url, tool, **arguments)
    assert not is_error, text
    return json.loads(text)


def test_the_app_lists_its_tools_and_no_page_event(mcp_app):
    async def work(session):
        return {tool.name.removeprefix(TOOL_PREFIX): tool for tool in (await session.list_tools()).tools}

    tools = session_run(mcp_app, work)
    assert set(tools) == set(TOOL_NAMES)  # named after their functions, with the Space's prefix
    assert not PAGE_ONLY & set(tools)
    caption = tools["caption"]
    assert caption.description.startswith("Describe an image in words")
    assert "Returns:" in caption.description and '"caption": the best caption' in caption.description
    assert caption.inputSchema["required"] == ["image"]
    assert "base64" in caption.inputSchema["properties"]["image"]["description"]
    assert set(tools["search_gallery"].inputSchema["properties"]) == {"query_text", "query_image", "query_audio",
                                                                      "k", "modality"}


def test_a_page_event_cannot_be_called_as_a_tool(mcp_app):
    is_error, text = call(mcp_app, "retrieval_reset")
    assert is_error and "Unknown tool" in text


def test_caption_of_a_bundled_example_by_path_and_by_the_apps_file_link(mcp_app, example_scene):
    image, scene = example_scene(2)
    by_path = result(mcp_app, "caption", image=str(image))
    assert caption_names_scene(by_path["caption"], scene), (by_path, scene.key())
    assert by_path["captions"][0]["text"] == by_path["caption"] and 0 < by_path["captions"][0]["score"] <= 1
    assert by_path["model"] == "bundled-caption" and by_path["method"] == "generated"
    link = f"{mcp_app}gradio_api/file={quote(str(image))}"  # what gradio's upload gives an agent
    assert result(mcp_app, "caption", image=link)["caption"] == by_path["caption"]


def test_retrieval_over_the_default_gallery_from_text_and_from_base64_image(mcp_app):
    text = (EXAMPLES / "caption_3.txt").read_text().strip()  # the caption of scene_3.png
    found = result(mcp_app, "search_gallery", query_text=text, k=1, modality="image")
    assert [hit["item"] for hit in found["hits"]] == ["scene_3.png"] and found["query_modality"] == "text"
    data = base64.b64encode((EXAMPLES / "scene_1.png").read_bytes()).decode()
    found = result(mcp_app, "search_gallery", query_image=f"data:image/png;base64,{data}", k=3, modality="image")
    assert found["hits"][0]["item"] == "scene_1.png" and found["hits"][0]["score"] > 0.999  # itself, first
    assert all("/" not in hit["item"] for hit in found["hits"])  # names, never server paths
    assert found["gallery_size"] >= 16


def test_zero_shot_answer_fusion_head_and_status(mcp_app, example_scene):
    image, _ = example_scene(3)  # a large yellow triangle in the middle
    ranked = result(mcp_app, "zero_shot_classify", image=str(image),
                    labels="red circle, yellow triangle, blue square", template="a {}.")["labels"]
    assert ranked[0]["label"] == "yellow triangle" and abs(sum(r["probability"] for r in ranked) - 1) < 1e-3
    assert result(mcp_app, "answer", image=str(image), question="what colour is the triangle?")["answer"] == "yellow"
    status = result(mcp_app, "model_status_report")
    assert status["preset"] == "bundled" and status["fusion_heads"]
    assert {role["role"] for role in status["roles"]} >= {"image-text", "caption", "vqa", "audio"}
    head = result(mcp_app, "classify_with_fusion_head", text="the yellow triangle is large.", image=str(image))
    assert head["head"] == status["fusion_heads"][0] and set(head["used"]) == {"text", "image"}
    assert head["label"] == max(head["probabilities"], key=head["probabilities"].get)


@pytest.mark.parametrize("tool, arguments, message", [
    ("caption", {"image": "/etc/passwd"}, "The app may not read the image '/etc/passwd'"),
    ("caption", {"image": "README.md"}, "The app may not read the image 'README.md'"),
    ("caption", {"image": ""}, "Please provide an image first."),
    ("caption", {"image": "data:image/png;base64,%%%"}, "is not valid base64 data"),
    ("caption", {"image": "http://127.0.0.1:9/secret.png"}, "'127.0.0.1' is not a public address"),
    ("caption", {"image": "http://localhost:9/secret.png"}, "'localhost' is not a public address"),
    ("zero_shot_classify", {"image": str(EXAMPLES / "scene_1.png"), "labels": "cat"}, "at least two distinct labels"),
    ("search_gallery", {"query_text": "red", "query_image": str(EXAMPLES / "scene_1.png")}, "exactly one query"),
    ("search_gallery", {"query_text": "red", "k": 0}, "k must be between 1 and 20; got 0"),
    ("search_gallery", {"query_text": "red", "modality": "video"}, "Unknown modality filter 'video'"),
    ("classify_with_fusion_head", {"head": "no-such-head", "text": "a"}, "Unknown fusion head 'no-such-head'"),
])
def test_bad_input_is_a_tool_error_with_the_apps_message(mcp_app, tool, arguments, message):
    is_error, text = call(mcp_app, tool, **arguments)
    assert is_error and message in text, text
    assert "Traceback" not in text


def test_the_mcp_endpoint_asks_for_the_login(mcp_app):
    endpoint = mcp_app + "gradio_api/mcp/"
    for auth in (None, (USER, "wrong"), ("someone", PASSWORD)):
        response = httpx.post(endpoint, json=INITIALIZE, headers=MCP_HEADERS, auth=auth, timeout=30)
        assert response.status_code == 401 and "requires a login" in response.text
        assert response.headers["www-authenticate"].startswith("Basic")
    for path in ("gradio_api/mcp/schema", "gradio_api/mcp/sse", "gradio_api/mcp"):
        assert httpx.get(mcp_app + path, timeout=30).status_code == 401
    response = httpx.post(endpoint, json=INITIALIZE, headers=MCP_HEADERS, auth=(USER, PASSWORD), timeout=30)
    assert response.status_code == 200 and "serverInfo" in response.text
    schema = httpx.get(mcp_app + "gradio_api/mcp/schema", auth=(USER, PASSWORD), timeout=30).json()
    assert {tool["name"] for tool in schema} == {TOOL_PREFIX + name for name in TOOL_NAMES}  # what the Hub reads
    with pytest.raises(BaseException) as refused:  # the client's task group wraps the HTTP error
        session_run(mcp_app, lambda session: session.list_tools(), auth=(USER, "wrong"))
    assert "401" in repr(leaves(refused.value))


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def test_the_page_events_still_answer_gradio_client_after_login(mcp_app):
    client = Client(mcp_app, auth=(USER, PASSWORD), verbose=False)
    assert "bundled preset" in client.predict(api_name="/status")


def test_tool_files_follow_the_pages_file_rules(tmp_path, monkeypatch):
    """In-process: what a tool's file argument may name (the example files and uploads only)."""
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    monkeypatch.chdir(ROOT)
    example = EXAMPLES / "scene_1.png"
    assert tool_file(str(example), "image", None) == str(example)
    assert tool_file(str(example.relative_to(ROOT)), "image", None) == str(example)
    assert tool_file(f"http://elsewhere:1/gradio_api/file={quote(str(example))}", "image", None) == str(example)
    assert tool_file("  ", "image", None) is None
    uploaded = uploads / "abc" / "mine.wav"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_bytes(b"RIFF")
    assert tool_file(str(uploaded), "audio", None) == str(uploaded)
    (uploads / "escape.png").symlink_to(ROOT / "app.py")
    for refused in ("/etc/passwd", str(ROOT / "app.py"), str(EXAMPLES / ".." / ".." / ".." / "app.py"),
                    str(uploads / "escape.png"), f"http://x/gradio_api/file={ROOT / 'app.py'}", "../app.py"):
        with pytest.raises(MediaError, match="The app may not read the image"):
            tool_file(refused, "image", None)
    raw = example.read_bytes()
    for value in (f"data:image/png;base64,{base64.b64encode(raw).decode()}", base64.b64encode(raw).decode()):
        saved = tool_file(value, "image", None)
        assert saved.startswith(str(uploads)) and saved.endswith(".png") and open(saved, "rb").read() == raw
    with pytest.raises(MediaError, match="the largest this app accepts is 100 bytes"):
        tool_file(base64.b64encode(raw).decode(), "image", 100)
    with pytest.raises(MediaError, match="must be base64"):
        tool_file("data:image/png,rawbytes", "image", None)
