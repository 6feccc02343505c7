"""Reading a training manifest: one sample per row of a CSV/TSV or JSON Lines file.

Columns (names configurable): ``text`` (a string), ``image`` and ``audio`` (file paths, relative to
the manifest's folder unless absolute), ``split`` (optional: train / val / test), and one or more
label columns (several label columns train a multi-task head). A row needs at least one modality
and at least one label; an empty label cell means "unlabelled for that task".

Rows that cannot be used (wrong number of CSV fields, invalid JSON, missing files, no modality, no
label, a label outside a fixed label set) are collected as :class:`BadRow` with their line number
and skipped; they never abort the whole manifest. Only problems with the file itself (missing,
unknown format, no usable columns) raise :class:`ManifestError`.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmdemo.errors import ManifestError
from mmdemo.modalities import MODALITIES

MANIFEST_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
MODALITY_COLUMNS = MODALITIES  # the manifest's media columns
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}
RESERVED_COLUMNS = {"id", "split"}


@dataclass
class BadRow:
    """A skipped manifest row: its line number in the file (CSV header = line 1) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ManifestRow:
    """One usable sample.

    Attributes:
        line: line number in the manifest file where the row starts.
        text: the text, or None.
        image: absolute path of the image file, or None.
        audio: absolute path of the audio file, or None.
        labels: label column -> label string, or None where the cell is empty.
        split: ``"train"``, ``"val"``, ``"test"`` or None.
    """

    line: int
    text: str | None
    image: Path | None
    audio: Path | None
    labels: dict[str, str | None]
    split: str | None = None


@dataclass
class Manifest:
    """A parsed manifest: the usable rows, the skipped ones, and the columns found.

    Attributes:
        path: the manifest file.
        rows: usable rows in file order.
        bad_rows: skipped rows with their line numbers and reasons.
        label_columns: label columns, in order (the tasks of a multi-task head).
        modalities: modality columns present in the header (subset of text, image, audio).
    """

    path: Path
    rows: list[ManifestRow]
    bad_rows: list[BadRow]
    label_columns: list[str]
    modalities: list[str]
    has_split: bool = False
    columns: list[str] = field(default_factory=list)

    def report(self, limit: int = 20) -> str:
        """A short human-readable summary, listing up to ``limit`` bad rows."""
        lines = [f"{self.path.name}: {len(self.rows)} usable rows, {len(self.bad_rows)} skipped"]
        lines += [f"  {bad}" for bad in self.bad_rows[:limit]]
        if len(self.bad_rows) > limit:
            lines.append(f"  ... and {len(self.bad_rows) - limit} more")
        return "\n".join(lines)


