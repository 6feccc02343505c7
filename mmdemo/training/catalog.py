"""Saved fusion heads on disk: finding them in folders, naming them, and loading each once.

A head folder is one that holds :data:`mmdemo.training.head.CONFIG_FILE` (``head.json``, written by
:meth:`FusionHead.save <mmdemo.training.head.FusionHead.save>`). :func:`find_heads` finds them at
or below a folder (a run's ``heads/``, the bundled ``assets/models/bundled/heads``, a folder of
runs); :func:`available_heads` names the bundled ones ``bundled/<folder>`` and adds the caller's;
:class:`HeadCache` keeps the loaded heads so that a head is read from disk once per process.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from mmdemo.errors import IncompatibleError, UnknownModelError
from mmdemo.registry import BUNDLED_DIR
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
