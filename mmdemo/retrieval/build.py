"""Adding media to an index in batches: files, folders and texts.

Inputs go to the embedder in batches of ``batch_size`` (the default embedder goes through the
encoders' on-disk cache, so after an interruption a rebuild does not run the model again for what
was embedded). Files already in the index with the same size and modification time are not embedded
again. An input that cannot be read is skipped and reported: the embedder is asked to skip
unreadable inputs, and a batch that still fails as a whole is split in halves until the culprits
are isolated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from mmdemo.errors import MediaError
from mmdemo.media import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from mmdemo.retrieval.embedder import EmbeddingLike
from mmdemo.retrieval.items import MODALITIES, IndexItem

logger = logging.getLogger(__name__)

TEXT_EXTENSIONS: tuple[str, ...] = (".txt",)
DEFAULT_BATCH_SIZE = 32


class Indexable(Protocol):
    """What adding media needs of an index (:class:`~mmdemo.retrieval.index.RetrievalIndex` is
    one, and its ``add_*`` methods call these functions with itself)."""

    def __contains__(self, item_id: object) -> bool: ...

    def get(self, item_id: str) -> IndexItem: ...

    def embed(self, modality: str, inputs: Sequence[Any], *, skip_errors: bool = False) -> EmbeddingLike: ...

    def add_embeddings(
        self, embeddings: torch.Tensor, items: Sequence[IndexItem], *, model: str, space: str
    ) -> list[str]: ...


def modality_of_path(path: str | os.PathLike) -> str | None:
    """``"image"``, ``"audio"`` or ``"text"`` from a file's extension; None for other files."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in TEXT_EXTENSIONS:
        return "text"
    return None


def file_fingerprint(path: str | os.PathLike) -> str:
    """``"<size>:<mtime_ns>"``: changes when the file is rewritten."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def text_id(text: str) -> str:
    """Default id of a literal text: ``text:`` + the first 16 hex digits of its SHA-256."""
    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class SkippedFile:
    """An input that was not added, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class BuildProgress:
    """Where a batch add stands (passed to the progress callback after each batch).

    Attributes:
        done: inputs handled so far (added, unchanged or failed).
        total: inputs to handle.
        added: inputs embedded and added.
        unchanged: inputs already in the index, unchanged, not embedded again.
        failed: inputs skipped because they could not be read or embedded.
        elapsed_s: seconds since the start.
    """

    done: int
    total: int
    added: int
    unchanged: int
    failed: int
    elapsed_s: float


ProgressCallback = Callable[[BuildProgress], None]


@dataclass
class AddReport:
    """What a batch add did.

    Attributes:
        added: ids added (or replaced, for changed files).
        unchanged: ids skipped because they are in the index unchanged.
        failed: inputs that could not be read or embedded, with the reason.
        ignored: files under a folder that are not image, audio or text files.
        elapsed_s: seconds the whole add took.
    """

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[SkippedFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.unchanged)} unchanged, {len(self.failed)} failed, "
            f"{len(self.ignored)} ignored in {self.elapsed_s:.1f} s"
        )


@dataclass
class _Pending:
    """One input waiting to be embedded: what to embed and the item it becomes."""

    input: Any
    item: IndexItem


