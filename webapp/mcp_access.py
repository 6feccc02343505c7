"""Who may use the MCP endpoint (``/gradio_api/mcp/...``) and which tools it shows.

gradio 6.31 mounts its MCP server beside the app's routes, outside the login that ``--auth`` puts
on the page and its API (gradio issue #11465), and makes a tool of every public event. This ASGI
middleware, in front of the whole app, does two things on MCP requests only:

- with ``--auth``, it asks for the same ``user:password`` pairs, as HTTP Basic credentials
  (``Authorization: Basic ...``, what MCP clients send from their ``headers`` setting) or the
  page's login cookie; anything else is answered 401 before gradio sees it;
- it keeps only the app's tools (the endpoints of :mod:`webapp.mcp_tools`) in gradio's MCP server:
  its tool -> endpoint map drives the tool list, the calls and the schema route, so the page's
  events are neither listed nor callable as tools. (gradio's own selection, the ``tools`` query
  parameter, cannot do it on a Space whose name has a hyphen: it prefixes the names unsanitised.)
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/gradio_api/mcp"


def is_mcp_path(path: str) -> bool:
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")


def basic_credentials(headers: Sequence[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """The (user, password) of an ``Authorization: Basic`` header, else None."""
    for key, value in headers:
        if key.lower() == b"authorization":
            scheme, _, encoded = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return (user, password) if sep else None
    return None


class McpAccess:
    """ASGI middleware: ``--auth`` login and the app's own tool list for the MCP endpoint.

    Args:
        app: the ASGI app it wraps (gradio's, with the MCP server mounted).
        auth: the ``--auth`` pairs; empty: no login.
        api_names: the endpoints (``api_name``) whose functions are the tools.
    """

    def __init__(self, app: ASGIApp, auth: Sequence[tuple[str, str]], api_names: Sequence[str]) -> None:
        self.app = app
        self.auth = list(auth)
        self.api_names = set(api_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        path = path[len(root):] if root and path.startswith(root) else path
        if scope["type"] != "http" or not is_mcp_path(path):
            await self.app(scope, receive, send)
            return
        if self.auth and not self.logged_in(scope):
            await self.refuse(send)
            return
        self.keep_app_tools(scope.get("app"))
        await self.app(scope, receive, send)

    def logged_in(self, scope: Scope) -> bool:
        """Basic credentials matching an ``--auth`` pair, or a valid login cookie of the page."""
        credentials = basic_credentials(scope.get("headers", []))
        if credentials is not None:
            user, password = credentials
            # compare every pair, in constant time per pair, so timing does not tell which user exists
            matches = [secrets.compare_digest(user.encode(), u.encode()) & secrets.compare_digest(password.encode(), p.encode())
                       for u, p in self.auth]
            return any(matches)
        app = scope.get("app")  # gradio's App: its login tokens, by cookie
        tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
        if not tokens or cookie_id is None:
            return False
        cookies = _cookies(scope.get("headers", []))
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        return token is not None and token in tokens

    def keep_app_tools(self, app: Any) -> None:
        """Drop every tool but the app's from the MCP server of gradio's ``app`` (idempotent)."""
        server = getattr(app.get_blocks(), "mcp_server_obj", None) if hasattr(app, "get_blocks") else None
        if server is not None:
            server.tool_to_endpoint = {tool: endpoint for tool, endpoint in server.tool_to_endpoint.items()
                                       if endpoint.lstrip("/") in self.api_names}

    @staticmethod
    async def refuse(send: Send) -> None:
        body = json.dumps({"error": "Not authenticated: this app requires a login; send the --auth user and "
                                    "password as HTTP Basic credentials (Authorization: Basic ...)"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Basic realm="mmdemo MCP"')]})
        await send({"type": "http.response.body", "body": body})


def _cookies(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for key, value in headers:
        if key.lower() == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, content = part.strip().partition("=")
                cookies[name] = content
    return cookies
