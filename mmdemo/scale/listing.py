"""What a scaled build embeds: the media files of a folder, of a manifest, or of a pyarrow filesystem.

A source is one of:

* a local folder: every image, audio and ``.txt`` file under it (as ``index build`` finds them:
  sorted, hidden files skipped), labelled with its sub-folder;
* a manifest file: ``.txt`` (one path per line), ``.csv`` / ``.tsv`` (a ``path`` column, else the
  first column) or ``.jsonl`` (a ``path`` key); relative paths are relative to the manifest;
* a URI that pyarrow can open (``s3://bucket/photos``, ``gs://...``, ``hdfs://...``,
  ``file:///data/photos``): the files under that prefix, read through ``pyarrow.fs``.

Ids match the local engine's: a local file's absolute path; for a URI, the URI itself.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mmdemo.errors import ConfigError
from mmdemo.retrieval.build import discover_files, file_fingerprint, folder_label, modality_of_path

MANIFEST_SUFFIXES: tuple[str, ...] = (".txt", ".csv", ".tsv", ".jsonl")


@dataclass(frozen=True)
class SourceFile:
    """One file to embed.

    Attributes:
        id: the item id (absolute path, or the URI for pyarrow filesystems).
        path: where to read it: a local path, or a URI.
        modality: ``"image"``, ``"audio"`` or ``"text"``.
        label: the sub-folder it is in (folder sources), else None.
        fingerprint: ``"<size>:<mtime_ns>"``: a changed file gets a new fingerprint.
    """

    id: str
    path: str
    modality: str
    label: str | None
    fingerprint: str


@dataclass
class Listing:
    """The files of a source, in the order the local engine embeds them, and what was left out.

    Attributes:
        source: the source as given.
        files: media files to embed.
        ignored: files that are not image, audio or text files.
        missing: manifest entries that cannot be read, with the reason (reported as skipped).
    """

    source: str
    files: list[SourceFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)


def is_uri(source: str) -> bool:
    return "://" in source


def list_source(source: str | os.PathLike, *, recursive: bool = True) -> Listing:
    """The files of ``source`` (a folder, a manifest file or a pyarrow-readable URI).

    Raises:
        ConfigError: the source is neither a folder, a manifest nor a readable URI.
    """
    text = str(source)
    if is_uri(text):
        return _list_uri(text, recursive)
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        return _list_folder(path, recursive)
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return _list_manifest(path)
    raise ConfigError(
        f"Cannot list {text!r}: expected a folder, a manifest ({', '.join(MANIFEST_SUFFIXES)}) "
        f"or a URI pyarrow can open (s3://, gs://, hdfs://, file://)"
    )


def _list_folder(root: Path, recursive: bool) -> Listing:
    media, other = discover_files(root, recursive=recursive)
    listing = Listing(str(root), ignored=[str(p) for p in other])
    for path in media:
        modality = modality_of_path(path)
        listing.files.append(SourceFile(str(path), str(path), modality, folder_label(path, root), file_fingerprint(path)))
    return listing


def _manifest_paths(manifest: Path) -> list[str]:
    suffix = manifest.suffix.lower()
    text = manifest.read_text(encoding="utf-8")
    if suffix == ".txt":
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if suffix == ".jsonl":
        paths = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{manifest.name} line {number} is not JSON ({err})") from err
            if not isinstance(record, dict) or not isinstance(record.get("path"), str):
                raise ConfigError(f"{manifest.name} line {number} has no 'path' string; keys: {sorted(record) if isinstance(record, dict) else record!r}")
            paths.append(record["path"])
        return paths
    rows = list(csv.reader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("path") if "path" in header else 0
    return [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()]


def _list_manifest(manifest: Path) -> Listing:
    listing = Listing(str(manifest))
    seen: set[str] = set()
    for raw in _manifest_paths(manifest):
        if is_uri(raw):
            raise ConfigError(f"{manifest.name} lists the URI {raw!r}; list URIs by their prefix instead of a manifest")
        path = Path(raw).expanduser()
        path = (path if path.is_absolute() else manifest.parent / path).resolve()
        if str(path) in seen:
            continue
        seen.add(str(path))
        modality = modality_of_path(path)
        if modality is None:
            listing.ignored.append(str(path))
            continue
        try:
            fingerprint = file_fingerprint(path)
        except OSError as err:
            listing.missing.append((str(path), f"cannot read it ({err})"))
            continue
        listing.files.append(SourceFile(str(path), str(path), modality, None, fingerprint))
    return listing


def _list_uri(uri: str, recursive: bool) -> Listing:
    import pyarrow.fs as pafs

    try:
        filesystem, root = pafs.FileSystem.from_uri(uri)
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=recursive))
    except (OSError, ValueError) as err:  # pyarrow's errors derive from these
        raise ConfigError(f"pyarrow cannot list {uri!r} ({err})") from err
    scheme = uri.split("://", 1)[0]
    listing = Listing(uri)
    files = sorted((info for info in infos if info.type == pafs.FileType.File), key=lambda info: info.path)
    for info in files:
        name = info.path.rsplit("/", 1)[-1]
        if name.startswith(".") or any(part.startswith(".") for part in info.path[len(root):].split("/")[:-1]):
            continue
        address = f"{scheme}://{info.path}" if scheme != "file" else f"file://{info.path}"
        modality = modality_of_path(name)
        if modality is None:
            listing.ignored.append(address)
            continue
        mtime = info.mtime_ns if info.mtime_ns is not None else 0
        listing.files.append(SourceFile(address, address, modality, None, f"{info.size}:{mtime}"))
    return listing


def read_bytes(path: str) -> bytes:
    """The content of a listed file (a local path or a pyarrow URI)."""
    if not is_uri(path):
        return Path(path).read_bytes()
    import pyarrow.fs as pafs

    filesystem, inner = pafs.FileSystem.from_uri(path)
    with filesystem.open_input_stream(inner) as stream:
        return stream.read()
