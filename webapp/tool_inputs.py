"""What an MCP tool accepts as an image or audio file, turned into a file the app may read.

An agent cannot upload through the page, so a tool's file argument is a string in one of three forms:

- base64 data: a ``data:<type>;base64,...`` URI or bare base64; written to gradio's upload folder
  (``GRADIO_TEMP_DIR``), no larger than ``--max-file-size``;
- a URL: one of this app's own file links (``.../gradio_api/file=<path>``) is read from disk under
  the path rule below, without any request; any other ``http(s)`` URL is downloaded with gradio's
  SSRF-protected downloader (public addresses only: loopback, private, link-local and metadata
  addresses are refused) into the upload folder, no larger than ``--max-file-size``;
- a path: only the files the page lets a visitor use, the example files (``assets/examples``) and
  files uploaded to the app (the upload folder). Anything else on the machine is refused, as the
  page refuses it (docs/SECURITY.md, "Files a handler can receive").

Refusals are :class:`~mmdemo.errors.MediaError` with a message that names the value and what is
accepted; the tools turn them into tool errors.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
from pathlib import Path
from urllib.parse import unquote, urlparse

from gradio import processing_utils, utils

from mmdemo.errors import MediaError
from webapp.common import EXAMPLES_DIR

FILE_ROUTE = "/gradio_api/file="
# Leading bytes -> extension, for base64 data whose type the caller did not say.
SIGNATURES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"BM": ".bmp", b"RIFF": ".wav",
              b"fLaC": ".flac", b"OggS": ".ogg"}
MIME_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
                   "image/bmp": ".bmp", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
                   "audio/flac": ".flac", "audio/ogg": ".ogg"}
BARE_BASE64 = re.compile(r"[A-Za-z0-9+/\s]{64,}={0,2}")
ACCEPTED = ("a http(s) URL, base64 data (data:<type>;base64,...) or the path of an example file "
            "or of a file uploaded to this app")


def tool_file(value: str | None, what: str, max_bytes: int | None) -> str | None:
    """The local path of the file an agent passed as ``value`` (None or blank: None).

    Args:
        value: a URL, base64 data or a path (see the module docstring).
        what: what the file is, for messages (``"image"``, ``"audio"``).
        max_bytes: the largest file accepted (``--max-file-size``); None: no limit.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.startswith("data:"):
        return _save_base64(value, what, max_bytes)
    if value.lower().startswith(("http://", "https://")):
        served = _served_path(value)
        return readable_path(served, what) if served is not None else _download(value, what, max_bytes)
    if BARE_BASE64.fullmatch(value):  # no dot: not a file name
        return _save_base64(value, what, max_bytes)
    return readable_path(value, what)


def readable_path(value: str, what: str) -> str:
    """``value`` as an absolute path if the app may read it (an example file or an upload)."""
    path = utils.abspath(value)
    allowed, _ = utils.is_allowed_file(path, blocked_paths=[], allowed_paths=[EXAMPLES_DIR],
                                       created_paths=[utils.get_upload_folder()])
    if not allowed:
        raise MediaError(f"The app may not read the {what} {value!r}: pass {ACCEPTED}")
    if not path.is_file():
        raise MediaError(f"No {what} file at {value!r}: pass {ACCEPTED}")
    return str(path)


def _served_path(url: str) -> str | None:
    """The path behind one of gradio's own file links (``/gradio_api/file=<path>``), else None."""
    path = urlparse(url).path
    if FILE_ROUTE not in path:
        return None
    return unquote(path.split(FILE_ROUTE, 1)[1])


def _check_size(size: int, what: str, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise MediaError(f"The {what} is {size:,} bytes; the largest this app accepts is {max_bytes:,} bytes")


def _save_base64(value: str, what: str, max_bytes: int | None) -> str:
    header, comma, payload = value.partition(",") if value.startswith("data:") else ("", "", value)
    if header and (not comma or not header.endswith(";base64")):
        raise MediaError(f"The {what} data URI must be base64 (data:<type>;base64,...); got {header[:60]!r}")
    _check_size(len(payload) * 3 // 4, what, max_bytes)
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise MediaError(f"The {what} is not valid base64 data ({err}): pass {ACCEPTED}") from err
    mime = header[len("data:"):-len(";base64")] if header else ""
    extension = MIME_EXTENSIONS.get(mime) or next(
        (ext for magic, ext in SIGNATURES.items() if data.startswith(magic)), "")
    return processing_utils.save_bytes_to_cache(data, f"{what}{extension}", utils.get_upload_folder())


def _check_public(url: str, what: str) -> None:
    """Refuse a URL whose host has no public address here, before gradio's downloader (which would
    then ask a public DNS resolver about it)."""
    host = urlparse(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as err:
        raise MediaError(f"Could not download the {what} from {url}: cannot resolve {host!r} ({err})") from err
    if not any(processing_utils.is_public_ip(address) for address in addresses):
        raise MediaError(f"Could not download the {what} from {url}: {host!r} is not a public address "
                         "(the app fetches only public URLs)")


def _download(url: str, what: str, max_bytes: int | None) -> str:
    _check_public(url, what)
    try:
        path = processing_utils.ssrf_protected_download(url, utils.get_upload_folder())
    except Exception as err:  # gradio raises plain Exception (status codes) and safehttpx ValueError (addresses)
        raise MediaError(f"Could not download the {what} from {url}: {err}") from err
    size = Path(path).stat().st_size
    if max_bytes is not None and size > max_bytes:
        Path(path).unlink(missing_ok=True)
        _check_size(size, what, max_bytes)
    return path
