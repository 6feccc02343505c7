"""Safe extraction of uploaded zip archives (the Fusion Lab's data sets).

A zip from a visitor is hostile until checked. Before a single byte is written, every entry is
checked against :class:`ArchiveLimits` and a set of path rules:

- the file is a zip at all, not encrypted, with at most ``max_entries`` entries;
- entry names are relative paths that stay inside the target folder: no absolute paths (``/x``,
  ``\\x``, ``C:x``), no ``..`` component (with ``/`` or ``\\`` separators), no NUL bytes, no two
  entries that land on the same file;
- entries are regular files or folders: symbolic links and device / FIFO entries are refused;
- declared sizes stay under ``max_entry_bytes`` per file and ``max_total_bytes`` in all, and no
  entry expands more than ``max_compression_ratio`` times (a zip bomb).

Extraction then streams each entry while counting the bytes really produced (a zip's declared
sizes can lie), writes into a fresh temporary folder next to the target, and renames it into
place only when everything succeeded: a refused or failed extraction leaves nothing behind, and
an existing target is never half-overwritten.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mmdemo.errors import MediaError

logger = logging.getLogger(__name__)

_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 20
SKIPPED_PREFIXES = ("__MACOSX/",)  # resource forks macOS adds; never data


@dataclass(frozen=True)
class ArchiveLimits:
    """What one uploaded archive may contain.

    Attributes:
        max_archive_bytes: largest zip file itself (bytes on disk).
        max_total_bytes: most bytes all entries may expand to together.
        max_entry_bytes: most bytes one entry may expand to.
        max_entries: most entries (files and folders).
        max_compression_ratio: most an entry may expand relative to its compressed size; checked
            for entries larger than ``ratio_min_bytes`` (tiny files compress oddly).
        ratio_min_bytes: entries up to this size are exempt from the ratio check.
    """

    max_archive_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_entry_bytes: int = 512 * 1024 * 1024
    max_entries: int = 10_000
    max_compression_ratio: float = 100.0
    ratio_min_bytes: int = 1024 * 1024


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


@dataclass
class ExtractedArchive:
    """The result of :func:`extract_zip`.

    Attributes:
        root: the folder the archive was extracted into.
        files: extracted regular files, in archive order.
        total_bytes: bytes written.
        skipped: entries deliberately not extracted (e.g. ``__MACOSX/`` resource forks).
    """

    root: Path
    files: list[Path]
    total_bytes: int
    skipped: list[str]


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path an entry name stands for, or MediaError if it could escape the target.

    Backslashes count as separators (Windows tools write them), so ``..\\evil`` is refused too.
    """
    if "\x00" in name:
        raise MediaError(f"Archive entry {name!r} has a NUL byte in its name")
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _DRIVE.match(normalised):
        raise MediaError(
            f"Archive entry {name!r} is an absolute path; entries must be relative to the archive"
        )
    parts = [part for part in normalised.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise MediaError(f"Archive entry {name!r} contains '..' and would escape the extraction folder")
    if not parts:
        raise MediaError(f"Archive entry {name!r} has an empty path")
    return PurePosixPath(*parts)


def _entry_kind(info: zipfile.ZipInfo) -> str:
    """``file``, ``dir``, ``symlink`` or ``special``, from the Unix mode bits when present."""
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode):  # Unix tools store the file type; others leave it zero
        if stat.S_ISLNK(mode):
            return "symlink"
        if stat.S_ISDIR(mode):
            return "dir"
        if not stat.S_ISREG(mode):
            return "special"
    return "dir" if info.is_dir() else "file"


