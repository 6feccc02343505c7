"""The app where it is deployed: a Hugging Face Space (README metadata, the environment a Space gives)
and the Dockerfile's container (its instructions, and its command run in the test venv)."""

from __future__ import annotations

import gradio
import httpx
import pytest
import yaml
from gradio_client import Client

from tests.app.server import ROOT
from tests.app.space import PASSWORD, SPACE_ID, USER, read_dockerfile
from webapp.settings import parse_args

SPACE_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def readme_metadata() -> dict:
    """The YAML block the README must start with (what the Hub reads to build the Space)."""
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n"), "README.md must start with the Spaces metadata block"
    block, sep, _ = text[4:].partition("\n---\n")
    assert sep, "the metadata block is not closed by a '---' line"
    return yaml.safe_load(block)


def test_readme_starts_with_valid_spaces_metadata():
    meta = readme_metadata()
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py" and (ROOT / meta["app_file"]).is_file()
    assert meta["python_version"] == "3.11"  # a string: YAML would read 3.10 as 3.1
    assert isinstance(meta["title"], str) and meta["title"] and isinstance(meta["emoji"], str)
    assert 0 < len(meta["short_description"]) <= 60  # the Hub's limit
    assert meta["colorFrom"] in SPACE_COLOURS and meta["colorTo"] in SPACE_COLOURS
    assert "license" not in meta or (ROOT / "LICENSE").is_file()


def test_settings_read_the_environment_a_space_or_container_gives(monkeypatch):
    for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "PORT", "MMDEMO_MCP"):
        monkeypatch.delenv(name, raising=False)
    local = parse_args([])
    assert (local.host, local.port, local.share, local.mcp) == ("127.0.0.1", None, False, False)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("PORT", "8080")
    assert (parse_args([]).host, parse_args([]).port) == ("0.0.0.0", 8080)
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7860")  # gradio's own variable wins over PORT
    assert parse_args([]).port == 7860
    assert (parse_args(["--host", "127.0.0.1", "--port", "9000"]).host, parse_args(["--port", "9000"]).port) == (
        "127.0.0.1", 9000)
    assert parse_args(["--mcp"]).mcp
    monkeypatch.setenv("MMDEMO_MCP", "1")
    assert parse_args([]).mcp
    monkeypatch.setenv("GRADIO_SERVER_PORT", "http")
    with pytest.raises(SystemExit):
        parse_args([])


def test_dockerfile_is_a_cpu_image_for_a_non_root_user_with_caches_in_a_volume():
    dockerfile = read_dockerfile()
    assert dockerfile.all("FROM") == ["python:3.11-slim"]
    installs = [run for run in dockerfile.all("RUN") if "pip install" in run]
    assert installs == ["pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu"]
    users = dockerfile.all("USER")
    assert users and users[-1] not in {"root", "0"}
    last_user = max(i for i, (name, _) in enumerate(dockerfile.instructions) if name == "USER")
    assert last_user < max(i for i, (name, _) in enumerate(dockerfile.instructions) if name == "CMD")
    env = dockerfile.env
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0" and env["GRADIO_SERVER_PORT"] == "7860"
    assert dockerfile.all("EXPOSE") == ["7860"]
    volume = dockerfile.all("VOLUME")[-1]
    assert env["HF_HOME"].startswith(volume + "/") and env["HOME"] + "/.cache" == volume
    assert dockerfile.cmd == ["python", "app.py", "--preset", "bundled"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv/", "tests/"} <= set(ignored)


def test_the_dockerfiles_command_answers_under_a_spaces_conditions(space_app):
    # running_app gave the port only as GRADIO_SERVER_PORT: the app answering there is the check
    assert httpx.get(space_app, timeout=30).status_code == 200  # the login page
    client = Client(space_app, auth=(USER, PASSWORD), verbose=False)
    assert client.config["space_id"] == SPACE_ID  # gradio saw a Space
    status = client.predict(api_name="/status")
    assert status.startswith("**Models: bundled preset**") and "missing" not in status
