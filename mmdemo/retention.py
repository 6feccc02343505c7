"""Bounded disk: which Fusion Lab runs are kept, and least-recently-used eviction for folders of
small cache files (the embedding cache).

Runs: every entry under a runs folder (one folder per run, and each generated world under
``worlds/``) is kept or removed by a :class:`RunsPolicy`: entries older than ``max_age_seconds``
go, then all but the ``max_runs`` most recent runs (protected runs take their places first), then
the oldest until the folder holds at most ``max_bytes``. Protected entries (a live visitor's
latest run) are counted but never removed.

Removal is crash-safe: an entry is first renamed to a ``.trash-*`` name in the same folder (one
atomic rename, after which nothing looks for it under its old name), then deleted; a process
killed in between leaves a ``.trash-*`` folder that :func:`clean_leftovers` removes at the next
start. The same function removes the ``.*.tmp`` files an interrupted atomic write
(:mod:`mmdemo.storage`) leaves behind; those never carry a final name, so nothing reads them.

Cache eviction (:func:`evict_lru`) removes the files with the oldest modification time first; a
cache marks an entry used by touching it (:func:`touch`). Unlinking is atomic, and a reader that
already opened a file keeps reading it, so eviction is safe while other threads or processes read.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

MIB = 1 << 20
TRASH_PREFIX = ".trash-"
WORLDS_DIR = "worlds"  # where the Fusion Lab writes generated worlds (mmdemo.lab.world_manifest)
# Only folders named as the Fusion Lab names them are ever removed, so a --runs-dir pointed at a
# folder holding anything else loses nothing else: runs (webapp/tabs/fusion_lab.py) and worlds
# (mmdemo.training.sources.world_manifest).
RUN_NAME = re.compile(r"[0-9a-f]{12}")
WORLD_NAME = re.compile(r"world-seed\d+-n\d+")
# Temporary files younger than this may belong to a write in progress in another process.
TEMP_GRACE_SECONDS = 600.0


@dataclass(frozen=True)
class RunsPolicy:
    """How many Fusion Lab runs a runs folder keeps.

    Attributes:
        max_runs: most runs kept (generated worlds are not runs and do not count; default 50).
        max_bytes: most bytes the whole folder may hold, worlds included (default 1 GiB).
        max_age_seconds: entries not modified for longer are removed (default 24 hours).
    """

    max_runs: int = 50
    max_bytes: int = 1024 * MIB
    max_age_seconds: float = 24 * 3600.0


@dataclass(frozen=True)
class RunEntry:
    """One entry of a runs folder: its path, total bytes, newest modification time, and whether
    it is a generated world (not a run)."""

    path: Path
    bytes: int
    modified: float
    world: bool = False


@dataclass
class RetentionReport:
    """What one pass removed and what the folder holds afterwards."""

    removed: list[Path] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    kept: int = 0


def tree_size(path: Path) -> tuple[int, float]:
    """(bytes of every file under ``path``, newest modification time of ``path`` or anything in it)."""
    total, newest = 0, 0.0
    try:
        newest = path.stat().st_mtime
    except FileNotFoundError:
        return 0, 0.0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.stat(os.path.join(folder, name), follow_symlinks=False)
            except FileNotFoundError:
                continue
            total += stat.st_size
            newest = max(newest, stat.st_mtime)
    return total, newest


def run_entries(runs_dir: str | os.PathLike) -> list[RunEntry]:
    """Every run and generated world under ``runs_dir``, newest first (trash is not listed)."""
    root = Path(runs_dir)
    candidates: list[tuple[Path, bool]] = []
    if root.is_dir():
        for child in root.iterdir():
            if not child.is_dir() or child.is_symlink():
                continue
            if child.name == WORLDS_DIR:
                candidates += [(world, True) for world in child.iterdir()
                               if world.is_dir() and not world.is_symlink() and WORLD_NAME.fullmatch(world.name)]
            elif RUN_NAME.fullmatch(child.name):
                candidates.append((child, False))
    entries = [RunEntry(path, *tree_size(path), world=world) for path, world in candidates]
    return sorted(entries, key=lambda entry: entry.modified, reverse=True)


def remove_tree(path: Path) -> None:
    """Delete ``path`` crash-safely: rename it to a ``.trash-*`` sibling, then delete that."""
    trash = path.with_name(f"{TRASH_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def apply_runs_policy(runs_dir: str | os.PathLike, policy: RunsPolicy, protected: Iterable[Path] = (),
                      now: float | None = None) -> RetentionReport:
    """Remove the entries of ``runs_dir`` that ``policy`` does not keep; ``protected`` paths (and
    anything inside them) are never removed. Call it while no run is being written."""
    now = time.time() if now is None else now
    keep = {Path(path).resolve() for path in protected}

    def is_protected(entry: RunEntry) -> bool:
        resolved = entry.path.resolve()
        return any(resolved == p or resolved in p.parents for p in keep)

    entries = run_entries(runs_dir)
    report = RetentionReport(bytes_before=sum(e.bytes for e in entries))
    doomed: list[RunEntry] = []
    runs_seen = sum(1 for e in entries if not e.world and is_protected(e))  # protected runs take slots first
    for entry in entries:  # newest first
        if is_protected(entry):
            continue
        too_old = now - entry.modified > policy.max_age_seconds
        too_many = not entry.world and runs_seen >= policy.max_runs
        if too_old or too_many:
            doomed.append(entry)
        elif not entry.world:
            runs_seen += 1
    total = report.bytes_before - sum(e.bytes for e in doomed)
    for entry in reversed(entries):  # oldest first
        if total <= policy.max_bytes:
            break
        if entry in doomed or is_protected(entry):
            continue
        doomed.append(entry)
        total -= entry.bytes
    for entry in doomed:
        remove_tree(entry.path)
        report.removed.append(entry.path)
        logger.info("Removed Fusion Lab entry %s (%d bytes)", entry.path.name, entry.bytes)
    report.bytes_after = total
    report.kept = len(entries) - len(doomed)
    if total > policy.max_bytes:
        logger.warning("Runs folder %s holds %d bytes of protected runs, over its %d-byte limit",
                       runs_dir, total, policy.max_bytes)
    return report


# safetensors writes through Rust's tempfile crate (".tmp" + 6 random characters) before it lands under
# mmdemo.storage's own ".<name>.<random>.tmp": a process killed there leaves one of those.
_RUST_TEMP = re.compile(r"\.tmp[A-Za-z0-9]{6}")


def is_temp_name(name: str) -> bool:
    """True for the file names an interrupted atomic write leaves (mmdemo.storage's ``.*.tmp``, the
    ``.<key>.<random>.tmp`` folders of :mod:`mmdemo.runtimes.model_cache`, and the ``.tmpXXXXXX`` of
    safetensors' own temporary file)."""
    return (name.startswith(".") and name.endswith(".tmp")) or _RUST_TEMP.fullmatch(name) is not None


def clean_leftovers(root: str | os.PathLike, now: float | None = None,
                    temp_grace_seconds: float = TEMP_GRACE_SECONDS, pattern: str | None = None) -> int:
    """Remove what an interrupted clean-up or write left under ``root``: ``.trash-*`` folders and
    files (always) and temporary files (:func:`is_temp_name`) older than ``temp_grace_seconds``.
    Returns how many.

    ``pattern`` (e.g. ``"*/.*"`` for the cache's layout) removes only the temporary files among those
    it matches, and the temporary folders (:mod:`mmdemo.runtimes.model_cache` writes a converted model
    into one), nothing else; without it every folder under ``root`` is searched (a runs folder)."""
    now = time.time() if now is None else now
    base = Path(root)
    if not base.is_dir():
        return 0
    removed = 0
    if pattern is not None:
        for path in base.glob(pattern):
            try:
                if not is_temp_name(path.name) or path.is_symlink() or now - path.stat().st_mtime < temp_grace_seconds:
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed
    for folder, dirs, files in os.walk(base):
        for name in list(dirs):
            if name.startswith(TRASH_PREFIX):
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
                dirs.remove(name)
                removed += 1
        for name in files:
            path = os.path.join(folder, name)
            stale_temp = is_temp_name(name)
            if name.startswith(TRASH_PREFIX) or stale_temp:
                try:
                    if stale_temp and now - os.stat(path).st_mtime < temp_grace_seconds:
                        continue
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    continue
    if removed:
        logger.info("Removed %d leftover(s) of an interrupted write or clean-up under %s", removed, base)
    return removed


def clean_runs_leftovers(runs_dir: str | os.PathLike) -> int:
    """At start: remove the ``.trash-*`` folders of an interrupted :func:`remove_tree` and the
    temporary files (``*.tmp``) inside runs and worlds, touching nothing else under ``runs_dir``.
    Returns how many were removed."""
    root = Path(runs_dir)
    removed = 0
    for folder in (root, root / WORLDS_DIR):
        for trash in folder.glob(f"{TRASH_PREFIX}*") if folder.is_dir() else []:
            shutil.rmtree(trash, ignore_errors=True) if trash.is_dir() else trash.unlink(missing_ok=True)
            removed += 1
    for entry in run_entries(root):
        for path in entry.path.rglob("*.tmp"):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        logger.info("Removed %d leftover(s) of an interrupted run, write or clean-up under %s", removed, root)
    return removed


@dataclass
class EvictionReport:
    """What one eviction pass removed: how many files, and the bytes before and after."""

    removed: int
    bytes_before: int
    bytes_after: int


def cache_files(root: str | os.PathLike, pattern: str = "*/*.safetensors",
                patterns: tuple[str, ...] | None = None) -> list[tuple[float, int, Path]]:
    """(modification time, bytes, path) of every cache file (matching ``pattern``, or any of
    ``patterns`` when given), oldest first."""
    found = []
    for path in (p for glob in (patterns or (pattern,)) for p in Path(root).glob(glob)):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((stat.st_mtime, stat.st_size, path))
    return sorted(found)


def evict_lru(root: str | os.PathLike, max_bytes: int, target_fraction: float = 0.8,
              pattern: str = "*/*.safetensors", patterns: tuple[str, ...] | None = None) -> EvictionReport:
    """If the files under ``root`` (see :func:`cache_files`) hold more than ``max_bytes``, remove the
    least recently used (oldest modification time) until they hold at most ``target_fraction * max_bytes``."""
    files = cache_files(root, pattern, patterns)
    total = before = sum(size for _, size, _ in files)
    removed = 0
    if total > max_bytes:
        target = int(max_bytes * target_fraction)
        for _, size, path in files:
            if total <= target:
                break
            try:
                path.unlink()
            except FileNotFoundError:  # another process evicted it first
                pass
            total -= size
            removed += 1
        logger.info("Evicted %d cache file(s) under %s: %d -> %d bytes (limit %d)", removed, root,
                    before, total, max_bytes)
    return EvictionReport(removed, before, total)


def touch(path: Path) -> None:
    """Mark a cache file as just used (its modification time is the eviction order)."""
    try:
        os.utime(path)
    except FileNotFoundError:  # evicted meanwhile: the next lookup misses
        pass
