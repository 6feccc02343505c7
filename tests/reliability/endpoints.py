"""How each kind of generated input reaches the launched app through ``gradio_client``.

Images go to ``/zero_shot`` (the lightest image endpoint), texts to ``/answer`` as the question,
audio clips to ``/retrieve`` as the query (after ``/gallery_add`` filled the session's gallery),
and data sets (manifests, zips) to ``/train_fusion`` as the Fusion Lab upload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

CALL_TIMEOUT = 180.0
LABELS = "red, blue"


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


def fill_gallery(client: Client, image: Path) -> str:
    """Give this client's session a gallery to search: one image and two texts."""
    return call(client, [handle_file(str(image))], "a red circle\na blue square", api_name="/gallery_add")


def call_audio(client: Client, path: Path) -> tuple:
    return call(client, "", None, handle_file(str(path)), 3, "any", api_name="/retrieve")


def call_train(client: Client, path: Path) -> tuple:
    """A short Fusion Lab run (one strategy, two epochs) on an uploaded manifest or zip."""
    return call(client, "upload", 100, handle_file(str(path)), "", ["concat"], 2, 8, "adamw", 0.001,
                "none", 0.0001, 0.0, 0.0, 0.0, 10, 0, api_name="/train_fusion")