def discover_files(folder: str | os.PathLike, *, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """Media files under ``folder`` (sorted; hidden files and folders skipped) and the other files."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"Not a folder: {root}")
    media: list[Path] = []
    other: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(current) / name
            (media if modality_of_path(path) else other).append(path)
    return media, other


def folder_label(path: Path, root: Path) -> str | None:
    """The label of a file in a folder build: its sub-folder relative to the root (None at the root)."""
    parent = path.parent.relative_to(root)
    return None if parent == Path(".") else parent.as_posix()


def add_folder(
    index: Indexable,
    folder: str | os.PathLike,
    *,
    recursive: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    after_batch: Callable[[AddReport], None] | None = None,
) -> AddReport:
    """Add every image, audio and ``.txt`` file under ``folder``; other files are listed as ignored."""
    root = Path(folder).resolve()
    media, other = discover_files(root, recursive=recursive)
    labels = [folder_label(path, root) for path in media]
    report = add_files(index, media, labels=labels, batch_size=batch_size, progress=progress, after_batch=after_batch)
    report.ignored = [str(path) for path in other]
    return report


def add_files(
    index: Indexable,
    paths: Sequence[str | os.PathLike],
    *,
    labels: Sequence[str | None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    after_batch: Callable[[AddReport], None] | None = None,
) -> AddReport:
    """Add files (modality from the extension); ids are absolute paths."""
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"Got {len(labels)} labels for {len(paths)} files")
    start = time.perf_counter()
    report = AddReport()
    pending: list[_Pending] = []
    for position, raw in enumerate(paths):
        path = Path(raw).expanduser().resolve()
        label = labels[position] if labels is not None else None
        modality = modality_of_path(path)
        if modality is None:
            valid = ", ".join(IMAGE_EXTENSIONS + AUDIO_EXTENSIONS + TEXT_EXTENSIONS)
            report.failed.append(SkippedFile(str(path), f"unsupported file type; valid extensions: {valid}"))
            continue
        try:
            fingerprint = file_fingerprint(path)
            content: Any = path.read_text(encoding="utf-8") if modality == "text" else str(path)
        except (OSError, UnicodeDecodeError) as err:
            report.failed.append(SkippedFile(str(path), f"cannot read it ({err})"))
            continue
        item = IndexItem(str(path), modality, str(path), label, fingerprint)
        if item.id in index and index.get(item.id) == item:
            report.unchanged.append(item.id)
            continue
        pending.append(_Pending(content, item))
    _embed_and_add(index, pending, report, batch_size, progress, after_batch, start)
    return report


def add_texts(
    index: Indexable,
    texts: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    labels: Sequence[str | None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> AddReport:
    """Add literal texts; ids default to :func:`text_id` (repeated texts are added once)."""
    if isinstance(texts, str):
        raise ValueError("Pass a list of texts (wrap a single text in a list)")
    for name, values in (("ids", ids), ("labels", labels)):
        if values is not None and len(values) != len(texts):
            raise ValueError(f"Got {len(values)} {name} for {len(texts)} texts")
    if ids is not None and len(set(ids)) != len(ids):
        raise ValueError("Duplicate ids in one call")
    start = time.perf_counter()
    report = AddReport()
    pending: dict[str, _Pending] = {}
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            report.failed.append(SkippedFile(f"text {position}", f"expected a string, got {type(text).__name__}"))
            continue
        item = IndexItem(
            ids[position] if ids is not None else text_id(text), "text", text,
            labels[position] if labels is not None else None,
        )
        if item.id in index and index.get(item.id) == item:
            report.unchanged.append(item.id)
        else:
            pending[item.id] = _Pending(text, item)
    _embed_and_add(index, list(pending.values()), report, batch_size, progress, None, start)
    return report


def _embed_and_add(
    index: Indexable,
    pending: list[_Pending],
    report: AddReport,
    batch_size: int,
    progress: ProgressCallback | None,
    after_batch: Callable[[AddReport], None] | None,
    start: float,
) -> None:
    """Embed ``pending`` in single-modality batches and add each batch as soon as it is embedded."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    total = len(pending) + len(report.unchanged) + len(report.failed)

    def tell() -> None:
        if progress is not None:
            done = len(report.added) + len(report.unchanged) + len(report.failed)
            progress(BuildProgress(
                done, total, len(report.added), len(report.unchanged), len(report.failed),
                time.perf_counter() - start,
            ))

    tell()
    for modality in MODALITIES:
        group = [entry for entry in pending if entry.item.modality == modality]
        for offset in range(0, len(group), batch_size):
            for output, kept, failures in _embed_robust(index, modality, group[offset : offset + batch_size]):
                if kept:
                    report.added += index.add_embeddings(
                        output.embeddings, [entry.item for entry in kept], model=output.model, space=output.space
                    )
                report.failed += [SkippedFile(entry.item.source if entry.item.is_file else entry.item.id, reason)
                                  for entry, reason in failures]
            report.elapsed_s = time.perf_counter() - start
            tell()
            if after_batch is not None:
                after_batch(report)
    report.elapsed_s = time.perf_counter() - start
    for skipped in report.failed:
        logger.warning("Skipped %s", skipped)


_Segment = tuple[Any, list[_Pending], list[tuple[_Pending, str]]]


def _embed_robust(index: Indexable, modality: str, batch: list[_Pending]) -> list[_Segment]:
    """Embed a batch, isolating unreadable inputs: (output, entries it embedded, failures) segments."""
    try:
        output = index.embed(modality, [entry.input for entry in batch], skip_errors=True)
    except (MediaError, OSError) as err:
        if len(batch) == 1:
            return [(None, [], [(batch[0], str(err))])]
        middle = len(batch) // 2
        return _embed_robust(index, modality, batch[:middle]) + _embed_robust(index, modality, batch[middle:])
    positions = getattr(output, "indices", None) or list(range(len(batch)))
    if output.embeddings.shape[0] != len(positions):
        raise ValueError(
            f"The {modality} embedder returned {output.embeddings.shape[0]} vectors for "
            f"{len(positions)} embedded inputs"
        )
    errors: dict[int, str] = dict(getattr(output, "errors", None) or {})
    embedded = set(positions)
    failures = [(batch[i], errors.get(i, "not embedded")) for i in range(len(batch)) if i not in embedded]
    return [(output, [batch[i] for i in positions], failures)]
