"""The app as a Hugging Face Space or the Dockerfile's container starts it, for the tests.

`docker` is not available to the tests, so :func:`space_app` runs the Dockerfile's ``CMD`` in the
test venv with the Dockerfile's ``ENV`` and what a Space adds (``SYSTEM=spaces``, ``SPACE_ID``, the
port in ``GRADIO_SERVER_PORT``, no ``--port``, no ``--host``, no ``--share``); only the bind address
is loopback (``GRADIO_SERVER_NAME=127.0.0.1``, where the image says ``0.0.0.0``), as tests may only
contact 127.0.0.0/8. ``MMDEMO_MCP=1`` and ``MMDEMO_AUTH`` (a Space's variable and secret) turn on the
MCP tools and the login, so the MCP tests use the same server (one start for both modules).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.app.server import ROOT, running_app

SPACE_ID = "mmdemo-tests/mm-demo"  # a hyphen, as many Space names have: gradio sanitises it in tool names
TOOL_PREFIX = re.sub(r"[^a-zA-Z0-9]", "_", SPACE_ID.split("/")[-1]) + "_"  # gradio's prefix: "mm_demo_"
USER, PASSWORD = "agent", "s3cret-pw"


@dataclass
class Dockerfile:
    """What the tests read of the Dockerfile: its instructions in order, ENV values and CMD."""

    instructions: list[tuple[str, str]]
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for name, args in self.instructions if name == keyword]


def read_dockerfile() -> Dockerfile:
    """Parse ROOT/Dockerfile: comments dropped, continued lines joined, ENV pairs and the JSON CMD."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    parsed = Dockerfile(instructions)
    for args in parsed.all("ENV"):
        parsed.env.update(pair.split("=", 1) for pair in shlex.split(args))
    parsed.cmd = json.loads(parsed.all("CMD")[-1])
    return parsed


@pytest.fixture(scope="session")
def space_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the Dockerfile's CMD running under a Space's conditions (see the module docstring)."""
    dockerfile = read_dockerfile()
    assert dockerfile.cmd[:2] == ["python", "app.py"], dockerfile.cmd
    workdir = tmp_path_factory.mktemp("space-app")
    env = {**dockerfile.env, "HOME": str(workdir / "home"), "HF_HOME": str(workdir / "hf-home"),
           "GRADIO_SERVER_NAME": "127.0.0.1", "SYSTEM": "spaces", "SPACE_ID": SPACE_ID,
           "MMDEMO_MCP": "1", "MMDEMO_AUTH": f"{USER}:{PASSWORD}"}
    with running_app(dockerfile.cmd[2:], workdir, env=env, port_from_env=True) as url:
        yield url