def check_zip(path: str | os.PathLike, limits: ArchiveLimits | None = None) -> list[zipfile.ZipInfo]:
    """Check every entry of the zip at ``path`` without extracting; returns the entries to extract.

    Raises:
        MediaError: not a zip, too large, too many entries, an unsafe name, a link or special
            file, an encrypted entry, or a declared size / compression ratio over the limits.
    """
    limits = limits or DEFAULT_ARCHIVE_LIMITS
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"Archive not found: {path.name}")
    size = path.stat().st_size
    if size > limits.max_archive_bytes:
        raise MediaError(f"Archive '{path.name}' is {_mib(size)}, over the limit of {_mib(limits.max_archive_bytes)}")
    if not zipfile.is_zipfile(path):
        raise MediaError(f"'{path.name}' is not a zip archive (or it is damaged)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise MediaError(f"'{path.name}' is not a readable zip archive: {err}") from err
    if len(entries) > limits.max_entries:
        raise MediaError(
            f"Archive '{path.name}' has {len(entries):,} entries, over the limit of {limits.max_entries:,}"
        )
    seen: dict[str, str] = {}
    total = 0
    selected = []
    for info in entries:
        if info.filename.startswith(SKIPPED_PREFIXES):
            continue
        member = safe_member_path(info.filename)
        kind = _entry_kind(info)
        if kind == "symlink":
            raise MediaError(f"Archive entry {info.filename!r} is a symbolic link; links are not allowed")
        if kind == "special":
            raise MediaError(f"Archive entry {info.filename!r} is not a regular file or folder")
        if info.flag_bits & 0x1:
            raise MediaError(f"Archive entry {info.filename!r} is encrypted; upload an unencrypted zip")
        key = str(member).casefold()
        if key in seen and (kind == "file" or seen[key] == "file"):
            raise MediaError(f"Archive has two entries for {str(member)!r}")
        seen[key] = kind
        if kind == "file":
            if info.file_size > limits.max_entry_bytes:
                raise MediaError(
                    f"Archive entry {info.filename!r} expands to {_mib(info.file_size)}, too large "
                    f"(limit {_mib(limits.max_entry_bytes)} per file)"
                )
            ratio = info.file_size / max(1, info.compress_size)
            if info.file_size > limits.ratio_min_bytes and ratio > limits.max_compression_ratio:
                raise MediaError(
                    f"Archive entry {info.filename!r} has a compression ratio of {ratio:,.0f}:1, over "
                    f"the limit of {limits.max_compression_ratio:g}:1; it looks like a zip bomb"
                )
            total += info.file_size
            if total > limits.max_total_bytes:
                raise MediaError(
                    f"Archive '{path.name}' expands to more than {_mib(limits.max_total_bytes)}, too large"
                )
        selected.append(info)
    return selected


def _copy_counted(source, target, name: str, budget: int, declared: int) -> int:
    """Copy a member stream, refusing more bytes than it declared or than the budget allows."""
    written = 0
    while chunk := source.read(_CHUNK):
        written += len(chunk)
        if written > declared:
            raise MediaError(f"Archive entry {name!r} holds more data than its header declares")
        if written > budget:
            raise MediaError("The archive expands to more data than the limit allows, too large")
        target.write(chunk)
    return written


def extract_zip(
    path: str | os.PathLike,
    target: str | os.PathLike,
    limits: ArchiveLimits | None = None,
) -> ExtractedArchive:
    """Extract the zip at ``path`` into the new folder ``target``, safely.

    ``target`` must not exist yet (its parent is created); it appears only once the whole archive
    was extracted. Entries are checked by :func:`check_zip` first.

    Raises:
        MediaError: the archive breaks a rule (see the module docstring) or ``target`` exists.
    """
    limits = limits or DEFAULT_ARCHIVE_LIMITS
    path, target = Path(path), Path(target)
    if target.exists():
        raise MediaError(f"Extraction folder {target} already exists; choose a new folder")
    entries = check_zip(path, limits)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    root = staging.resolve()
    files: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            skipped = [info.filename for info in archive.infolist() if info.filename.startswith(SKIPPED_PREFIXES)]
            for info in entries:
                member = safe_member_path(info.filename)
                destination = (staging / member).resolve()
                if not destination.is_relative_to(root):
                    raise MediaError(f"Archive entry {info.filename!r} would escape the extraction folder")
                if _entry_kind(info) == "dir":
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "xb") as handle:
                    total += _copy_counted(
                        source, handle, info.filename, limits.max_total_bytes - total, info.file_size
                    )
                files.append(member)
        os.replace(staging, target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise MediaError(f"Could not extract '{path.name}': {err}") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Extracted %d files (%s) from %s into %s", len(files), _mib(total), path.name, target)
    return ExtractedArchive(root=target, files=[target / f for f in files], total_bytes=total, skipped=skipped)
