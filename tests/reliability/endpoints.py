"""How each kind of generated input reaches the launched app through ``gradio_client``.

Images go to ``/zero_shot`` (the lightest image endpoint) and texts to ``/answer`` as the question.
Audio clips and data-set files (manifests, zips) go to every endpoint that takes an ``Audio`` or
``File`` input and needs nothing else (its other parameters have defaults); the app grows such
endpoints with its Retrieval tab and Fusion Lab, so they are found from the API description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

CALL_TIMEOUT = 180.0
LABELS = "red, blue"


@dataclass(frozen=True)
class FileEndpoint:
    """An endpoint whose one required input is a file of some component type."""

    api_name: str
    parameter: str
    component: str


def call(client: Client, *args: Any, api_name: str, timeout: float = CALL_TIMEOUT, **kwargs: Any) -> Any:
    """``client.predict`` with a timeout, so a hung server fails the test instead of blocking it."""
    return client.submit(*args, api_name=api_name, **kwargs).result(timeout=timeout)


def call_image(client: Client, path: Path) -> dict:
    return call(client, handle_file(str(path)), LABELS, "a photo of a {}.", api_name="/zero_shot")


def call_text(client: Client, text: str, image: Path) -> tuple:
    return call(client, handle_file(str(image)), text, [], api_name="/answer")


def server_answers(client: Client) -> bool:
    """The app still serves requests: the status endpoint answers through the queue."""
    return "Models" in str(call(client, api_name="/status", timeout=60))


def file_endpoints(client: Client, components: tuple[str, ...]) -> list[FileEndpoint]:
    """Named endpoints with one required input of a type in ``components`` (e.g. ``("Audio",)``)."""
    info = client.view_api(print_info=False, return_format="dict")
    found = []
    for api_name, endpoint in info["named_endpoints"].items():
        params = endpoint["parameters"]
        required = [p for p in params if not p["parameter_has_default"]]
        files = [p for p in params if p["component"] in components]
        if len(files) == 1 and all(p is files[0] for p in required):
            found.append(FileEndpoint(api_name, files[0]["parameter_name"], files[0]["component"]))
    return found


def call_file(client: Client, endpoint: FileEndpoint, path: Path) -> Any:
    return call(client, api_name=endpoint.api_name, **{endpoint.parameter: handle_file(str(path))})
