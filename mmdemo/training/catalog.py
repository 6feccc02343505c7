"""Saved fusion heads on disk: finding them in folders, naming them, and loading each once.

A head folder is one that holds :data:`mmdemo.training.head.CONFIG_FILE` (``head.json``, written by
:meth:`FusionHead.save <mmdemo.training.head.FusionHead.save>`). :func:`find_heads` finds them at
or below a folder (a run's ``heads/``, the bundled ``assets/models/bundled/heads``, a folder of
runs); :func:`available_heads` names the bundled ones ``bundled/<folder>`` and adds the caller's;
:func:`head_name` names a newly trained head by what it is (data, tasks, strategy, date);
:func:`describe_heads` reads what a chooser shows (test accuracy beside each name) and
:func:`best_head` picks the best head of the newest run; :class:`HeadCache` keeps the loaded heads
so that a head is read from disk once per process.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mmdemo.errors import IncompatibleError, UnknownModelError
from mmdemo.registry import BUNDLED_DIR
from mmdemo.storage import read_json
from mmdemo.training.head import CONFIG_FILE, FusionHead

BUNDLED_HEADS_DIR = BUNDLED_DIR / "heads"
BUNDLED_PREFIX = "bundled/"


def is_head_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a saved head's folder (it holds ``head.json``)."""
    return (Path(path) / CONFIG_FILE).is_file()


def find_heads(folder: str | os.PathLike) -> list[Path]:
    """The head folders at or below ``folder``.

    ``[folder]`` when it is a head folder; otherwise every head folder beneath it, at any depth,
    depth-first in sorted order (a head folder's own subfolders are not searched, and a folder
    reached twice through links is searched once). Empty when ``folder`` holds no head or does
    not exist.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def visit(path: Path) -> None:
        if is_head_folder(path):
            found.append(path)
            return
        real = path.resolve()
        if real in seen or not path.is_dir():
            return
        seen.add(real)
        for child in sorted(path.iterdir()):
            if child.is_dir():
                visit(child)

    visit(Path(folder))
    return found


def named_heads(folder: str | os.PathLike, prefix: str = "") -> dict[str, Path]:
    """Name -> folder for each head under ``folder``; a name is ``prefix`` + its path below ``folder``."""
    folder = Path(folder)
    return {prefix + (head.relative_to(folder).as_posix() if head != folder else folder.name): head
            for head in find_heads(folder)}


def available_heads(extra: Mapping[str, str | os.PathLike] | None = None) -> dict[str, str]:
    """Name -> folder: the bundled heads (``bundled/<folder>``), then ``extra`` (e.g. a visitor's own)."""
    heads = {name: str(path) for name, path in named_heads(BUNDLED_HEADS_DIR, BUNDLED_PREFIX).items()}
    heads.update({name: str(path) for name, path in (extra or {}).items()})
    return heads


def resolve_head(name: str, heads: Mapping[str, str | os.PathLike]) -> Path:
    """The folder of the head called ``name`` among ``heads``; UnknownModelError naming the choices."""
    if name not in heads:
        choices = ", ".join(heads) or "none"
        raise UnknownModelError(f"Unknown fusion head {name!r}; available: {choices}")
    return Path(heads[name])


def head_name(source: str, tasks: list[str], strategy: str, when: datetime) -> str:
    """A trained head's name by what it is: ``"bundled world · claim, verdict · concat · 2026-12-01 13:05:07"``."""
    return f"{source} · {', '.join(tasks)} · {strategy} · {when:%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class HeadInfo:
    """What a head chooser shows of a saved head, read from its ``head.json`` (no weights loaded).

    Attributes:
        name: the head's name (the value a caller passes back).
        folder: the head's folder; its parent (a run's ``heads/``) is the run it belongs to.
        strategy: the fusion strategy.
        tasks: the head's tasks.
        test_accuracy: test accuracy, mean over its tasks (None when the head was saved unscored).
        created: ISO time of creation ("" if unknown).
    """

    name: str
    folder: Path
    strategy: str
    tasks: list[str]
    test_accuracy: float | None
    created: str

    @property
    def label(self) -> str:
        """The name with its test score beside it, first (a long name is cut at the chooser's edge)."""
        if self.test_accuracy is None:
            return f"not scored · {self.name}"
        return f"test accuracy {self.test_accuracy:.2f} · {self.name}"


def describe_head(name: str, folder: str | os.PathLike) -> HeadInfo:
    """The :class:`HeadInfo` of the head called ``name`` saved in ``folder`` (a folder without a
    readable ``head.json`` is described as unscored, so a chooser can still list it)."""
    folder = Path(folder)
    try:
        data = read_json(folder / CONFIG_FILE)
    except (OSError, ValueError):
        data = {}
    metrics = data.get("metrics") or {}
    scores = [m.get("accuracy") for m in metrics.values() if isinstance(m, dict)]
    scores = [float(s) for s in scores if isinstance(s, (int, float)) and not math.isnan(s)]
    return HeadInfo(
        name=name, folder=folder, strategy=str(data.get("strategy", "")), tasks=list(data.get("label_names") or {}),
        test_accuracy=sum(scores) / len(scores) if scores else None, created=str(data.get("created", "")),
    )


def describe_heads(heads: Mapping[str, str | os.PathLike]) -> list[HeadInfo]:
    """One :class:`HeadInfo` per head of ``heads`` (name -> folder), in its order."""
    return [describe_head(name, folder) for name, folder in heads.items()]


def best_head(heads: list[HeadInfo]) -> str | None:
    """The name of the best head (highest test accuracy; unscored heads last, then the earliest)
    of the newest run: the run (a run's ``heads/`` folder) of the last head listed. None when empty."""
    if not heads:
        return None
    newest = heads[-1].folder.parent
    run = [head for head in heads if head.folder.parent == newest]
    return max(run, key=lambda h: -math.inf if h.test_accuracy is None else h.test_accuracy).name


MAX_LOADED_HEADS = 64  # heads kept loaded at once; the least recently used is dropped first


class HeadCache:
    """Loaded heads by folder, each read from disk once, at most ``max_heads`` at a time (least
    recently used dropped); a head whose folder was removed (e.g. an old Fusion Lab run, see
    :mod:`mmdemo.retention`) is dropped too. Safe to share between threads."""

    def __init__(self, max_heads: int = MAX_LOADED_HEADS) -> None:
        self._heads: OrderedDict[Path, FusionHead] = OrderedDict()
        self._lock = threading.Lock()
        self.max_heads = max_heads

    def load(self, folder: str | os.PathLike) -> FusionHead:
        """The head saved in ``folder`` (IncompatibleError when it is not, or no longer, a head folder)."""
        key = Path(folder).resolve()
        if not key.is_dir():
            with self._lock:
                self._heads.pop(key, None)
            raise IncompatibleError(f"The fusion head {key.name!r} is no longer on the server (old Fusion Lab runs "
                                    "are removed after a while); train it again in the Fusion Lab.")
        with self._lock:
            head = self._heads.get(key)
            if head is None:
                head = self._heads[key] = FusionHead.load(key)
            self._heads.move_to_end(key)
            while len(self._heads) > self.max_heads:
                self._heads.popitem(last=False)
            return head

    def clear(self) -> None:
        with self._lock:
            self._heads.clear()

    def __len__(self) -> int:
        return len(self._heads)


HEADS = HeadCache()
"""The process-wide cache that :func:`load_head` uses."""


def load_head(folder: str | os.PathLike) -> FusionHead:
    """The head saved in ``folder``, from the process-wide cache."""
    return HEADS.load(folder)