def read_manifest(
    path: str | os.PathLike,
    *,
    label_columns: list[str] | None = None,
    text_column: str = "text",
    image_column: str = "image",
    audio_column: str = "audio",
    split_column: str = "split",
    check_files: bool = True,
    confine_to_folder: bool = False,
) -> Manifest:
    """Parse a CSV (``.csv``), TSV (``.tsv``) or JSON Lines (``.jsonl``/``.ndjson``) manifest.

    Args:
        path: the manifest file.
        label_columns: label columns to train on; None means every column that is not a modality,
            ``split`` or ``id`` column.
        text_column, image_column, audio_column, split_column: column names.
        check_files: mark rows whose image/audio file does not exist as bad (default True).
        confine_to_folder: mark rows whose files lie outside the manifest's folder (absolute
            paths elsewhere, ``..``) as bad; for manifests uploaded by visitors.

    Raises:
        ManifestError: missing or unreadable file, unknown extension, no modality column, no label
            column, or a requested label column that the file does not have.
    """
    path = Path(path)
    kind = MANIFEST_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ManifestError(f"unknown manifest format {path.suffix!r} for {path.name}; valid: {', '.join(MANIFEST_FORMATS)}")
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path.name}")
    try:
        records, columns, bad_rows = _read_csv(path, kind) if kind != "jsonl" else _read_jsonl(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read manifest {path.name}: {exc}") from exc
    names = {"text": text_column, "image": image_column, "audio": audio_column}
    modalities = [modality for modality in MODALITY_COLUMNS if names[modality] in columns]
    if not modalities:
        raise ManifestError(
            f"{path.name} has none of the modality columns {list(names.values())}; columns found: {columns}"
        )
    reserved = set(names.values()) | RESERVED_COLUMNS | {split_column}
    if label_columns is None:
        label_columns = [column for column in columns if column not in reserved]
    if not label_columns:
        raise ManifestError(f"{path.name} has no label column; columns found: {columns}")
    missing = [column for column in label_columns if column not in columns]
    if missing:
        raise ManifestError(f"{path.name} has no label column {missing}; columns found: {columns}")

    parser = _RowParser(path.parent, names, modalities, label_columns, split_column, check_files)
    parser.confine = confine_to_folder
    rows = []
    for line, record in records:
        try:
            rows.append(parser.parse(line, record))
        except _BadRowError as exc:
            bad_rows.append(BadRow(line, str(exc)))
    bad_rows.sort(key=lambda bad: bad.line)
    return Manifest(
        path=path,
        rows=rows,
        bad_rows=bad_rows,
        label_columns=list(label_columns),
        modalities=modalities,
        has_split=split_column in columns,
        columns=columns,
    )


class _BadRowError(Exception):
    """Internal: the reason a row is skipped."""


def _read_csv(path: Path, kind: str) -> tuple[list[tuple[int, dict[str, Any]]], list[str], list[BadRow]]:
    delimiter = "\t" if kind == "tsv" else ","
    records: list[tuple[int, dict[str, Any]]] = []
    bad_rows: list[BadRow] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ManifestError(f"manifest {path.name} is empty")
        columns = [name.strip() for name in header]
        previous_end = reader.line_num
        for fields_ in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            if not fields_ or all(not value.strip() for value in fields_):
                continue
            if len(fields_) != len(columns):
                bad_rows.append(BadRow(line, f"has {len(fields_)} fields; the header has {len(columns)}"))
                continue
            records.append((line, dict(zip(columns, fields_))))
    return records, columns, bad_rows


def _read_jsonl(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str], list[BadRow]]:
    records: list[tuple[int, dict[str, Any]]] = []
    bad_rows: list[BadRow] = []
    columns: dict[str, None] = {}
    with open(path, encoding="utf-8-sig") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                bad_rows.append(BadRow(line, f"invalid JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(record, dict):
                bad_rows.append(BadRow(line, f"expected a JSON object, got {type(record).__name__}"))
                continue
            columns.update(dict.fromkeys(str(key) for key in record))
            records.append((line, record))
    return records, list(columns), bad_rows


class _RowParser:
    """Turns one raw record into a ManifestRow or raises _BadRowError with the reason."""

    def __init__(
        self,
        root: Path,
        names: dict[str, str],
        modalities: list[str],
        label_columns: list[str],
        split_column: str,
        check_files: bool,
    ) -> None:
        self.root = root
        self.names = names
        self.modalities = modalities
        self.label_columns = label_columns
        self.split_column = split_column
        self.check_files = check_files

    def parse(self, line: int, record: dict[str, Any]) -> ManifestRow:
        text = self._cell(record, self.names["text"])
        image = self._file(record, "image")
        audio = self._file(record, "audio")
        if text is None and image is None and audio is None:
            raise _BadRowError(f"no {', '.join(self.modalities)}: a row needs at least one modality")
        labels = {column: self._cell(record, column) for column in self.label_columns}
        if all(value is None for value in labels.values()):
            raise _BadRowError(f"no label in {', '.join(self.label_columns)}")
        split = self._cell(record, self.split_column)
        if split is not None:
            if split.lower() not in SPLIT_NAMES:
                raise _BadRowError(f"unknown split {split!r}; valid: {', '.join(SPLIT_NAMES)}")
            split = SPLIT_NAMES[split.lower()]
        return ManifestRow(line=line, text=text, image=image, audio=audio, labels=labels, split=split)

    def _cell(self, record: dict[str, Any], column: str) -> str | None:
        value = record.get(column)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise _BadRowError(f"column {column!r} holds a {type(value).__name__}, expected a string or number")
        text = str(value).strip()
        return text or None

    def _file(self, record: dict[str, Any], modality: str) -> Path | None:
        value = self._cell(record, self.names[modality])
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.root / path
        if getattr(self, "confine", False) and not path.resolve().is_relative_to(self.root.resolve()):
            raise _BadRowError(f"{modality} file {value!r} is outside the data set's folder")
        if self.check_files and not path.is_file():
            raise _BadRowError(f"{modality} file not found: {value}")
        return path
